package dev.loupe.patching;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

import dev.loupe.hook.ActNames;
import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.KvCache;
import dev.loupe.model.ModelConfig;
import dev.loupe.patching.PatchedRuns.Patch;
import dev.loupe.tensor.MemoryBudget;
import dev.loupe.tensor.Tensors;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.IntFunction;

/**
 * Activation patching sweeps, TransformerLens's {@code get_act_patch_*}: run the model on {@code tokens} with one
 * slice of one activation replaced by its value in {@code source}, for every layer and position (or head), and
 * record {@code metric(logits)}. With tokens = corrupted and source = the clean run's cache, this is denoising
 * (does restoring this activation restore the behaviour?); with tokens = clean and source = a corrupted cache,
 * noising (does breaking it break the behaviour?).
 *
 * <p>A patch at layer l and position p cannot change anything below l or before p, so it runs blocks l.. on positions
 * p.. only, from the target run's {@code resid_pre} there, attending to the target run's keys and values of the
 * positions before p. Patches at one position (or a few neighbouring ones, run from the first where small batches
 * would cost more than the extra positions) run as one batch (patch index folded into the batch dimension) that grows
 * as the layers advance, each layer's patches joining it at their layer, in chunks that fit the {@link MemoryBudget}.
 * The batches of a chunk run side by side, block by block; patches of {@code resid_pre} are written into the rows
 * before they join, so those batches run packed into one sequence that shares each block's matrix products. A metric
 * that reads one position per prompt ({@link Metrics.AtPositions}) gets only those positions unembedded, once for many
 * chunks. While hooks are attached (a steering vector, an SAE) patches run on every position, as the
 * hooks expect. The result equals one forward pass per patch.
 */
public final class Patching {

    private Patching() {}

    /** Which slice of an activation one patch replaces. */
    enum Slice { POSITION, HEAD, POSITION_AND_HEAD }

    /**
     * The patches of one layer: cell i patches position {@code position(i)} (when positions are patched one by one)
     * of head {@code head(i)} (when heads are), among {@code heads} of the layer. For an activation [batch, pos, n]
     * the "heads" are entries of its last axis: features or neurons.
     */
    record Cells(Slice slice, int positions, int[] heads) {
        int count() {
            return switch (slice) {
                case POSITION -> positions;
                case HEAD -> heads.length;
                case POSITION_AND_HEAD -> positions * heads.length;
            };
        }

        int position(int cell) {
            return slice == Slice.POSITION ? cell : slice == Slice.POSITION_AND_HEAD ? cell / heads.length : 0;
        }

        int head(int cell) {
            return slice == Slice.HEAD ? heads[cell] : slice == Slice.POSITION_AND_HEAD ? heads[cell % heads.length] : 0;
        }

        static Cells of(Slice slice, int positions, int nHeads) {
            return new Cells(slice, positions, java.util.stream.IntStream.range(0, nHeads).toArray());
        }
    }

    /** Residual stream before each block, by [layer, pos]. */
    public static PatchingResult residPre(HookedTransformer model, NDArray tokens, ActivationCache source,
                                          Function<NDArray, NDArray> metric) {
        return sweep(model, tokens, source, metric, "resid_pre", Slice.POSITION);
    }

    /** Residual stream between attention and MLP, by [layer, pos]. */
    public static PatchingResult residMid(HookedTransformer model, NDArray tokens, ActivationCache source,
                                          Function<NDArray, NDArray> metric) {
        return sweep(model, tokens, source, metric, "resid_mid", Slice.POSITION);
    }

    /** Residual stream after each block, by [layer, pos]. */
    public static PatchingResult residPost(HookedTransformer model, NDArray tokens, ActivationCache source,
                                           Function<NDArray, NDArray> metric) {
        return sweep(model, tokens, source, metric, "resid_post", Slice.POSITION);
    }

    /** Attention layer outputs, by [layer, pos]. */
    public static PatchingResult attnOut(HookedTransformer model, NDArray tokens, ActivationCache source,
                                         Function<NDArray, NDArray> metric) {
        return sweep(model, tokens, source, metric, "attn_out", Slice.POSITION);
    }

    /** MLP layer outputs, by [layer, pos]. */
    public static PatchingResult mlpOut(HookedTransformer model, NDArray tokens, ActivationCache source,
                                        Function<NDArray, NDArray> metric) {
        return sweep(model, tokens, source, metric, "mlp_out", Slice.POSITION);
    }

    /** resid_pre, attn_out and mlp_out, each by [layer, pos]: TransformerLens's {@code get_act_patch_block_every}. */
    public static List<PatchingResult> blockEvery(HookedTransformer model, NDArray tokens, ActivationCache source,
                                                  Function<NDArray, NDArray> metric) {
        return List.of(residPre(model, tokens, source, metric), attnOut(model, tokens, source, metric),
                mlpOut(model, tokens, source, metric));
    }

    /** Each head's output (hook_z) at every position at once, by [layer, head]. */
    public static PatchingResult headOutAllPos(HookedTransformer model, NDArray tokens, ActivationCache source,
                                               Function<NDArray, NDArray> metric) {
        return sweep(model, tokens, source, metric, "z", Slice.HEAD);
    }

    /** Each head's output at each position, by [layer, pos, head]. */
    public static PatchingResult headOutByPos(HookedTransformer model, NDArray tokens, ActivationCache source,
                                              Function<NDArray, NDArray> metric) {
        return sweep(model, tokens, source, metric, "z", Slice.POSITION_AND_HEAD);
    }

    /**
     * The output of each of {@code heads} at each position, by [head, pos] in the order given: the heads an all-positions
     * sweep picked out, at a fraction of the cost of every head (GPT-2 small: 144 heads).
     */
    public static PatchingResult headOutByPos(HookedTransformer model, NDArray tokens, ActivationCache source,
                                              Function<NDArray, NDArray> metric, List<PathPatching.Head> heads) {
        if (heads.isEmpty()) {
            throw new IllegalArgumentException("Name at least one head to patch position by position");
        }
        ModelConfig cfg = model.config();
        for (PathPatching.Head h : heads) {
            if (h.layer() < 0 || h.layer() >= cfg.nLayers() || h.head() < 0 || h.head() >= cfg.nHeads()) {
                throw new IllegalArgumentException("Head " + h + " is not in " + cfg.modelName() + " (" + cfg.nLayers()
                        + " layers of " + cfg.nHeads() + " heads)");
            }
        }
        int pos = (int) tokens.getShape().get(1);
        double[][] byLayer = runLayers(model, tokens, source, metric, "z", layer -> ActNames.actName("z", layer),
                layer -> new Cells(Slice.POSITION_AND_HEAD, pos, headsIn(heads, layer)));
        double[] values = new double[heads.size() * pos];
        for (int i = 0; i < heads.size(); i++) {
            PathPatching.Head h = heads.get(i);
            int[] inLayer = headsIn(heads, h.layer());
            int column = java.util.Arrays.stream(inLayer).boxed().toList().indexOf(h.head());
            for (int p = 0; p < pos; p++) {
                values[i * pos + p] = byLayer[h.layer()][p * inLayer.length + column];
            }
        }
        return new PatchingResult("Patching z by position", Tensors.ofDoubles(values, new Shape(heads.size(), pos)),
                List.of("head", "pos"), List.of(heads.stream().map(PathPatching.Head::toString).toList(),
                        positionLabels(model, tokens, pos)));
    }

    /**
     * Each of {@code features} at each position of any activation [batch, pos, n] inside a block, by [feature, pos]: an
     * SAE's {@code <hook>.hook_sae_acts_post} (spliced with its error term, patching a feature moves the activation
     * by exactly its change times its decoder row), MLP neurons ({@code blocks.L.mlp.hook_post}), or a residual
     * direction's coordinates. Each cell replaces one entry, one position of one feature, by its value in
     * {@code source}; cells run batched from the target run's residual stream before the hook's block, as the layer
     * sweeps do, and equal one forward pass per patch.
     */
    public static PatchingResult features(HookedTransformer model, NDArray tokens, ActivationCache source,
                                          Function<NDArray, NDArray> metric, String hookName, int[] features) {
        int layer = ActNames.layerOf(hookName);
        if (layer < 0) {
            throw new IllegalArgumentException("Feature patching runs from the residual stream before the hook's block;"
                    + " " + hookName + " is not inside a block (blocks.L....)");
        }
        if (source.contains(hookName)) {
            Shape s = source.get(hookName).getShape();
            if (s.dimension() != 3) {
                throw new IllegalArgumentException("Features are the last axis of an activation [batch, pos, n]; "
                        + hookName + " has shape " + s);
            }
            for (int f : features) {
                if (f < 0 || f >= s.get(2)) {
                    throw new IllegalArgumentException("Feature " + f + " is not in " + hookName + ", which has " + s.get(2)
                            + " (shape " + s + ")");
                }
            }
        }
        if (features.length == 0) {
            throw new IllegalArgumentException("Name at least one feature to patch");
        }
        int pos = (int) tokens.getShape().get(1);
        Cells cells = new Cells(Slice.POSITION_AND_HEAD, pos, features);
        Cells none = new Cells(Slice.POSITION_AND_HEAD, pos, new int[0]);
        double[] byPosition = runLayers(model, tokens, source, metric, hookName, l -> hookName,
                l -> l == layer ? cells : none)[layer];
        double[] values = new double[features.length * pos];
        for (int i = 0; i < features.length; i++) {
            for (int p = 0; p < pos; p++) {
                values[i * pos + p] = byPosition[p * features.length + i];
            }
        }
        List<String> names = java.util.Arrays.stream(features).mapToObj(f -> "F" + f).toList();
        return new PatchingResult("Patching features of " + hookName, Tensors.ofDoubles(values, new Shape(features.length, pos)),
                List.of("feature", "pos"), List.of(names, positionLabels(model, tokens, pos)));
    }

    private static int firstLayerWithCells(ModelConfig cfg, IntFunction<Cells> cellsOf) {
        for (int l = 0; l < cfg.nLayers(); l++) {
            if (cellsOf.apply(l).count() > 0) {
                return l;
            }
        }
        return 0;
    }

    /** The head indices of {@code layer} among {@code heads}, each once, in the order given. */
    private static int[] headsIn(List<PathPatching.Head> heads, int layer) {
        return heads.stream().filter(h -> h.layer() == layer).mapToInt(PathPatching.Head::head).distinct().toArray();
    }

    /**
     * Each head's queries, keys or values ("q", "k", "v"), or its attention pattern ("pattern"), by [layer, head]. With
     * grouped-query attention, keys and values are by [layer, key/value head] (labelled KV0, KV1, ...): each is one
     * array shared by its group of query heads, so patching it patches the group.
     */
    public static PatchingResult headAllPos(String which, HookedTransformer model, NDArray tokens, ActivationCache source,
                                            Function<NDArray, NDArray> metric) {
        return sweep(model, tokens, source, metric, headActivation(which), Slice.HEAD);
    }

    /**
     * Each head's queries, keys, values, output ("q", "k", "v", "z") or attention pattern ("pattern", by query position)
     * at each position, by [layer, pos, head], TransformerLens's {@code get_act_patch_attn_head_*_by_pos}; keys and
     * values by key/value head, as {@link #headAllPos}.
     */
    public static PatchingResult headByPos(String which, HookedTransformer model, NDArray tokens, ActivationCache source,
                                           Function<NDArray, NDArray> metric) {
        return sweep(model, tokens, source, metric, headActivation(which), Slice.POSITION_AND_HEAD);
    }

    private static String headActivation(String which) {
        if (!List.of("q", "k", "v", "pattern", "z").contains(which)) {
            throw new IllegalArgumentException("Head activations are q, k, v, z or pattern; got '" + which + "'");
        }
        return which;
    }

    /** Every head activation at once, TransformerLens's {@code get_act_patch_attn_head_all_pos_every}: [5, layer, head]. */
    public static List<PatchingResult> headAllPosEvery(HookedTransformer model, NDArray tokens, ActivationCache source,
                                                       Function<NDArray, NDArray> metric) {
        List<PatchingResult> all = new ArrayList<>();
        for (String which : List.of("z", "q", "k", "v", "pattern")) {
            all.add(headAllPos(which, model, tokens, source, metric));
        }
        return all;
    }

    private static PatchingResult sweep(HookedTransformer model, NDArray tokens, ActivationCache source,
                                        Function<NDArray, NDArray> metric, String act, Slice slice) {
        ModelConfig cfg = model.config();
        int pos = (int) tokens.getShape().get(tokens.getShape().dimension() - 1);
        // With grouped-query attention keys and values have fewer heads, each shared by a group of query heads.
        boolean keyValue = act.equals("k") || act.equals("v");
        int heads = keyValue ? cfg.nKeyValueHeads() : cfg.nHeads();
        Cells cells = Cells.of(slice, pos, heads);
        double[][] byLayer = runLayers(model, tokens, source, metric, act, layer -> ActNames.actName(act, layer), layer -> cells);
        double[] values = new double[cfg.nLayers() * cells.count()];
        for (int l = 0; l < cfg.nLayers(); l++) {
            System.arraycopy(byLayer[l], 0, values, l * cells.count(), cells.count());
        }
        Shape shape = slice == Slice.POSITION_AND_HEAD ? new Shape(cfg.nLayers(), pos, heads) : new Shape(cfg.nLayers(), cells.count());
        List<String> axes = switch (slice) {
            case POSITION -> List.of("layer", "pos");
            case HEAD -> List.of("layer", "head");
            case POSITION_AND_HEAD -> List.of("layer", "pos", "head");
        };
        List<List<String>> labels = new ArrayList<>();
        labels.add(numbered("", cfg.nLayers()));
        if (slice != Slice.HEAD) {
            labels.add(positionLabels(model, tokens, pos));
        }
        if (slice != Slice.POSITION) {
            labels.add(numbered(keyValue && cfg.groupedQuery() ? "KV" : "H", heads));
        }
        String title = "Patching " + act + (slice == Slice.HEAD ? " (all positions)" : "");
        return new PatchingResult(title, Tensors.ofDoubles(values, shape), axes, labels);
    }

    /**
     * The metric after each cell of each layer ({@code cellsOf(layer)}, none in some layers), patching hook point
     * {@code nameOf(layer)}; {@code act} names the work in errors and progress. Patches whose runs start at the same
     * position share batches, and a chunk of patches that fits the budget runs its batches side by side (see
     * {@link PatchedRuns#patched}).
     */
    private static double[][] runLayers(HookedTransformer model, NDArray tokens, ActivationCache source,
                                        Function<NDArray, NDArray> metric, String act, IntFunction<String> nameOf,
                                        IntFunction<Cells> cellsOf) {
        ModelConfig cfg = model.config();
        check(model, tokens, source, metric, act, nameOf.apply(firstLayerWithCells(cfg, cellsOf)));
        long batch = tokens.getShape().get(0);
        int pos = (int) tokens.getShape().get(tokens.getShape().dimension() - 1);
        long[] unembedAt = Metrics.positionsRead(metric, tokens.getShape());
        MemoryBudget budget = MemoryBudget.forWork("Patching " + act);
        budget.requireUnitFits(PatchedRuns.copyLowerBound(cfg, source.logits().getDataType(), batch, pos, unembedAt != null),
                "patched copy of the batch (" + batch + " prompts of " + pos + " positions)");
        budget.atMost(PatchedRuns.copyUpperBound(cfg, source.logits().getDataType(), batch, pos, unembedAt != null));
        // A patch at position p changes nothing before p, so it runs on positions from p (or from a nearby earlier
        // position its batch shares) on; hooks the caller attached would see those shorter sequences, so with any
        // attached every patch runs on every position.
        boolean fromPatchedPosition = model.activeHook().isEmpty();
        boolean packed = fromPatchedPosition && PatchedRuns.packable(nameOf, cfg.nLayers());
        int[] startAt = fromPatchedPosition ? PatchedRuns.starts(cfg.nLayers(), pos, batch, cellsOf,
                packed ? PatchedRuns.packedRunPositions : PatchedRuns.blockRunPositions) : new int[pos];
        double[][] values = new double[cfg.nLayers()][];
        Map<Integer, List<Patch>> byStart = new TreeMap<>(); // the first position first: its patches cost the most
        for (int l = 0; l < cfg.nLayers(); l++) {
            Cells cells = cellsOf.apply(l);
            values[l] = new double[cells.count()];
            for (int c = 0; c < cells.count(); c++) {
                int start = startAt[cells.position(c)];
                byStart.computeIfAbsent(start, k -> new ArrayList<>()).add(new Patch(l, c, start));
            }
        }
        // What each block received, before hooks or SAEs at its resid_pre acted: the patched runs pass it through them.
        // The same run leaves its keys and values for the runs from later positions.
        KvCache keysValues = fromPatchedPosition ? model.newKvCache() : null;
        try (ActivationCache target = model.runWithInputCache(tokens, n -> n.endsWith("hook_resid_pre"), keysValues,
                unembedAt);
             SweepProgress progress = new SweepProgress("patching " + act, byStart.values().stream().mapToLong(List::size).sum())) {
            PatchedRuns runs = new PatchedRuns(model, target, keysValues, packed, source, nameOf, cellsOf, batch, unembedAt,
                    metric);
            // A metric that reads one position per prompt: each chunk keeps the residual stream there, and the final
            // norm and unembedding run once for many chunks, streaming the unembedding matrix once, not per chunk.
            PatchedRuns.ReadRows read = unembedAt == null ? null : runs.readRows(values, budget.bytes() / 4);
            // Chunks of the patches in (start, layer) order: the first, measured, holds the largest units.
            List<Patch> patches = byStart.values().stream().flatMap(List::stream).toList();
            int count;
            for (int first = 0; first < patches.size(); first += count) {
                count = budget.nextChunk(patches.size() - first);
                List<Patch> chunk = patches.subList(first, first + count);
                if (read != null) {
                    read.add(chunk, budget.measureFirst(count, () -> runs.residualRead(chunk)));
                } else {
                    double[] scores = budget.measureFirst(count, () -> runs.patched(chunk));
                    for (int i = 0; i < count; i++) {
                        values[chunk.get(i).layer()][chunk.get(i).cell()] = scores[i];
                    }
                }
                progress.advance(count);
            }
            if (read != null) {
                read.score();
            }
        }
        return values;
    }

    private static void check(HookedTransformer model, NDArray tokens, ActivationCache source,
                              Function<NDArray, NDArray> metric, String act, String first) {
        Shape s = tokens.getShape();
        Shape sourceLogits = source.logits().getShape();
        if (s.dimension() != 2 || s.get(0) != sourceLogits.get(0) || s.get(1) != sourceLogits.get(1)) {
            throw new IllegalArgumentException("The tokens have shape " + s + " but the source cache was made from tokens of shape ["
                    + sourceLogits.get(0) + ", " + sourceLogits.get(1) + "]; clean and corrupted prompts must have the same shape"
                    + " (pad or pick prompts whose names are single tokens).");
        }
        if (!HookedTransformer.parameterShapes(source.model().config()).equals(HookedTransformer.parameterShapes(model.config()))) {
            throw new IllegalArgumentException("The source cache was made by another model (" + source.model().config()
                    + ") than the one patched (" + model.config() + "); make it with runWithCache on the patched model.");
        }
        if (!source.contains(first)) {
            throw new IllegalArgumentException("The source cache has no " + first + "; make it with runWithCache(tokens) or a"
                    + " names filter that keeps " + act + ".");
        }
        NDArray value = metric.apply(source.logits());
        if (value == null) {
            throw new IllegalArgumentException("The metric returned null on the source run's logits; it must return a"
                    + " scalar array, e.g. logits -> Metrics.logitDiff(...).apply(logits).");
        }
        if (value.size() != 1) {
            throw new IllegalArgumentException("The metric must return a scalar; on the source run's logits it returned shape "
                    + value.getShape());
        }
    }

    static List<String> numbered(String prefix, int n) {
        List<String> labels = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            labels.add(prefix + i);
        }
        return labels;
    }

    /** Position labels with their tokens ("3: John") when the model has a tokenizer and the batch is one prompt. */
    private static List<String> positionLabels(HookedTransformer model, NDArray tokens, int pos) {
        if (model.tokenizer().isEmpty() || tokens.getShape().get(0) != 1) {
            return numbered("", pos);
        }
        List<String> strings = model.toStrTokens(tokens);
        List<String> labels = new ArrayList<>();
        for (int i = 0; i < pos; i++) {
            labels.add(i + ":" + strings.get(i));
        }
        return labels;
    }
}

package dev.loupe.tasks.ioi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.display.Displayable;
import dev.loupe.display.MimeBundle;
import dev.loupe.display.TableView;
import dev.loupe.hook.Hook;
import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookSession;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.patching.Ablations;
import dev.loupe.patching.Metrics;
import dev.loupe.patching.PatchingResult;
import dev.loupe.patching.PathPatching.Head;
import dev.loupe.patching.PathPatching;
import dev.loupe.tasks.ioi.IoiPrompt.Word;
import dev.loupe.tensor.Tensors;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;

/**
 * The measurements by which Wang et al. (2022) sorted GPT-2 small's heads into the IOI circuit, for any model: attention
 * between IOI positions, each head's direct logit attribution, copy scores, path patching from each head to the logits
 * and to chosen heads' queries, keys or values (the ABC distribution as the source), and the rules that turn these into
 * head classes. Every per-head result is a [layer, head] {@link PatchingResult}, shown as a labelled heatmap.
 *
 * <p>The rules ({@link #nameMovers}, ...) pick the heads whose effect is at least a given fraction of the strongest
 * effect of its sign in the same measurement (among the heads with the attention the class is defined by, where it has
 * one), and at least {@link #MIN_EFFECT}. A fraction, not a fixed cut-off, so that one rule serves GPT-2 small and a
 * 4-layer model alike. Effects are relative changes of the clean logit difference throughout.
 */
public final class IoiCircuit {

    /** Effects smaller than this (1% of the clean logit difference) count as noise, whatever the fraction. */
    public static final double MIN_EFFECT = 0.01;

    private IoiCircuit() {}

    /** TransformerLens's {@code ioi_eval}: the mean logit difference and the share of prompts where it is positive. */
    public record Eval(double logitDiff, double accuracy) {}

    /** Runs {@code model} on {@code data} and scores it as {@link Eval}. */
    public static Eval ioiEval(HookedTransformer model, IoiDataset data) {
        double[] diffs = data.logitDiffs(model.forward(data.tokens())).toType(DataType.FLOAT64, false).toDoubleArray();
        return new Eval(java.util.Arrays.stream(diffs).average().orElseThrow(),
                java.util.Arrays.stream(diffs).filter(d -> d > 0).count() / (double) diffs.length);
    }

    /** The mean logit difference of a run's logits on {@code data}. */
    public static double logitDiff(IoiDataset data, NDArray logits) {
        return data.logitDiffs(logits).mean().toType(DataType.FLOAT64, false).getDouble();
    }

    /**
     * Each head's attention from {@code from} to {@code to}, averaged over the prompts: [layer, head]. Needs the
     * cache's {@code hook_pattern}s.
     */
    public static PatchingResult attention(ActivationCache cache, IoiDataset data, Word from, Word to) {
        ModelConfig cfg = cache.model().config();
        NDList layers = new NDList();
        for (int l = 0; l < cfg.nLayers(); l++) {
            NDArray fromRow = data.at(cache.get("pattern", l), 2, from);   // [n, head, key]
            layers.add(data.at(fromRow, 2, to).mean(new int[] {0}));      // [head]
        }
        return byHead("Attention " + from + " → " + to, NDArrays.stack(layers), cfg);
    }

    /**
     * Each head's direct effect on logit(IO) − logit(S) at the last token: its output there, through the final layer
     * norm's cached scale (and weight, if not folded), onto W_U[IO] − W_U[S], averaged over the prompts. [layer, head]
     */
    public static PatchingResult directLogitAttribution(ActivationCache cache, IoiDataset data) {
        HookedTransformer model = cache.model();
        ModelConfig cfg = model.config();
        NDArray direction = unembedColumns(model, data.ioTokens()).sub(unembedColumns(model, data.sTokens())); // [n, d_model]
        NDArray scale = data.at(cache.get("ln_final.hook_scale"), 1, Word.END);                             // [n, 1]
        NDList layers = new NDList();
        for (int l = 0; l < cfg.nLayers(); l++) {
            NDArray z = data.at(cache.get("z", l), 1, Word.END);                        // [n, head, d_head]
            NDArray out = z.expandDims(2).matMul(model.W_O(l)).squeeze(2);              // [n, head, d_model]
            out = finalNorm(model, out.sub(out.mean(new int[] {-1}, true)).div(scale.expandDims(2)));
            layers.add(out.mul(direction.expandDims(1)).sum(new int[] {-1}).mean(new int[] {0})); // [head]
        }
        return byHead("Direct logit attribution (IO − S)", NDArrays.stack(layers), cfg);
    }

    /**
     * The direct logit attribution of each part of the residual stream at the last token: the embeddings, then each
     * layer's attention and MLP output, as {@link #directLogitAttribution} does per head. Together with the unembedding's
     * bias they add up to the logit difference. [component]
     */
    public static PatchingResult componentAttribution(ActivationCache cache, IoiDataset data) {
        HookedTransformer model = cache.model();
        ModelConfig cfg = model.config();
        List<String> labels = new ArrayList<>(List.of("embed"));
        if (cfg.positionalEmbedding() == ModelConfig.PositionalEmbedding.STANDARD) {
            labels.add("pos_embed");
        }
        for (int l = 0; l < cfg.nLayers(); l++) {
            labels.add(l + "_attn_out");
            if (!cfg.attnOnly()) {
                labels.add(l + "_mlp_out");
            }
        }
        NDArray direction = unembedColumns(model, data.ioTokens()).sub(unembedColumns(model, data.sTokens())); // [n, d_model]
        NDArray scale = data.at(cache.get("ln_final.hook_scale"), 1, Word.END);                             // [n, 1]
        NDList parts = new NDList();
        for (String label : labels) {
            String hook = label.startsWith("embed") || label.startsWith("pos") ? "hook_" + label
                    : "blocks." + label.substring(0, label.indexOf('_')) + ".hook" + label.substring(label.indexOf('_'));
            NDArray out = data.at(cache.get(hook), 1, Word.END);                                             // [n, d_model]
            out = finalNorm(model, out.sub(out.mean(new int[] {-1}, true)).div(scale));
            parts.add(out.mul(direction).sum(new int[] {-1}).mean());
        }
        return new PatchingResult("Direct logit attribution (IO − S) by component", NDArrays.stack(parts), List.of("component"),
                List.of(labels));
    }

    /**
     * The paper's copy score: the residual stream after block 0 at the IO and S1 positions, through head (l, h)'s layer
     * norm and OV circuit (negated for {@code negative}), the final layer norm and the unembedding; the share of those
     * names that come out among the {@code topK} tokens. Name movers score above 95% in GPT-2 small, an average head
     * below 20%. [layer, head]
     */
    public static PatchingResult copyScores(ActivationCache cache, IoiDataset data, boolean negative, int topK) {
        HookedTransformer model = cache.model();
        ModelConfig cfg = model.config();
        NDArray resid = cache.get("resid_post", 0);
        NDArray x = data.at(resid, 1, Word.IO).concat(data.at(resid, 1, Word.S1), 0);     // [2n, d_model]
        int[] names = concat(data.ioTokens(), data.sTokens());
        NDArray nameIds = Tensors.ofLongs(java.util.Arrays.stream(names).asLongStream().toArray(), new Shape(1, names.length, 1));
        NDList layers = new NDList();
        for (int l = 0; l < cfg.nLayers(); l++) {
            try (NDScope scope = new NDScope()) { // a layer's logits over the vocabulary are large: free them before the next
                NDArray normed = layerNorm(model, x, "blocks." + l + ".ln1");
                NDArray v = normed.matMul(model.W_V(l)).add(model.b_V(l).expandDims(1));      // [head, 2n, d_head]
                NDArray out = v.matMul(model.W_O(l));                                          // [head, 2n, d_model]
                if (negative) {
                    out = out.neg();
                }
                NDArray logits = finalNorm(model, out.sub(out.mean(new int[] {-1}, true))).matMul(model.W_U()); // [head, 2n, vocab]
                NDArray own = logits.gather(nameIds.broadcast(new Shape(cfg.nHeads(), names.length, 1)), 2);     // [head, 2n, 1]
                NDArray above = logits.gt(own).toType(DataType.INT32, false).sum(new int[] {-1});              // [head, 2n]
                NDArray score = above.lt(topK).toType(DataType.FLOAT64, false).mean(new int[] {1});
                NDScope.unregister(score);
                layers.add(score);
            }
        }
        return byHead((negative ? "Negative copy" : "Copy") + " score (top " + topK + ")", NDArrays.stack(layers), cfg);
    }

    /**
     * The metric path patching reports: (logit difference − clean) / |clean|, 0 where a patch changes nothing and −1
     * where it removes the whole logit difference.
     */
    public static Function<NDArray, NDArray> relativeChange(IoiDataset data, double clean) {
        Function<NDArray, NDArray> diff = data.logitDiff();
        return Metrics.readingAs(diff, logits -> {
            NDArray d = diff.apply(logits);
            return d.sub(Tensors.scalar(clean, d.getDataType())).div(Tensors.scalar(Math.abs(clean), d.getDataType()));
        });
    }

    /**
     * Path patching from each head straight to the logits: the head's output from the corrupted (ABC) run, every other
     * head frozen at its clean output, MLPs recomputed. Relative change of the logit difference, [layer, head].
     */
    public static PatchingResult directEffects(HookedTransformer model, IoiDataset clean, ActivationCache cleanCache,
                                               ActivationCache corruptedCache) {
        Function<NDArray, NDArray> metric = relativeChange(clean, logitDiff(clean, cleanCache.logits()));
        PatchingResult r = PathPatching.toLogits(model, clean.tokens(), cleanCache, corruptedCache, metric);
        return new PatchingResult("Path patching to the logits: relative change of the logit difference", r.values(), r.axes(), r.labels());
    }

    /**
     * Path patching from each earlier head to the {@code input} ("q", "k" or "v") of {@code receivers}; as above. With
     * no receivers (a class an earlier step found empty) every entry is NaN, so that a chain of steps runs through.
     */
    public static PatchingResult effectsThrough(HookedTransformer model, IoiDataset clean, ActivationCache cleanCache,
                                                ActivationCache corruptedCache, List<Head> receivers, String input) {
        ModelConfig cfg = model.config();
        if (receivers.isEmpty()) {
            double[] nan = new double[cfg.nLayers() * cfg.nHeads()];
            java.util.Arrays.fill(nan, Double.NaN);
            return byHead("Path patching to no receivers (" + input + ")", Tensors.ofDoubles(nan, new Shape(cfg.nLayers(), cfg.nHeads())), cfg);
        }
        Function<NDArray, NDArray> metric = relativeChange(clean, logitDiff(clean, cleanCache.logits()));
        PatchingResult r = PathPatching.toReceivers(model, clean.tokens(), cleanCache, corruptedCache, receivers, input, metric);
        return new PatchingResult("Path patching to " + receivers + " " + input + ": relative change of the logit difference",
                r.values(), r.axes(), r.labels());
    }

    /**
     * The heads whose effect has the given sign, at least {@code fraction} of the largest magnitude of that sign and at
     * least {@link #MIN_EFFECT}, strongest first. NaN entries (path patching leaves the receivers' layers and above
     * NaN) are skipped.
     */
    public static List<Head> strongest(PatchingResult values, int sign, double fraction) {
        return strongest(values, sign, fraction, null);
    }

    /** As {@link #strongest(PatchingResult, int, double)}, among {@code among} only (all heads if null). */
    public static List<Head> strongest(PatchingResult values, int sign, double fraction, List<Head> among) {
        if (sign != 1 && sign != -1) {
            throw new IllegalArgumentException("sign is 1 (largest positive values) or -1 (most negative), got " + sign);
        }
        double[][] v = grid(values);
        double best = 0;
        for (int l = 0; l < v.length; l++) {
            for (int h = 0; h < v[l].length; h++) {
                if (!Double.isNaN(v[l][h]) && (among == null || among.contains(new Head(l, h)))) {
                    best = Math.max(best, sign * v[l][h]);
                }
            }
        }
        List<Head> picked = new ArrayList<>();
        for (int l = 0; l < v.length; l++) {
            for (int h = 0; h < v[l].length; h++) {
                if (best > 0 && sign * v[l][h] >= Math.max(fraction * best, MIN_EFFECT)
                        && (among == null || among.contains(new Head(l, h)))) {
                    picked.add(new Head(l, h));
                }
            }
        }
        picked.sort(Comparator.comparingDouble(head -> -sign * v[head.layer()][head.head()]));
        return picked;
    }

    /** Heads among {@code heads} whose value in {@code a} is larger than in {@code b}. */
    public static List<Head> where(List<Head> heads, PatchingResult a, PatchingResult b) {
        double[][] x = grid(a);
        double[][] y = grid(b);
        return heads.stream().filter(h -> x[h.layer()][h.head()] > y[h.layer()][h.head()]).toList();
    }

    /**
     * Name movers: among the heads that attend from the last token to the IO more than to S1 and S2 together, those
     * whose direct path to the logits raises the logit difference most (patching it from the ABC run lowers it).
     * Strongest among these, not among all heads: a head that is no name mover may have a larger effect.
     */
    public static List<Head> nameMovers(PatchingResult directEffects, ActivationCache cache, IoiDataset data, double fraction) {
        return strongest(directEffects, -1, fraction, attendingToIo(cache, data));
    }

    /** Negative name movers: heads attending to the IO, as above, whose direct path lowers the logit difference. */
    public static List<Head> negativeNameMovers(PatchingResult directEffects, ActivationCache cache, IoiDataset data,
                                                double fraction) {
        return strongest(directEffects, 1, fraction, attendingToIo(cache, data));
    }

    /** The heads that attend from the last token to the IO more than to S1 and S2 together. */
    public static List<Head> attendingToIo(ActivationCache cache, IoiDataset data) {
        double[][] io = grid(attention(cache, data, Word.END, Word.IO));
        double[][] s1 = grid(attention(cache, data, Word.END, Word.S1));
        double[][] s2 = grid(attention(cache, data, Word.END, Word.S2));
        List<Head> heads = new ArrayList<>();
        for (int l = 0; l < io.length; l++) {
            for (int h = 0; h < io[l].length; h++) {
                if (io[l][h] > s1[l][h] + s2[l][h]) {
                    heads.add(new Head(l, h));
                }
            }
        }
        return heads;
    }

    /**
     * Induction heads among {@code heads}: from S2 they attend to the token after S1 more than to S1 itself. The rest
     * attend to S1: duplicate-token heads ({@link #duplicateTokenHeads}).
     */
    public static List<Head> inductionHeads(List<Head> heads, ActivationCache cache, IoiDataset data) {
        return where(heads, attention(cache, data, Word.S2, Word.S1_PLUS_1), attention(cache, data, Word.S2, Word.S1));
    }

    /** Duplicate-token heads among {@code heads}: from S2 they attend to S1 more than to the token after it. */
    public static List<Head> duplicateTokenHeads(List<Head> heads, ActivationCache cache, IoiDataset data) {
        return where(heads, attention(cache, data, Word.S2, Word.S1), attention(cache, data, Word.S2, Word.S1_PLUS_1));
    }

    /**
     * The change in each head's direct logit attribution when {@code ablated} heads are replaced by their mean over
     * the {@code reference} run (the paper's mean ablation over the ABC distribution), relative to the clean logit
     * difference: backup name movers are the heads whose attribution rises. [layer, head]
     */
    public static PatchingResult dlaChangeWhenAblated(HookedTransformer model, IoiDataset data, ActivationCache cache,
                                                      List<Head> ablated, ActivationCache reference) {
        Hook[] hooks = ablated.stream().map(h -> Ablations.meanHead(h.layer(), h.head(), reference)).toArray(Hook[]::new);
        PatchingResult before = directLogitAttribution(cache, data);
        PatchingResult after;
        try (HookSession session = model.hooks(hooks);
             ActivationCache ablatedCache = model.runWithCache(data.tokens(),
                     n -> n.endsWith("hook_z") || n.equals("ln_final.hook_scale"))) {
            after = directLogitAttribution(ablatedCache, data);
        }
        double clean = Math.abs(logitDiff(data, cache.logits()));
        return byHead("Change in direct logit attribution with " + ablated + " mean-ablated (share of the logit difference)",
                after.values().sub(before.values()).div(Tensors.scalar(clean, before.values().getDataType())), model.config());
    }

    /** Each step of {@link #search} and the head classes it found, in the paper's order of discovery. */
    public record Search(double cleanLogitDiff, double corruptedLogitDiff, PatchingResult directEffects,
                         PatchingResult toNameMoverQueries, PatchingResult toSInhibitionValues, PatchingResult toInductionKeys,
                         PatchingResult backupChange, Map<String, List<Head>> classes) implements Displayable {

        @Override
        public MimeBundle mimeBundle() {
            return TableView.bundle(compareWithPaper(classes)).with(MimeBundle.TEXT, toString());
        }

        @Override
        public String toString() {
            return String.format(java.util.Locale.ROOT, "IOI circuit search: logit difference %.3f clean, %.3f corrupted; %s",
                    cleanLogitDiff, corruptedLogitDiff, classes.entrySet().stream()
                            .map(e -> e.getKey() + " " + names(e.getValue())).collect(Collectors.joining("; ")));
        }
    }

    /**
     * The paper's search, step by step, with {@code corrupted} (the ABC distribution) as the source of every patch:
     * <ol>
     * <li>path patching to the logits gives the name movers and negative name movers ({@link #nameMovers});</li>
     * <li>path patching to the name movers' queries gives the S-inhibition heads;</li>
     * <li>path patching to the S-inhibition heads' values gives the induction and duplicate-token heads, told apart by
     * where S2 attends;</li>
     * <li>path patching to the induction heads' keys gives the previous-token heads;</li>
     * <li>mean-ablating the name movers shows the backup name movers: the heads whose direct attribution rises.</li>
     * </ol>
     * Each step keeps the heads with at least {@code fraction} of the step's strongest effect ({@link #strongest}).
     */
    public static Search search(HookedTransformer model, IoiDataset clean, IoiDataset corrupted, double fraction) {
        try (ActivationCache cleanCache = model.runWithCache(clean.tokens());
             ActivationCache corruptedCache = model.runWithCache(corrupted.tokens())) {
            Map<String, List<Head>> classes = new LinkedHashMap<>();
            PatchingResult direct = directEffects(model, clean, cleanCache, corruptedCache);
            List<Head> nameMovers = nameMovers(direct, cleanCache, clean, fraction);
            classes.put("name mover", nameMovers);
            classes.put("negative name mover", negativeNameMovers(direct, cleanCache, clean, fraction));
            PatchingResult toQueries = effectsThrough(model, clean, cleanCache, corruptedCache, nameMovers, "q");
            List<Head> sInhibition = strongest(toQueries, -1, fraction);
            classes.put("S-inhibition", sInhibition);
            PatchingResult toValues = effectsThrough(model, clean, cleanCache, corruptedCache, sInhibition, "v");
            List<Head> early = strongest(toValues, -1, fraction);
            List<Head> induction = inductionHeads(early, cleanCache, clean);
            classes.put("induction", induction);
            classes.put("duplicate token", duplicateTokenHeads(early, cleanCache, clean));
            PatchingResult toKeys = effectsThrough(model, clean, cleanCache, corruptedCache, induction, "k");
            classes.put("previous token", strongest(toKeys, -1, fraction));
            PatchingResult backup = dlaChangeWhenAblated(model, clean, cleanCache, nameMovers, corruptedCache);
            classes.put("backup name mover", strongest(backup, 1, fraction).stream().filter(h -> !nameMovers.contains(h)).toList());
            return new Search(logitDiff(clean, cleanCache.logits()), logitDiff(clean, corruptedCache.logits()), direct, toQueries,
                    toValues, toKeys, backup, java.util.Collections.unmodifiableMap(classes));
        }
    }

    /** The classes found next to the paper's GPT-2 small heads: class, found, paper, and the heads in both. */
    public static Table compareWithPaper(Map<String, List<Head>> found) {
        List<String> classes = new ArrayList<>(found.keySet());
        return Table.create("IOI head classes",
                StringColumn.create("class", classes),
                StringColumn.create("found", classes.stream().map(c -> names(found.get(c))).toList()),
                StringColumn.create("paper (GPT-2 small)", classes.stream().map(c -> names(Gpt2IoiFigures.HEAD_CLASSES.getOrDefault(c, List.of()))).toList()),
                StringColumn.create("in both", classes.stream().map(c -> names(found.get(c).stream()
                        .filter(Gpt2IoiFigures.HEAD_CLASSES.getOrDefault(c, List.of())::contains).toList())).toList()));
    }

    private static String names(List<Head> heads) {
        return heads.stream().map(Head::toString).collect(Collectors.joining(", "));
    }

    /** Layer norm {@code prefix} applied to rows of the residual stream: centre, scale, then w and b if not folded. */
    private static NDArray layerNorm(HookedTransformer model, NDArray x, String prefix) {
        if (model.config().normalization() == ModelConfig.Normalization.NONE) {
            return x;
        }
        NDArray centred = x.sub(x.mean(new int[] {-1}, true));
        NDArray scale = centred.square().mean(new int[] {-1}, true).add(Tensors.scalar(model.config().eps(), x.getDataType())).sqrt();
        NDArray normed = centred.div(scale);
        if (model.config().normalization() == ModelConfig.Normalization.LN) {
            normed = normed.mul(model.parameter(prefix + ".w")).add(model.parameter(prefix + ".b"));
        }
        return normed;
    }

    /** The final layer norm's weight, where it was not folded into W_U; its bias is a constant the comparisons ignore. */
    private static NDArray finalNorm(HookedTransformer model, NDArray centredAndScaled) {
        return model.config().normalization() == ModelConfig.Normalization.LN
                ? centredAndScaled.mul(model.parameter("ln_final.w")) : centredAndScaled;
    }

    private static NDArray unembedColumns(HookedTransformer model, int[] tokens) {
        long[] ids = java.util.Arrays.stream(tokens).asLongStream().toArray();
        return model.W_U().transpose().get(Tensors.ofLongs(ids, new Shape(ids.length)));
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static double[][] grid(PatchingResult r) {
        Shape s = r.values().getShape();
        if (s.dimension() != 2) {
            throw new IllegalArgumentException("Expected a [layer, head] result, got " + r.title() + " of shape " + s);
        }
        double[] flat = r.values().toType(DataType.FLOAT64, false).toDoubleArray();
        double[][] g = new double[(int) s.get(0)][(int) s.get(1)];
        for (int l = 0; l < g.length; l++) {
            System.arraycopy(flat, l * g[l].length, g[l], 0, g[l].length);
        }
        return g;
    }

    private static PatchingResult byHead(String title, NDArray values, ModelConfig cfg) {
        List<String> layers = new ArrayList<>();
        for (int l = 0; l < cfg.nLayers(); l++) {
            layers.add(String.valueOf(l));
        }
        List<String> heads = new ArrayList<>();
        for (int h = 0; h < cfg.nHeads(); h++) {
            heads.add("H" + h);
        }
        return new PatchingResult(title, values, List.of("layer", "head"), List.of(layers, heads));
    }
}

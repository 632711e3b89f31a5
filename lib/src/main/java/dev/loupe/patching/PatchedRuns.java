package dev.loupe.patching;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.hook.ActNames;
import dev.loupe.hook.Hook;
import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookSession;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.KvCache;
import dev.loupe.model.ModelConfig;
import dev.loupe.patching.Patching.Cells;
import dev.loupe.patching.Patching.Slice;
import dev.loupe.tensor.Tensors;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.function.IntFunction;
import java.util.stream.IntStream;

/**
 * The patched runs of one sweep: the target run (its residual stream before each block, its logits and, for runs
 * from later positions, its keys and values), the source activations and the metric, and {@link #patched} (or, for a
 * metric that reads one position per prompt, {@link #residualRead} and {@link ReadRows}) to run a chunk of patches as
 * copies of the batch in one pass. A patch at layer l and position p cannot change anything below
 * l or before p, so it runs blocks l.. on positions p.. only (or from an earlier start that neighbouring positions'
 * patches share, see {@link #starts}), from the target run's residual stream there, attending to the target run's keys
 * and values for the positions before its start: the same result as a forward pass per patch, for much less work.
 * {@link Patching}'s sweeps plan the patches and chunks; the helpers for copies of the batch ({@link #copyLowerBound}, {@link #copyUpperBound},
 * {@link #tile}, {@link #scores}) serve {@link PathPatching} too. {@code packed}: the batches run packed into one
 * sequence ({@link #packable}, and no hook on the thread).
 */
record PatchedRuns(HookedTransformer model, ActivationCache target, KvCache keysValues, boolean packed, ActivationCache source,
                   IntFunction<String> nameOf, IntFunction<Cells> cellsOf, long batch, long[] unembedAt,
                   Function<NDArray, NDArray> metric) {

    /**
     * About how many positions' work one block run costs beyond its own positions, streaming the block's weights (see
     * {@link #starts}). Tests set 0 to run every patch from its own position.
     */
    static int blockRunPositions = 32;

    /**
     * About how many positions' work a batch packed with others costs beyond its own positions: its share of each
     * block's products is its tokens' alone, but its attention takes about 20 calls of 20 µs, some 4 positions' products
     * on GPT-2 small. Tests set 0 to run every patch from its own position.
     */
    static int packedRunPositions = 4;

    /**
     * Whether the sweep's batches can run packed ({@link HookedTransformer#residualAt(int, int, List, KvCache, int[])}):
     * patches of each block's input, which are written into the rows joining there with no hook, so nothing sees the
     * packed tokens. Batches alone would run each block's products on a few rows, far below the GEMM peak.
     */
    static boolean packable(IntFunction<String> nameOf, int layers) {
        return IntStream.range(0, layers).allMatch(l -> nameOf.apply(l).equals(ActNames.actName("resid_pre", l)));
    }

    /** Cell {@code cell} of {@code layer}'s patches, run on positions {@code start}.. of the sequence. */
    record Patch(int layer, int cell, int start) {}

    /**
     * The position the runs of each position's patches start from: its own, or an earlier one that the patches of the
     * positions up to it share. Sharing computes positions that a patch cannot change, but runs each block once for
     * all of them, and each run of a block costs about {@code blockRun} positions' work beyond its own
     * ({@link #blockRunPositions}, or {@link #packedRunPositions} for batches that run packed). The
     * starts minimise that estimate over every split of the positions into runs of consecutive ones.
     */
    static int[] starts(int layers, int pos, long batch, IntFunction<Cells> cellsOf, int blockRun) {
        // joined[p][l]: patches at positions before p and layers up to l, the rows of a batch from 0 at block l
        long[][] joined = new long[pos + 1][layers];
        for (int l = 0; l < layers; l++) {
            Cells cells = cellsOf.apply(l);
            for (int c = 0; c < cells.count(); c++) {
                for (int k = l; k < layers; k++) {
                    joined[cells.position(c) + 1][k]++;
                }
            }
        }
        for (int p = 0; p < pos; p++) {
            for (int l = 0; l < layers; l++) {
                joined[p + 1][l] += joined[p][l];
            }
        }
        double[] best = new double[pos + 1]; // the least cost of positions 0..e-1
        int[] from = new int[pos + 1];
        for (int e = 1; e <= pos; e++) {
            best[e] = Double.MAX_VALUE;
            for (int b = 0; b < e; b++) {
                double cost = best[b];
                for (int l = 0; l < layers; l++) {
                    long rows = joined[e][l] - joined[b][l];
                    cost += rows == 0 ? 0 : blockRun + (double) rows * batch * (pos - b);
                }
                if (cost < best[e]) {
                    best[e] = cost;
                    from[e] = b;
                }
            }
        }
        int[] start = new int[pos];
        for (int e = pos; e > 0; e = from[e]) {
            java.util.Arrays.fill(start, from[e], e, from[e]);
        }
        return start;
    }

    /**
     * The metric after each patch of a wave (patches ordered by start, then layer), run as {@link #blocks} runs them,
     * for a metric that may read any position: logits as runs over every position give them, the target run's before
     * each batch's start.
     */
    double[] patched(List<Patch> wave) {
        try (NDScope scope = new NDScope()) {
            List<List<Patch>> batches = byStart(wave);
            List<NDArray> residuals = blocks(batches);
            double[] scores = new double[wave.size()];
            int done = 0;
            for (int b = 0; b < batches.size(); b++) {
                int copies = batches.get(b).size();
                int start = batches.get(b).get(0).start();
                NDArray after = model.forwardFromLayer(model.config().nLayers(), residuals.get(b));
                NDScope.register(after);
                NDArray logits = start == 0 ? after
                        : NDArrays.concat(new NDList(Tensors.tile(target.logits().get(":, :" + start), copies), after), 1);
                System.arraycopy(scores(logits, copies, batch, metric), 0, scores, done, copies);
                done += copies;
            }
            return scores;
        }
    }

    /**
     * As {@link #patched}, for a metric that reads one position per prompt, up to the residual stream at that
     * position after the last block: [patches · batch, 1, d_model], for {@link #scoresOfRead}. A row whose position
     * lies before its batch's start holds a stand-in, as its logits are the target run's.
     */
    NDArray residualRead(List<Patch> wave) {
        try (NDScope scope = new NDScope()) {
            List<List<Patch>> batches = byStart(wave);
            List<NDArray> residuals = blocks(batches);
            NDList read = new NDList();
            for (int b = 0; b < batches.size(); b++) {
                int start = batches.get(b).get(0).start();
                NDArray residual = residuals.get(b);
                long[] at = new long[unembedAt.length];
                for (int i = 0; i < at.length; i++) {
                    at[i] = Math.max(unembedAt[i] - start, 0);
                }
                Shape one = new Shape(residual.getShape().get(0), 1, 1);
                NDArray index = Tensors.ofLongs(tile(at, batches.get(b).size()), one)
                        .broadcast(one.slice(0, 2).add(residual.getShape().get(2)));
                read.add(residual.gather(index, 1));
            }
            NDArray rows = read.size() == 1 ? read.get(0) : NDArrays.concat(read);
            NDScope.unregister(rows);
            return rows;
        }
    }

    /**
     * The metric after each of {@code patches}, from the residual rows {@link #residualRead} kept for them, in
     * order: the final norm and unembedding of all rows at once, then the target run's logits where a patch's run
     * started after the position read.
     */
    double[] scoresOfRead(NDArray rows, List<Patch> patches) {
        NDArray logits = model.forwardFromLayer(model.config().nLayers(), rows);
        NDScope.register(logits);
        boolean[] before = new boolean[patches.size() * unembedAt.length];
        boolean anyBefore = false;
        for (int i = 0; i < before.length; i++) {
            before[i] = unembedAt[i % unembedAt.length] < patches.get(i / unembedAt.length).start();
            anyBefore |= before[i];
        }
        if (anyBefore) { // the target run unembedded the positions read alone
            NDArray targetAt = Tensors.tile(target.logits(), patches.size());
            NDArray useTarget = Tensors.ofBooleans(before, new Shape(before.length, 1, 1)).broadcast(logits.getShape());
            logits = NDArrays.where(useTarget, targetAt, logits);
        }
        return scores(logits, patches.size(), batch, metric);
    }

    /** A wave's patches split into batches of one start each, in order. */
    private static List<List<Patch>> byStart(List<Patch> wave) {
        List<List<Patch>> batches = new ArrayList<>();
        int first = 0;
        for (int i = 1; i <= wave.size(); i++) {
            if (i == wave.size() || wave.get(i).start() != wave.get(first).start()) {
                batches.add(wave.subList(first, i));
                first = i;
            }
        }
        return batches;
    }

    /**
     * The residual stream after the last block for each batch of patches (each in layer order, all from one start
     * position, none patching before it), one copy of the prompts per patch: a batch starts at its first patch's layer
     * from the target run's residual stream there, and each later layer's patches join it at their layer. From a start
     * s > 0 a batch covers positions s.. only and attends to the target run's keys and values before s, which no patch
     * at s or later can change. The blocks run layer by layer across the batches, so that batches run {@link #packed}
     * share each block's products. Registered in the caller's scope.
     */
    private List<NDArray> blocks(List<List<Patch>> batches) {
        int layers = model.config().nLayers();
        int[][] joining = new int[batches.size()][layers]; // patches joining each batch at each layer
        Hook[][] hooks = new Hook[batches.size()][layers];
        int first = layers;
        for (int b = 0; b < batches.size(); b++) {
            List<Patch> patches = batches.get(b);
            int[] counts = joining[b];
            patches.forEach(p -> counts[p.layer()]++);
            first = Math.min(first, patches.get(0).layer());
            int row = 0;
            for (int l = 0; l < layers; l++) {
                if (joining[b][l] > 0) {
                    hooks[b][l] = patch(l, patches.subList(row, row + joining[b][l]), packed ? 0 : row, patches.get(0).start());
                    row += joining[b][l];
                }
            }
        }
        NDArray[] residual = new NDArray[batches.size()];
        for (int layer = first; layer < layers; layer++) {
            List<Integer> running = new ArrayList<>();
            for (int b = 0; b < batches.size(); b++) {
                int start = batches.get(b).get(0).start();
                if (joining[b][layer] > 0) {
                    NDArray joined = Tensors.tile(target.get("resid_pre", layer).get(":, " + start + ":"), joining[b][layer]);
                    if (packed) {
                        joined = hooks[b][layer].fn().apply(joined, null);
                    }
                    residual[b] = residual[b] == null ? joined : NDArrays.concat(new NDList(residual[b], joined), 0);
                }
                if (residual[b] != null && packed) {
                    running.add(b);
                } else if (residual[b] != null) {
                    try (HookSession session = hooks[b][layer] == null ? null : model.hooks(hooks[b][layer])) {
                        residual[b] = model.residualAt(layer, layer + 1, residual[b], keysValues, start);
                    }
                    NDScope.register(residual[b]);
                }
            }
            if (!running.isEmpty()) {
                List<NDArray> out = model.residualAt(layer, layer + 1, running.stream().map(b -> residual[b]).toList(),
                        keysValues, running.stream().mapToInt(b -> batches.get(b).get(0).start()).toArray());
                for (int i = 0; i < running.size(); i++) {
                    residual[running.get(i)] = out.get(i);
                    NDScope.register(out.get(i));
                }
            }
        }
        return List.of(residual);
    }

    /** What scores the chunks of a metric that reads one position per prompt: see {@link ReadRows}. */
    ReadRows readRows(double[][] values, long logitsBytes) {
        return new ReadRows(this, values, logitsBytes);
    }

    /**
     * The residual stream at the metric's positions of patched runs not yet scored, unembedded and scored together once
     * their logits would reach {@code logitsBytes}, and at the end.
     */
    static final class ReadRows {
        private final PatchedRuns runs;
        private final double[][] values;
        private final long maxRows;
        private final List<Patch> patches = new ArrayList<>();
        private final List<NDArray> rows = new ArrayList<>();

        private ReadRows(PatchedRuns runs, double[][] values, long logitsBytes) {
            this.runs = runs;
            this.values = values;
            ModelConfig cfg = runs.model().config();
            long rowBytes = (long) cfg.dVocabOut() * runs.target().logits().getDataType().getNumOfBytes();
            this.maxRows = Math.max(runs.batch(), logitsBytes / rowBytes);
        }

        /** The residual rows [patches · batch, 1, d_model] of {@code chunk}'s runs, owned from here on. */
        void add(List<Patch> chunk, NDArray residual) {
            patches.addAll(chunk);
            rows.add(residual);
            if ((long) patches.size() * runs.batch() >= maxRows) {
                score();
            }
        }

        void score() {
            if (patches.isEmpty()) {
                return;
            }
            try (NDScope scope = new NDScope()) {
                rows.forEach(NDScope::register);
                double[] scores = runs.scoresOfRead(rows.size() == 1 ? rows.get(0) : NDArrays.concat(new NDList(rows)), patches);
                for (int i = 0; i < scores.length; i++) {
                    values[patches.get(i).layer()][patches.get(i).cell()] = scores[i];
                }
            }
            patches.clear();
            rows.clear();
        }
    }

    /**
     * The hook at {@code layer} that patches the rows joining there (copies row.. of the batch), one patch each; its
     * function also patches those rows alone (row 0) before they join.
     */
    private Hook patch(int layer, List<Patch> joining, int row, int start) {
        String name = nameOf.apply(layer);
        Cells cells = cellsOf.apply(layer);
        boolean pattern = name.endsWith("hook_pattern") || name.endsWith("hook_attn_scores");
        NDArray clean = source.get(name).get(pattern ? ":, :, " + start + ":" : ":, " + start + ":");
        return Hook.of(name, (activation, hook) -> {
            Shape s = activation.getShape();
            NDArray byCopy = activation.reshape(new Shape(s.get(0) / batch, batch).addAll(s.slice(1)));
            NDArray mask = cellMask(pattern, cells, joining, row, start, byCopy.getShape());
            return NDArrays.where(mask, clean.expandDims(0).broadcast(byCopy.getShape()), byCopy).reshape(s);
        });
    }

    /**
     * Bytes one patched copy of the batch cannot do without: its logits (at the metric's positions, or all) and the
     * residual stream of each layer it runs through. The real need is larger (measured as the work runs); this
     * refuses a batch that could never fit before anything is allocated.
     */
    static long copyLowerBound(ModelConfig cfg, DataType type, long batch, long pos, boolean onePositionPerRow) {
        long logits = batch * (onePositionPerRow ? 1 : pos) * cfg.dVocabOut();
        long residuals = batch * pos * cfg.dModel() * (cfg.nLayers() + 1L);
        return (logits + residuals) * type.getNumOfBytes();
    }

    /**
     * Bytes one patched copy of the batch needs at most, generously, twice over: the residual stream of each layer; one
     * block's temporaries (norms, queries, keys and values with the earlier positions' tiled in, scores and pattern over
     * at most twice the positions, the MLP's hidden layer); and its logits. A sweep whose copies all fit under this
     * bound runs as one measured chunk, rather than first measuring a copy alone, a forward pass of its own.
     */
    static long copyUpperBound(ModelConfig cfg, DataType type, long batch, long pos, boolean onePositionPerRow) {
        long tokens = batch * pos;
        long width = Math.max(cfg.dModel(), (long) cfg.nHeads() * cfg.dHead());
        long residuals = tokens * cfg.dModel() * (cfg.nLayers() + 1L);
        long block = tokens * (32 * width + 6L * Math.max(0, cfg.dMlp()) + 8L * cfg.nHeads() * pos);
        long logits = 3 * batch * (onePositionPerRow ? 1 : pos) * cfg.dVocabOut();
        return 2 * (residuals + block + logits) * type.getNumOfBytes();
    }

    /** Each row's unembedded position, for {@code copies} copies of the batch; null stays null (every position). */
    static long[] tile(long[] perRow, int copies) {
        if (perRow == null) {
            return null;
        }
        long[] tiled = new long[perRow.length * copies];
        for (int i = 0; i < copies; i++) {
            System.arraycopy(perRow, 0, tiled, i * perRow.length, perRow.length);
        }
        return tiled;
    }

    /** The metric on each copy's logits [batch, ...] of a run of {@code copies} copies. */
    static double[] scores(NDArray logits, int copies, long batch, Function<NDArray, NDArray> metric) {
        double[] scores = new double[copies];
        for (int i = 0; i < copies; i++) {
            NDArray value = metric.apply(logits.get(i * batch + ":" + (i + 1) * batch));
            if (value == null || value.size() != 1) {
                throw new IllegalArgumentException("The metric must return a scalar array; it returned "
                        + (value == null ? "null" : "shape " + value.getShape()));
            }
            scores[i] = value.toType(DataType.FLOAT64, false).getDouble();
        }
        return scores;
    }

    /**
     * True where a copy of the batch takes the source value: copy row + i at patch i's position (counted from
     * {@code start}; axis 1 of resid-like and q/k/v/z activations, the query axis 2 of patterns), its head (axis 2, or 1
     * for patterns), or both; nowhere in the other copies.
     */
    private static NDArray cellMask(boolean pattern, Cells cells, List<Patch> patches, int row, int start, Shape byCopy) {
        int posAxis = pattern ? 3 : 2; // in [copy, batch, ...]
        int headAxis = pattern ? 2 : 3;
        boolean byPosition = cells.slice() != Slice.HEAD;
        boolean byHead = cells.slice() != Slice.POSITION;
        int copies = (int) byCopy.get(0);
        int positions = byPosition ? (int) byCopy.get(posAxis) : 1;
        int heads = byHead ? (int) byCopy.get(headAxis) : 1;
        long[] maskShape = new long[byCopy.dimension()];
        java.util.Arrays.fill(maskShape, 1);
        maskShape[0] = copies;
        maskShape[posAxis] = positions;
        maskShape[headAxis] = heads;
        boolean headFirst = headAxis < posAxis;
        boolean[] on = new boolean[copies * positions * heads];
        for (int i = 0; i < patches.size(); i++) {
            int cell = patches.get(i).cell();
            int p = byPosition ? cells.position(cell) - start : 0;
            int h = byHead ? cells.head(cell) : 0;
            on[(row + i) * positions * heads + (headFirst ? h * positions + p : p * heads + h)] = true;
        }
        return Tensors.ofBooleans(on, new Shape(maskShape)).broadcast(byCopy);
    }
}

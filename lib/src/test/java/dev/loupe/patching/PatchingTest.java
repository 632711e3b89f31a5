package dev.loupe.patching;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.ReferenceCase;
import dev.loupe.hook.Hook;
import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.tensor.BudgetRuns;
import dev.loupe.tensor.Tensors;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Batched sweeps against the plain way: one hooked forward pass per patch, each replacing one slice of the
 * corrupted run's activation with the clean run's, written here independently of the library's batching.
 * Tolerance 1e-4: the same float32 arithmetic in differently shaped batches rounds differently.
 */
class PatchingTest {

    private final ReferenceCase ref = ReferenceCase.load("gpt2_like");
    private final HookedTransformer model = ref.model(DataType.FLOAT32);
    private final NDArray clean = ref.tokens(); // [2, 12]
    private final NDArray corrupted = randomTokens(2, 12, 97, 5);
    private final Function<NDArray, NDArray> metric = Metrics.logitDiff(new int[] {3, 8}, new int[] {50, 60});

    private static NDArray randomTokens(int batch, int pos, int vocab, long seed) {
        Random r = new Random(seed);
        long[] ids = new long[batch * pos];
        for (int i = 0; i < ids.length; i++) ids[i] = r.nextInt(vocab);
        return Tensors.ofLongs(ids, new Shape(batch, pos));
    }

    /** The metric with clean[slice] written into the corrupted run's activation at hook {@code name}. */
    private double patchedOnce(String name, NDArray cleanAct, String slice) {
        NDArray logits = model.runWithHooks(corrupted, Hook.of(name, (a, h) -> {
            NDArray copy = a.duplicate();
            copy.set(new NDIndex(slice), cleanAct.get(slice));
            return copy;
        }));
        return metric.apply(logits).getFloat();
    }

    @ParameterizedTest
    @ValueSource(strings = {"resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out"})
    void residualStreamSweepsEqualOnePatchedRunPerCell(String act) {
        try (ActivationCache cleanCache = model.runWithCache(clean)) {
            PatchingResult result = switch (act) {
                case "resid_pre" -> Patching.residPre(model, corrupted, cleanCache, metric);
                case "resid_mid" -> Patching.residMid(model, corrupted, cleanCache, metric);
                case "resid_post" -> Patching.residPost(model, corrupted, cleanCache, metric);
                case "attn_out" -> Patching.attnOut(model, corrupted, cleanCache, metric);
                default -> Patching.mlpOut(model, corrupted, cleanCache, metric);
            };
            assertEquals(new Shape(2, 12), result.values().getShape());
            for (int layer = 0; layer < 2; layer++) {
                String name = dev.loupe.hook.ActNames.actName(act, layer);
                for (int pos = 0; pos < 12; pos++) {
                    double expected = patchedOnce(name, cleanCache.get(name), ":, " + pos + ", :");
                    assertEquals(expected, result.values().getDouble(layer, pos), 1e-4, act + " layer " + layer + " pos " + pos);
                }
            }
        }
    }

    @Test
    void aMetricReadingOnePositionPerPromptGivesTheSameSweepInChunksOfAnySize() {
        // Prompt 0 read at position 5, prompt 1 at 11: only those two positions need unembedding, and patches after 5
        // leave prompt 0's logits as they were.
        Function<NDArray, NDArray> everyPosition = logits -> logits.get("0, 5, 3").sub(logits.get("1, 11, 50"));
        Function<NDArray, NDArray> atEnds = Metrics.atPositions(new long[] {5, 11}, logits -> logits.getShape().get(1) == 1
                ? logits.get("0, 0, 3").sub(logits.get("1, 0, 50")) : everyPosition.apply(logits));
        try (ActivationCache cleanCache = model.runWithCache(clean)) {
            double[] expected = Patching.headOutByPos(model, corrupted, cleanCache, everyPosition).values().toDoubleArray();
            var large = BudgetRuns.under("16g", () -> Patching.headOutByPos(model, corrupted, cleanCache, atEnds));
            // The large run took one cell alone, then the other 7 of position 0 at once, then the 8 of each position; under
            // less than its peak the cells run a few at a time (one cell of this small model is mostly fixed overhead).
            long budget = large.peakBytes() * 9 / 10;
            var small = BudgetRuns.under(String.valueOf(budget), () -> Patching.headOutByPos(model, corrupted, cleanCache, atEnds));
            assertArrayEquals(expected, large.result().values().toDoubleArray(), 1e-5);
            assertArrayEquals(expected, small.result().values().toDoubleArray(), 1e-5);
            assertTrue(small.peakBytes() <= budget, "peak " + small.peakBytes() + " over the budget " + budget);
        }
    }

    /** Rotary attention with grouped-query heads (4 query heads over 2 key/value heads), q/k norms and a window of 5 in layer 0. */
    private static HookedTransformer rotary() {
        return HookedTransformer.create(ModelConfig.builder().modelName("rotary-gqa").nLayers(2).dModel(32).nHeads(4)
                .nKeyValueHeads(2).dMlp(48).dVocab(97).nCtx(32).actFn(ModelConfig.ActFn.SILU)
                .normalization(ModelConfig.Normalization.RMS).positionalEmbedding(ModelConfig.PositionalEmbedding.ROTARY)
                .gatedMlp(true).useQkNorm(true).windowSize(5)
                .attnTypes(List.of(ModelConfig.AttnType.LOCAL, ModelConfig.AttnType.GLOBAL)).dtype(DataType.FLOAT64).seed(3).build());
    }

    /** metric(logits) of one run on {@code tokens} with {@code source[slice]} written into the activation at {@code name}. */
    private static double onePatchedRun(HookedTransformer m, NDArray tokens, ActivationCache source, String name, String slice,
                                        Function<NDArray, NDArray> f) {
        NDArray logits = m.runWithHooks(tokens, Hook.of(name, (a, h) -> {
            NDArray copy = a.duplicate();
            copy.set(new NDIndex(slice), source.get(name).get(slice));
            return copy;
        }));
        return Tensors.item(f.apply(logits));
    }

    /**
     * A patch at position p runs on positions p.. only (or from an earlier position that nearby patches share),
     * attending to the target run's keys and values before that: sweeps by position on learned, shortformer and rotary
     * positions (with grouped-query heads and a window shorter than the sequence), from the first position to the last,
     * with metrics reading the last position, an earlier one (which patches after it cannot move) or every position's
     * logits. Float64; every patch run from its own position, and (as larger models' sweeps run) patches at a few
     * neighbouring positions run from the first of them.
     */
    @ParameterizedTest
    @ValueSource(strings = {"gpt2_like", "attn_only_shortformer", "rotary"})
    void sweepsFromEachPatchedPositionEqualOnePatchedRunPerCell(String name) {
        HookedTransformer m = name.equals("rotary") ? rotary() : ReferenceCase.load(name).model(DataType.FLOAT64);
        int blockRun = PatchedRuns.blockRunPositions;
        int packedRun = PatchedRuns.packedRunPositions;
        try {
            PatchedRuns.blockRunPositions = 0;
            PatchedRuns.packedRunPositions = 0;
            assertSweepsEqualOnePatchedRunPerCell(m, name + " from each position");
            // small batches: resid_pre (packed) and the head sweeps (alone) run from positions 0, 3 and 6
            PatchedRuns.blockRunPositions = 4;
            PatchedRuns.packedRunPositions = 4;
            assertSweepsEqualOnePatchedRunPerCell(m, name + " from neighbouring positions");
        } finally {
            PatchedRuns.blockRunPositions = blockRun;
            PatchedRuns.packedRunPositions = packedRun;
        }
    }

    private static void assertSweepsEqualOnePatchedRunPerCell(HookedTransformer m, String name) {
        int vocab = m.config().dVocab();
        NDArray cleanTokens = randomTokens(2, 9, vocab, 11);
        NDArray corruptedTokens = randomTokens(2, 9, vocab, 12);
        Function<NDArray, NDArray> last = Metrics.logitDiff(new int[] {3, 8}, new int[] {5, 6});
        Function<NDArray, NDArray> third = Metrics.logitDiff(new int[] {3, 8}, new int[] {5, 6}, 3);
        Function<NDArray, NDArray> everyPosition = logits -> logits.get(":, :, 2").sub(logits.get(":, :, 7")).sum();
        try (ActivationCache source = m.runWithCache(cleanTokens)) {
            for (Function<NDArray, NDArray> f : List.of(last, third, everyPosition)) {
                PatchingResult sweep = Patching.residPre(m, corruptedTokens, source, f);
                for (int layer = 0; layer < 2; layer++) {
                    for (int pos = 0; pos < 9; pos++) {
                        double expected = onePatchedRun(m, corruptedTokens, source, "blocks." + layer + ".hook_resid_pre",
                                ":, " + pos + ", :", f);
                        assertEquals(expected, sweep.at(layer, pos), 1e-9, name + " resid_pre L" + layer + " pos " + pos);
                    }
                }
            }
            for (String which : List.of("z", "q", "k", "v", "pattern")) {
                PatchingResult byPos = Patching.headByPos(which, m, corruptedTokens, source, last);
                long heads = byPos.values().getShape().get(2); // key/value heads for k and v
                for (int layer = 0; layer < 2; layer++) {
                    for (int pos : new int[] {0, 4, 8}) {
                        for (long head : new long[] {0, heads - 1}) {
                            String slice = which.equals("pattern") ? ":, " + head + ", " + pos + ", :" : ":, " + pos + ", " + head + ", :";
                            double expected = onePatchedRun(m, corruptedTokens, source,
                                    dev.loupe.hook.ActNames.actName(which, layer), slice, last);
                            assertEquals(expected, byPos.at(layer, pos, (int) head), 1e-9,
                                    name + " " + which + " L" + layer + " pos " + pos + " head " + head);
                        }
                    }
                }
            }
        }
    }

    @Test
    void headSweepsEqualOnePatchedRunPerHead() {
        try (ActivationCache cleanCache = model.runWithCache(clean)) {
            for (String which : List.of("z", "q", "k", "v", "pattern")) {
                PatchingResult result = Patching.headAllPos(which, model, corrupted, cleanCache, metric);
                assertEquals(new Shape(2, 4), result.values().getShape());
                for (int layer = 0; layer < 2; layer++) {
                    String name = dev.loupe.hook.ActNames.actName(which, layer);
                    for (int head = 0; head < 4; head++) {
                        String slice = which.equals("pattern") ? ":, " + head + ", :, :" : ":, :, " + head + ", :";
                        double expected = patchedOnce(name, cleanCache.get(name), slice);
                        assertEquals(expected, result.values().getDouble(layer, head), 1e-4, which + " L" + layer + "H" + head);
                    }
                }
            }
            PatchingResult byPos = Patching.headOutByPos(model, corrupted, cleanCache, metric);
            assertEquals(new Shape(2, 12, 4), byPos.values().getShape());
            for (int[] cell : new int[][] {{0, 0, 0}, {1, 11, 3}, {1, 5, 2}, {0, 7, 1}}) {
                String name = "blocks." + cell[0] + ".attn.hook_z";
                double expected = patchedOnce(name, cleanCache.get(name), ":, " + cell[1] + ", " + cell[2] + ", :");
                assertEquals(expected, byPos.values().getDouble(cell[0], cell[1], cell[2]), 1e-4, "z by pos " + java.util.Arrays.toString(cell));
            }
            // A few heads only, in the order asked, as rows [head, pos]: the same numbers as the full sweep's.
            List<PathPatching.Head> some = List.of(new PathPatching.Head(1, 3), new PathPatching.Head(0, 1), new PathPatching.Head(1, 0));
            PatchingResult rows = Patching.headOutByPos(model, corrupted, cleanCache, metric, some);
            assertEquals(new Shape(3, 12), rows.values().getShape());
            assertEquals(List.of("1.3", "0.1", "1.0"), rows.labels().get(0));
            for (int i = 0; i < some.size(); i++) {
                for (int p = 0; p < 12; p++) {
                    assertEquals(byPos.values().getDouble(some.get(i).layer(), p, some.get(i).head()), rows.values().getDouble(i, p),
                            1e-5, some.get(i) + " at " + p);
                }
            }
            assertThrows(IllegalArgumentException.class,
                    () -> Patching.headOutByPos(model, corrupted, cleanCache, metric, List.of(new PathPatching.Head(2, 0))));
        }
    }

    @Test
    void patchingEverythingRestoresTheCleanMetricAndNothingKeepsTheCorruptedOne() {
        try (ActivationCache cleanCache = model.runWithCache(clean)) {
            double cleanValue = metric.apply(cleanCache.logits()).getFloat();
            double corruptedValue = metric.apply(model.forward(corrupted)).getFloat();
            PatchingResult result = Patching.residPre(model, corrupted, cleanCache, Metrics.normalized(metric, cleanValue, corruptedValue));
            // Patching resid_pre of layer 0 at the last position gives the clean last-position input only partly;
            // the full clean residual at the last position of the final layer's input restores it exactly.
            NDArray lastLayer = model.runWithHooks(corrupted, Hook.of("blocks.1.hook_resid_pre", (a, h) -> cleanCache.get("resid_pre", 1)));
            assertEquals(cleanValue, metric.apply(lastLayer).getFloat(), 1e-4);
            assertTrue(result.values().getDouble(1, 11) > result.values().getDouble(1, 0), "last position matters more at the end");
        }
    }

    @Test
    void mismatchedShapesAndNonScalarMetricsFailBeforeAnyCompute() {
        try (ActivationCache cleanCache = model.runWithCache(clean)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Patching.residPre(model, randomTokens(2, 10, 97, 1), cleanCache, metric));
            assertTrue(e.getMessage().contains("same shape"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> Patching.residPre(model, corrupted, cleanCache, logits -> logits.get(":, -1, 0")));
            assertTrue(e.getMessage().contains("scalar"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Metrics.logitDiff(new int[] {1}, new int[] {1, 2}));
            assertTrue(e.getMessage().contains("wrong has 2"), e.getMessage());
        }
    }

    @Test
    void resultsBecomeLongTablesAndRenderAsHeatmaps() {
        try (ActivationCache cleanCache = model.runWithCache(clean)) {
            PatchingResult byPos = Patching.headOutByPos(model, corrupted, cleanCache, metric);
            tech.tablesaw.api.Table table = byPos.toTable();
            assertEquals(2 * 12 * 4, table.rowCount());
            assertEquals(List.of("layer", "pos", "head", "value"), table.columnNames());
            int row = (1 * 12 + 5) * 4 + 2; // layer 1, pos 5, head 2
            assertEquals("1", table.stringColumn("layer").get(row));
            assertEquals("5", table.stringColumn("pos").get(row));
            assertEquals("H2", table.stringColumn("head").get(row));
            assertEquals(byPos.values().getDouble(1, 5, 2), table.doubleColumn("value").get(row), 0);
            var bundle = Patching.residPre(model, corrupted, cleanCache, metric).mimeBundle();
            assertTrue(bundle.data().containsKey("image/png") && bundle.data().get("text/html").contains("<table"));
            assertTrue(!bundle.data().get("text/html").contains("data:image/png"), "the PNG travels once, as image/png");
        }
    }
}

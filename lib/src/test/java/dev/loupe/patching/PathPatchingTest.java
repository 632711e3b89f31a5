package dev.loupe.patching;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;

import dev.loupe.ReferenceCase;
import dev.loupe.hook.Hook;
import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.tensor.BudgetRuns;
import dev.loupe.tensor.MemoryBudgetException;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Batched path patching against the procedure written out step by step, one sender at a time, with ordinary hooks
 * on full forward passes (float64; 1e-9).
 */
class PathPatchingTest {

    private final ReferenceCase ref = ReferenceCase.load("gpt2_like");
    private final HookedTransformer model = ref.model(DataType.FLOAT64);
    private final NDArray clean = ref.tokens();
    private final NDArray corrupted = corrupt(clean);
    private final Function<NDArray, NDArray> metric = Metrics.logitDiff(new int[] {3, 8}, new int[] {50, 60});

    private static NDArray corrupt(NDArray tokens) {
        NDArray c = tokens.duplicate();
        c.set(new NDIndex(":, 6"), 40L);
        c.set(new NDIndex(":, 2"), 7L);
        return c;
    }

    /** Every head's z frozen to the target run, except the sender's, which comes from the source run. */
    private static List<Hook> frozenWithSender(ActivationCache target, ActivationCache source, int layers, int sl, int sh) {
        List<Hook> hooks = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            int layer = l;
            hooks.add(Hook.of("blocks." + l + ".attn.hook_z", (z, h) -> {
                NDArray frozen = target.get("z", layer).duplicate();
                if (layer == sl) {
                    frozen.set(new NDIndex(":, :, " + sh + ", :"), source.get("z", layer).get(":, :, " + sh + ", :"));
                }
                return frozen;
            }));
        }
        return hooks;
    }

    @Test
    void toLogitsEqualsFreezingEveryOtherHeadByHand() {
        try (ActivationCache target = model.runWithCache(clean); ActivationCache source = model.runWithCache(corrupted)) {
            PatchingResult batched = PathPatching.toLogits(model, clean, target, source, metric);
            for (int l = 0; l < 2; l++) {
                for (int h = 0; h < 4; h++) {
                    NDArray logits = model.runWithHooks(clean, frozenWithSender(target, source, 2, l, h).toArray(Hook[]::new));
                    assertEquals(metric.apply(logits).getDouble(), batched.values().getDouble(l, h), 1e-9, "sender " + l + "." + h);
                }
            }
            PatchingResult nothingChanges = PathPatching.toLogits(model, clean, target, target, metric);
            double cleanMetric = metric.apply(target.logits()).getDouble();
            for (int h = 0; h < 4; h++) {
                assertEquals(cleanMetric, nothingChanges.values().getDouble(1, h), 1e-9, "source = target changes nothing");
            }
        }
    }

    @Test
    void toReceiversEqualsTheTwoStepProcedureByHand() {
        List<PathPatching.Head> receivers = List.of(new PathPatching.Head(1, 0), new PathPatching.Head(1, 3));
        try (ActivationCache target = model.runWithCache(clean); ActivationCache source = model.runWithCache(corrupted)) {
            PatchingResult batched = PathPatching.toReceivers(model, clean, target, source, receivers, "q", metric);
            for (int h = 0; h < 4; h++) {
                List<Hook> step1 = frozenWithSender(target, source, 2, 0, h);
                List<NDArray> q = new ArrayList<>();
                step1.add(Hook.of("blocks.1.attn.hook_q", (act, hook) -> {
                    q.add(act.duplicate());
                    return null;
                }));
                model.runWithHooks(clean, step1.toArray(Hook[]::new));
                NDArray logits = model.runWithHooks(clean, Hook.of("blocks.1.attn.hook_q", (act, hook) -> {
                    NDArray copy = act.duplicate();
                    for (int r : new int[] {0, 3}) {
                        copy.set(new NDIndex(":, :, " + r + ", :"), q.get(0).get(":, :, " + r + ", :"));
                    }
                    return copy;
                }));
                assertEquals(metric.apply(logits).getDouble(), batched.values().getDouble(0, h), 1e-9, "sender 0." + h);
            }
            assertTrue(Double.isNaN(batched.values().getDouble(1, 0)), "no senders at or above the receivers");
        }
    }

    @Test
    void receiversInSeveralLayersMayBeListedInAnyOrder() {
        // Each receiver must get its own captured input whichever layer's hook fires first.
        HookedTransformer deep = HookedTransformer.create(dev.loupe.model.ModelConfig.builder().nLayers(3).dModel(16).nHeads(2)
                .dVocab(model.config().dVocab()).nCtx(model.config().nCtx()).dtype(DataType.FLOAT64).build(), 5);
        try (ActivationCache target = deep.runWithCache(clean); ActivationCache source = deep.runWithCache(corrupted)) {
            var later = new PathPatching.Head(2, 1);
            var earlier = new PathPatching.Head(1, 0);
            NDArray sorted = PathPatching.toReceivers(deep, clean, target, source, List.of(earlier, later), "q", metric).values();
            NDArray reversed = PathPatching.toReceivers(deep, clean, target, source, List.of(later, earlier), "q", metric).values();
            assertEquals(sorted.getDouble(0, 0), reversed.getDouble(0, 0), 1e-12);
            assertEquals(sorted.getDouble(0, 1), reversed.getDouble(0, 1), 1e-12);
            NDArray unchanged = PathPatching.toReceivers(deep, clean, target, target, List.of(later, earlier), "q", metric).values();
            assertEquals(metric.apply(target.logits()).getDouble(), unchanged.getDouble(0, 1), 1e-9, "source = target changes nothing");
        }
    }

    @Test
    void aSmallMemoryBudgetRunsTheSendersInSmallerChunksWithTheSameResults() {
        List<PathPatching.Head> receivers = List.of(new PathPatching.Head(1, 2));
        try (ActivationCache target = model.runWithCache(clean); ActivationCache source = model.runWithCache(corrupted)) {
            // With room for everything, one sender runs alone (measured) and the other three together.
            var large = BudgetRuns.under("16g", () -> PathPatching.toLogits(model, clean, target, source, metric));
            long perSender = large.peakBytes() / 3;
            var small = BudgetRuns.under(String.valueOf(perSender * 2), () -> PathPatching.toLogits(model, clean, target, source, metric));
            assertTrue(small.peakBytes() <= perSender * 2, "peak " + small.peakBytes() + " over the budget " + perSender * 2);
            assertTrue(small.peakBytes() < large.peakBytes(), small.peakBytes() + " vs " + large.peakBytes());
            assertArrayEquals(large.result().values().toDoubleArray(), small.result().values().toDoubleArray(), 1e-12);
            var toQ = BudgetRuns.under("16g", () -> PathPatching.toReceivers(model, clean, target, source, receivers, "q", metric));
            var toQSmall = BudgetRuns.under(String.valueOf(perSender * 2),
                    () -> PathPatching.toReceivers(model, clean, target, source, receivers, "q", metric));
            assertArrayEquals(toQ.result().values().toDoubleArray(), toQSmall.result().values().toDoubleArray(), 1e-12);
            MemoryBudgetException refused = assertThrows(MemoryBudgetException.class,
                    () -> BudgetRuns.under("1k", () -> PathPatching.toLogits(model, clean, target, source, metric)));
            assertTrue(refused.getMessage().startsWith("Path patching: one sender's copy of the batch"), refused.getMessage());
        }
    }
}

package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.hook.ActNames;
import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** runWithCache(tokens, filter, stopAtLayer), runWithCacheUpTo, and gradient caches that unembed only what the metric reads. */
class StopAtLayerTest {

    private final HookedTransformer model = HookedTransformer.create(ModelConfig.builder().modelName("tiny").nLayers(3)
            .dModel(16).nHeads(2).dMlp(32).dVocab(23).nCtx(12).dtype(DataType.FLOAT64).seed(3).build());
    private final NDArray tokens = Tensors.ofLongs(new long[] {1, 5, 7, 3, 9, 2, 4, 8, 6, 11, 0, 13}, new Shape(2, 6));

    @Test
    void theLayerAfterWhichAHookPointIsKnown() {
        assertEquals(OptionalInt.of(3), ActNames.stopAtLayerFor("blocks.3.hook_resid_pre"));
        assertEquals(OptionalInt.of(3), ActNames.stopAtLayerFor("blocks.3.hook_resid_pre.hook_sae_acts_post"));
        assertEquals(OptionalInt.of(4), ActNames.stopAtLayerFor("blocks.3.attn.hook_z"));
        assertEquals(OptionalInt.of(4), ActNames.stopAtLayerFor("blocks.3.hook_resid_post"));
        assertEquals(OptionalInt.of(0), ActNames.stopAtLayerFor("hook_pos_embed"));
        assertEquals(OptionalInt.empty(), ActNames.stopAtLayerFor("ln_final.hook_normalized"));
    }

    /** Every hook point the stopped run reaches holds exactly what the whole run makes there; the others are absent. */
    @Test
    void aRunStoppedAtALayerCachesWhatTheWholeRunMakesBeforeIt() {
        try (ActivationCache full = model.runWithCache(tokens, n -> true)) {
            for (int stop = 0; stop <= 3; stop++) {
                try (ActivationCache part = model.runWithCache(tokens, n -> true, stop)) {
                    List<String> reached = new ArrayList<>();
                    for (String name : full.keys()) {
                        OptionalInt needed = ActNames.stopAtLayerFor(name);
                        if (needed.isPresent() && needed.getAsInt() <= stop) {
                            reached.add(name);
                            assertArrayEquals(full.get(name).toDoubleArray(), part.get(name).toDoubleArray(), name + " at " + stop);
                        }
                    }
                    assertEquals(reached, new ArrayList<>(part.keys()), "stopped at " + stop);
                    assertEquals(stop < 3, part.contains("blocks." + stop + ".hook_resid_pre"), "the residual stream it hands on");
                    assertEquals(OptionalInt.of(stop), part.stopAtLayer());
                }
            }
        }
    }

    @Test
    void itHasNoLogitsAndSaysWhy() {
        try (ActivationCache part = model.runWithCache(tokens, n -> n.endsWith("hook_resid_post"), 1)) {
            IllegalStateException noLogits = assertThrows(IllegalStateException.class, part::logits);
            assertTrue(noLogits.getMessage().contains("stopped at layer 1") && noLogits.getMessage().contains("stopAtLayer"),
                    noLogits.getMessage());
            IllegalArgumentException later = assertThrows(IllegalArgumentException.class, () -> part.get("resid_post", 2));
            assertTrue(later.getMessage().contains("stopped at layer 1") && later.getMessage().contains("stopAtLayer >= 3"),
                    later.getMessage());
            IllegalArgumentException afterBlocks = assertThrows(IllegalArgumentException.class, () -> part.get("ln_final.hook_scale"));
            assertTrue(afterBlocks.getMessage().contains("a whole forward pass"), afterBlocks.getMessage());
            assertTrue(part.mimeBundle().data().get("text/html").contains("stopped at layer 1"));
            assertTrue(part.toString().contains("stopped at layer 1"), part.toString());
        }
    }

    @Test
    void layersOutsideTheModelAndFiltersOfUnreachedHookPointsAreRefused() {
        for (int stop : new int[] {-1, 4}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> model.runWithCache(tokens, n -> true, stop));
            assertTrue(e.getMessage().contains("stopAtLayer must be in [0, 3]") && e.getMessage().contains("got " + stop), e.getMessage());
        }
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
                () -> model.runWithCache(tokens, n -> n.startsWith("blocks.2.") || n.startsWith("ln_final"), 1));
        assertTrue(none.getMessage().contains("reaches none") && none.getMessage().contains("stopAtLayer >= 2"), none.getMessage());
    }

    /** The least layer that reaches every filtered hook point, or the whole pass for those after the blocks. */
    @Test
    void runWithCacheUpToStopsWhereTheLastFilteredActivationIsMade() {
        assertStopsAt(OptionalInt.of(2), "blocks.1.attn.hook_z", "hook_embed");
        assertStopsAt(OptionalInt.of(2), "blocks.2.hook_resid_pre");
        assertStopsAt(OptionalInt.of(0), "hook_embed", "blocks.0.hook_resid_pre");
        assertStopsAt(OptionalInt.empty(), "ln_final.hook_normalized", "blocks.0.hook_mlp_out");
    }

    private void assertStopsAt(OptionalInt stop, String... names) {
        List<String> wanted = List.of(names);
        try (ActivationCache full = model.runWithCache(tokens, wanted::contains);
             ActivationCache cache = model.runWithCacheUpTo(tokens, wanted::contains)) {
            assertEquals(stop, cache.stopAtLayer(), wanted.toString());
            for (String name : names) {
                assertArrayEquals(full.get(name).toDoubleArray(), cache.get(name).toDoubleArray(), name);
            }
            if (stop.isEmpty()) {
                assertArrayEquals(full.logits().toDoubleArray(), cache.logits().toDoubleArray());
            }
        }
    }

    /**
     * Unembedding only the position the metric reads gives its gradients to float64 rounding and the same activations;
     * the weights get no gradients either way.
     */
    @Test
    void aGradientCacheCanUnembedOnlyThePositionsTheMetricReads() {
        Function<NDArray, NDArray> metric = logits -> logits.get(":, -1, 3").sub(logits.get(":, -1, 5")).mean();
        try (ActivationCache all = model.runWithGradCache(tokens, n -> true, metric);
             ActivationCache last = model.runWithGradCache(tokens, n -> true, metric, new long[] {5, 5})) {
            assertEquals(new Shape(2, 1, 23), last.logits().getShape());
            for (String name : all.keys()) {
                if (!name.startsWith("ln_final")) { // the final norm sees the unembedded positions alone
                    assertArrayEquals(all.get(name).toDoubleArray(), last.get(name).toDoubleArray(), name);
                }
                double[] expected = all.grad(name).toDoubleArray();
                double[] got = last.grad(name).toDoubleArray();
                double scale = java.util.Arrays.stream(expected).map(Math::abs).max().orElse(0);
                for (int i = 0; i < expected.length && !name.startsWith("ln_final"); i++) {
                    assertEquals(expected[i], got[i], 1e-12 * (1 + scale), name + "[" + i + "]");
                }
            }
        }
        model.stateDict().forEach((name, p) -> assertFalse(p.hasGradient(), name + " has a gradient"));
        assertThrows(IllegalArgumentException.class, () -> model.runWithGradCache(tokens, n -> true, metric, new long[] {5}));
        assertThrows(IllegalArgumentException.class, () -> model.runWithGradCache(tokens, n -> true, metric, new long[] {5, 6}));
    }
}

package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.ReferenceCase;
import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Runs over the later positions of a sequence only, attending to the keys and values of the earlier ones in a cache,
 * against the run over every position: learned positions (GPT-2-like), shortformer positions, and rotary attention
 * with grouped-query heads, a local window shorter than the sequence, q/k norms and soft caps.
 */
class SuffixRunTest {

    static HookedTransformer model(String name) {
        if (name.equals("every_option")) {
            return HookedTransformer.create(ModelConfigTest.everyOption().toBuilder().dtype(DataType.FLOAT64).build(), 3);
        }
        return ReferenceCase.load(name).model(DataType.FLOAT64);
    }

    static NDArray tokens(HookedTransformer model) {
        Random r = new Random(7);
        long[] ids = new long[2 * 9]; // longer than every-option's window of 5
        for (int i = 0; i < ids.length; i++) {
            ids[i] = r.nextInt(model.config().dVocab());
        }
        return Tensors.ofLongs(ids, new Shape(2, 9));
    }

    /** The whole run on {@link #tokens}: its residual stream before and after each block, and its keys and values. */
    private record Run(HookedTransformer model, ActivationCache full, KvCache prefix) {
        static Run of(String name) {
            HookedTransformer model = SuffixRunTest.model(name);
            NDArray tokens = tokens(model);
            KvCache prefix = model.newKvCache();
            model.forward(tokens, prefix);
            return new Run(model, model.runWithCache(tokens, n -> n.endsWith("hook_resid_pre") || n.endsWith("hook_resid_post")),
                    prefix);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2_like", "attn_only_shortformer", "every_option"})
    void blocksOverLaterPositionsEqualTheWholeRunThere(String name) {
        Run run = Run.of(name);
        HookedTransformer model = run.model();
        ActivationCache full = run.full();
        KvCache prefix = run.prefix();
        int layers = model.config().nLayers();
        for (int start : new int[] {0, layers - 1}) {
            for (int from : new int[] {0, 1, 4, 8}) {
                String later = ":, " + from + ":";
                NDArray rows = Tensors.tile(full.get("resid_pre", start).get(later), 3); // copies of the batch, as patching runs them
                NDArray out = model.residualAt(start, layers, rows, prefix, from);
                NDArray expected = Tensors.tile(full.get("resid_post", layers - 1).get(later), 3);
                ReferenceCase.assertClose(expected, out, 1e-10, 1e-10, name + " from layer " + start + " position " + from);
            }
        }
        assertEquals(9, prefix.length(), "the cache is read, not extended");
    }

    /** Runs from several positions packed into one pass equal each run alone (and so the whole run there). */
    @ParameterizedTest
    @ValueSource(strings = {"gpt2_like", "attn_only_shortformer", "every_option"})
    void packedRunsEqualEachRunAlone(String name) {
        Run run = Run.of(name);
        int last = run.model().config().nLayers() - 1;
        int[] from = {0, 8, 1, 4, 4};
        int[] copies = {1, 3, 2, 1, 2};
        java.util.List<NDArray> runs = new java.util.ArrayList<>();
        for (int i = 0; i < from.length; i++) {
            runs.add(Tensors.tile(run.full().get("resid_pre", 0).get(":, " + from[i] + ":"), copies[i]));
        }
        java.util.List<NDArray> out = run.model().residualAt(0, last + 1, runs, run.prefix(), from);
        assertEquals(from.length, out.size());
        for (int i = 0; i < from.length; i++) {
            NDArray expected = Tensors.tile(run.full().get("resid_post", last).get(":, " + from[i] + ":"), copies[i]);
            ReferenceCase.assertClose(expected, out.get(i), 1e-10, 1e-10, name + " run " + i + " from position " + from[i]);
        }
    }

    @Test
    void packedRunsRefuseHooksAndMismatchedStarts() {
        HookedTransformer model = model("gpt2_like");
        NDArray tokens = tokens(model);
        KvCache prefix = model.newKvCache();
        model.forward(tokens, prefix);
        java.util.List<NDArray> runs = java.util.List.of(model.residualAt(tokens, 0).get(":, 4:"));
        var e = assertThrows(IllegalArgumentException.class, () -> model.residualAt(0, 1, runs, prefix, new int[] {4, 5}));
        assertTrue(e.getMessage().contains("1 residual streams and 2 starts"), e.getMessage());
        try (var hooks = model.hooks(dev.loupe.hook.Hook.of("blocks.0.hook_mlp_out", (a, h) -> a))) {
            var refused = assertThrows(IllegalStateException.class, () -> model.residualAt(0, 1, runs, prefix, new int[] {4}));
            assertTrue(refused.getMessage().contains("blocks.0.hook_mlp_out"), refused.getMessage());
        }
    }

    @Test
    void aCacheTooShortOrRowsThatAreNotCopiesOfItsBatchFail() {
        HookedTransformer model = model("gpt2_like");
        NDArray tokens = tokens(model);
        KvCache prefix = model.newKvCache();
        model.forward(tokens.get(":, :3"), prefix);
        NDArray residual = model.residualAt(tokens, 0).get(":, 4:");
        var e = assertThrows(IllegalArgumentException.class, () -> model.residualAt(0, 1, residual, prefix, 4));
        assertTrue(e.getMessage().contains("holds 3 positions"), e.getMessage());
        NDArray oneRow = residual.get("0:1");
        e = assertThrows(IllegalArgumentException.class, () -> model.residualAt(0, 1, oneRow, prefix, 2));
        assertTrue(e.getMessage().contains("not copies"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> model.residualAt(0, 1, residual, null, 4));
    }
}

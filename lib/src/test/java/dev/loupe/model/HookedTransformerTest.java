package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.ReferenceCase;
import dev.loupe.hook.Hook;
import dev.loupe.hook.HookShapeException;
import dev.loupe.hook.UnknownHookException;
import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static dev.loupe.ReferenceCase.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HookedTransformerTest {

    private final ReferenceCase gpt2 = ReferenceCase.load("gpt2_like");
    private final HookedTransformer model = gpt2.model(DataType.FLOAT32);

    @Test
    void identityHooksLeaveLogitsBitIdentical() {
        float[] plain = model.forward(gpt2.tokens()).toFloatArray();
        List<String> seen = new ArrayList<>();
        // Every point but hook_result: watching per-head results switches to summing them, a different rounding.
        NDArray hooked = model.runWithHooks(gpt2.tokens(), Hook.matching(n -> !n.endsWith("hook_result"), (a, h) -> {
            seen.add(h.name());
            return a;
        }));
        assertArrayEquals(plain, hooked.toFloatArray());
        assertEquals(model.hookNames().size() - 2, seen.size());
        NDArray copied = model.runWithHooks(gpt2.tokens(), Hook.matching(n -> !n.endsWith("hook_result"), (a, h) -> a.duplicate()));
        assertArrayEquals(plain, copied.toFloatArray());
    }

    @Test
    void activeHookNamesTheFirstHookedPointInForwardOrderWhileTheSessionIsOpen() {
        assertEquals(Optional.empty(), model.activeHook());
        try (var s = model.hooks(Hook.of("blocks.1.hook_attn_out", (a, h) -> a), Hook.of("blocks.0.hook_resid_pre", (a, h) -> a))) {
            assertEquals(Optional.of("blocks.0.hook_resid_pre"), model.activeHook());
        }
        assertEquals(Optional.empty(), model.activeHook());
    }

    @Test
    void patternRowsSumToOneAndAreCausal() {
        try (ActivationCache cache = model.runWithCache(gpt2.tokens(), n -> n.endsWith("hook_pattern"))) {
            assertEquals(2, cache.size());
            NDArray pattern = cache.get("pattern", 1);
            long pos = pattern.getShape().get(2);
            assertEquals(new Shape(2, 4, pos, pos), pattern.getShape());
            assertClose(pattern.getManager().ones(new Shape(2, 4, pos)), pattern.sum(new int[] {-1}), 1e-6, 0, "row sums");
            float[] p = pattern.toFloatArray();
            for (int i = 0; i < p.length; i++) {
                long q = (i / pos) % pos;
                long k = i % pos;
                if (k > q) {
                    assertEquals(0f, p[i], "attention to a later position");
                }
            }
        }
    }

    @Test
    void hookNamesAreInExecutionOrderAndCacheKeysFollowThem() {
        List<String> names = model.hookNames();
        assertEquals("hook_embed", names.get(0));
        assertEquals("ln_final.hook_normalized", names.get(names.size() - 1));
        try (ActivationCache cache = model.runWithCache(gpt2.tokens(), name -> true)) {
            assertEquals(names, new ArrayList<>(cache.keys()));
        }
        try (ActivationCache cache = model.runWithCache(gpt2.tokens())) {
            assertEquals(names.stream().filter(n -> !n.endsWith("hook_result")).toList(), new ArrayList<>(cache.keys()));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cache.get("result", 0));
            assertTrue(e.getMessage().contains("name -> true"), e.getMessage());
        }
    }

    @Test
    void leftAndRightPaddingDoNotChangeTheLogitsOfRealTokens() {
        NDArray tokens = gpt2.tokens().get("0:1, :"); // [1, 12]
        NDArray expected = gpt2.expected().get("logits").get("0:1, :, :");
        long[] ids = tokens.toLongArray();
        int pad = 3;
        long[] left = new long[ids.length + pad];
        long[] right = new long[ids.length + pad];
        long[] leftMask = new long[ids.length + pad];
        long[] rightMask = new long[ids.length + pad];
        for (int i = 0; i < ids.length; i++) {
            left[i + pad] = ids[i];
            leftMask[i + pad] = 1;
            right[i] = ids[i];
            rightMask[i] = 1;
        }
        Shape shape = new Shape(1, ids.length + pad);
        NDArray leftLogits = model.forward(Tensors.ofLongs(left, shape), Tensors.ofLongs(leftMask, shape));
        assertClose(expected, leftLogits.get(":, " + pad + ":, :"), 5e-5, 5e-5, "left-padded logits");
        NDArray rightLogits = model.forward(Tensors.ofLongs(right, shape), Tensors.ofLongs(rightMask, shape));
        assertClose(expected, rightLogits.get(":, :" + ids.length + ", :"), 5e-5, 5e-5, "right-padded logits");
    }

    @Test
    void unknownHookNameSuggestsTheClosest() {
        UnknownHookException e = assertThrows(UnknownHookException.class,
                () -> model.runWithHooks(gpt2.tokens(), Hook.of("blocks.1.attn.hook_patern", (a, h) -> a)));
        assertTrue(e.getMessage().contains("blocks.1.attn.hook_pattern"), e.getMessage());
    }

    @Test
    void hookReturningTheWrongShapeNamesTheHookAndBothShapesAndIsRemoved() {
        String name = "blocks.0.hook_resid_mid";
        HookShapeException e = assertThrows(HookShapeException.class,
                () -> model.runWithHooks(gpt2.tokens(), Hook.of(name, (a, h) -> a.get(":, :, 0:3"))));
        assertTrue(e.getMessage().contains(name) && e.getMessage().contains("(2, 12, 3)")
                && e.getMessage().contains("(2, 12, 64)"), e.getMessage());
        assertEquals(0, model.hookPoint(name).hookCount(), "hooks are removed after a failed run");
        assertClose(gpt2.expected().get("logits"), model.forward(gpt2.tokens()), 5e-5, 5e-5, "next run is clean");
    }

    @Test
    void tokenIdsOutOfRangeAndSequencesOverNCtxFailClearly() {
        IllegalArgumentException outOfRange = assertThrows(IllegalArgumentException.class,
                () -> model.forward(Tensors.tokens(1, 2, 97)));
        assertTrue(outOfRange.getMessage().contains("97") && outOfRange.getMessage().contains("[0, 96]"), outOfRange.getMessage());
        assertThrows(IllegalArgumentException.class, () -> model.forward(Tensors.tokens(-1)));
        IllegalArgumentException tooLong = assertThrows(IllegalArgumentException.class,
                () -> model.forward(Tensors.tokens(new int[33])));
        assertTrue(tooLong.getMessage().contains("n_ctx = 32") && tooLong.getMessage().contains("33"), tooLong.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> model.forward(Tensors.ofFloats(new float[] {1, 2}, new Shape(1, 2))));
    }

    @Test
    void aFilterThatMatchesNothingFailsInsteadOfCachingNothing() {
        assertThrows(IllegalArgumentException.class, () -> model.runWithCache(gpt2.tokens(), n -> n.contains("hook_patern")));
        try (ActivationCache cache = model.runWithCache(gpt2.tokens(), n -> n.endsWith("hook_z"))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cache.get("blocks.0.attn.hook_q"));
            assertTrue(e.getMessage().contains("names filter"), e.getMessage());
        }
    }

    @Test
    void scopedHooksStayForSeveralRunsAndGoOnCloseEvenAfterAnException() {
        int[] calls = {0};
        String name = "blocks.1.hook_resid_pre";
        assertThrows(IllegalStateException.class, () -> {
            try (var session = model.hooks(Hook.of(name, (a, h) -> {
                calls[0]++;
                return a;
            }))) {
                model.forward(gpt2.tokens());
                model.forward(gpt2.tokens());
                throw new IllegalStateException("user code failed");
            }
        });
        assertEquals(2, calls[0]);
        assertEquals(0, model.hookPoint(name).hookCount());
    }

    @Test
    void arraysAHookKeepsOutliveTheForwardPass() {
        List<NDArray> kept = new ArrayList<>();
        model.runWithHooks(gpt2.tokens(), Hook.of("blocks.0.attn.hook_z", (z, h) -> {
            kept.add(z.get(":, :, 1, :").mul(2));
            return null;
        }));
        try (ActivationCache cache = model.runWithCache(gpt2.tokens())) {
            assertClose(cache.get("z", 0).get(":, :, 1, :").mul(2), kept.get(0), 0, 0, "kept array");
        }
    }

    @Test
    void shortNamesFollowGetActName() {
        try (ActivationCache cache = model.runWithCache(gpt2.tokens())) {
            assertEquals(cache.get("blocks.1.attn.hook_pattern"), cache.get("pattern", 1));
            assertEquals(cache.get("blocks.1.attn.hook_pattern"), cache.get("attn", 1));
            assertEquals(cache.get("blocks.0.mlp.hook_pre"), cache.get("pre0"));
            assertEquals(cache.get("blocks.1.ln1.hook_scale"), cache.get("scale1ln1"));
            assertEquals(cache.get("ln_final.hook_scale"), cache.get("scale"));
            assertEquals(cache.get("hook_embed"), cache.get("embed"));
            assertTrue(cache.memoryBytes() > 0);
        }
    }

    @Test
    void gradientCacheMatchesFiniteDifferences() {
        HookedTransformer m64 = gpt2.model(DataType.FLOAT64);
        NDArray tokens = gpt2.tokens();
        String name = "blocks.1.hook_resid_pre";
        java.util.function.Function<NDArray, NDArray> metric = logits -> logits.get("0, -1, 5").sub(logits.get("1, -1, 7"));
        try (ActivationCache cache = m64.runWithGradCache(tokens, n -> n.equals(name), metric)) {
            NDArray grad = cache.grad(name);
            assertEquals(cache.get(name).getShape(), grad.getShape());
            double h = 1e-5;
            for (String at : List.of("0, 11, 3", "1, 11, 40", "0, 4, 10", "1, 0, 63")) {
                double plus = metric.apply(nudged(m64, tokens, name, at, h)).getDouble();
                double minus = metric.apply(nudged(m64, tokens, name, at, -h)).getDouble();
                double numeric = (plus - minus) / (2 * h);
                assertEquals(numeric, grad.get(at).getDouble(), 1e-6, "d metric / d " + name + "[" + at + "]");
            }
        }
    }

    private static NDArray nudged(HookedTransformer m, NDArray tokens, String name, String at, double h) {
        return m.runWithHooks(tokens, Hook.of(name, (a, hook) -> {
            NDArray copy = a.duplicate();
            copy.set(new NDIndex(at), a.get(at).getDouble() + h);
            return copy;
        }));
    }

    @Test
    void weightsByTransformerLensNames() {
        ModelConfig c = gpt2.config();
        assertEquals(new Shape(c.dVocab(), c.dModel()), model.W_E().getShape());
        assertEquals(new Shape(c.nHeads(), c.dModel(), c.dHead()), model.W_Q(1).getShape());
        assertEquals(new Shape(c.nHeads(), c.dHead(), c.dModel()), model.W_O(0).getShape());
        assertEquals(new Shape(c.dModel(), c.dMlp()), model.W_in(1).getShape());
        assertEquals(new Shape(c.dModel(), c.dVocabOut()), model.W_U().getShape());
        assertThrows(IllegalArgumentException.class, () -> model.W_Q(2));
    }
}

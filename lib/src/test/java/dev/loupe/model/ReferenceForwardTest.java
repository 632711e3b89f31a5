package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import dev.loupe.ReferenceCase;
import dev.loupe.hook.Hook;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

import java.util.Set;
import java.util.TreeSet;

import static dev.loupe.ReferenceCase.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The forward pass against the independent numpy implementation (float64) on five architectures.
 *
 * <p>Tolerances. float32: 5e-5 absolute + 5e-5 relative. Weights are the same float32 numbers on both
 * sides, so the difference is float32 rounding (unit roundoff 6e-8) accumulated over sums of up to 256
 * terms, softmaxes and up to 3 layers, on activations of order 1–20: the largest errors seen are 1.4e-6 to
 * 4.8e-6 (attention scores), a tenth of the bound, which leaves room for another BLAS without hiding a
 * wrong formula (those are off by 1e-2 or more; removing one head moves logits by up to 2.8).
 * float64: 1e-10, the same arithmetic in double precision.
 */
class ReferenceForwardTest {

    static final double ATOL32 = 5e-5;
    static final double RTOL32 = 5e-5;
    static final double TOL64 = 1e-10;

    @ParameterizedTest
    @FieldSource("dev.loupe.ReferenceCase#NAMES")
    void everyActivationAndTheLogitsMatchTheReference(String name) {
        ReferenceCase c = ReferenceCase.load(name);
        HookedTransformer model = c.model(DataType.FLOAT32);
        try (ActivationCache cache = model.runWithCache(c.tokens(), hook -> true)) {
            Set<String> expectedHooks = new TreeSet<>(c.expected().keySet());
            expectedHooks.removeAll(Set.of("tokens", "logits", "loss_per_token", "ablated_logits"));
            assertEquals(expectedHooks, new TreeSet<>(cache.keys()), "hook points of " + name);
            for (String hook : expectedHooks) {
                assertClose(c.expected().get(hook), cache.get(hook), ATOL32, RTOL32, name + " " + hook);
            }
            assertClose(c.expected().get("logits"), cache.logits(), ATOL32, RTOL32, name + " logits (cached run)");
        }
        assertClose(c.expected().get("logits"), model.forward(c.tokens()), ATOL32, RTOL32, name + " logits");
        if (c.expected().containsKey("loss_per_token")) {
            assertClose(c.expected().get("loss_per_token"), model.lossPerToken(c.tokens()), ATOL32, RTOL32, name + " loss");
        }
    }

    @ParameterizedTest
    @FieldSource("dev.loupe.ReferenceCase#NAMES")
    void float64ModelMatchesTheReferenceToDoublePrecision(String name) {
        ReferenceCase c = ReferenceCase.load(name);
        HookedTransformer model = c.model(DataType.FLOAT64);
        try (ActivationCache cache = model.runWithCache(c.tokens())) {
            assertEquals(DataType.FLOAT64, cache.logits().getDataType());
            assertClose(c.expected().get("logits"), cache.logits(), TOL64, TOL64, name + " float64 logits");
            String lastResid = "blocks." + (c.config().nLayers() - 1) + ".hook_resid_post";
            assertClose(c.expected().get(lastResid), cache.get(lastResid), TOL64, TOL64, name + " float64 " + lastResid);
        }
    }

    @ParameterizedTest
    @FieldSource("dev.loupe.ReferenceCase#NAMES")
    void zeroingOneHeadsZMatchesTheReferenceWithThatHeadRemoved(String name) {
        ReferenceCase c = ReferenceCase.load(name);
        HookedTransformer model = c.model(DataType.FLOAT32);
        int head = c.ablateHead();
        NDArray logits = model.runWithHooks(c.tokens(), Hook.of("blocks." + c.ablateLayer() + ".attn.hook_z", (z, hook) -> {
            NDArray copy = z.duplicate();
            copy.set(new ai.djl.ndarray.index.NDIndex(":, :, {}, :", head), 0f);
            return copy;
        }));
        assertClose(c.expected().get("ablated_logits"), logits, ATOL32, RTOL32, name + " ablated logits");
    }
}

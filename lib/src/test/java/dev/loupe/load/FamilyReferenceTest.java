package dev.loupe.load;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;

import dev.loupe.FamilyCase;
import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.KvCache;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static dev.loupe.ReferenceCase.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Each family's converter and components against the independent numpy float64 implementation in
 * lib/src/test/reference/families (written from the Hugging Face model definitions): a tiny random checkpoint in
 * the exact Hugging Face layout, loaded from its folder as a user would, compared at every hook point.
 *
 * <p>Tolerances. float32: 5e-5 absolute + 5e-5 relative (the weights are the same numbers on both sides, so what
 * is left is float32 rounding over a few layers; see ReferenceForwardTest). float64: 1e-9, the same arithmetic in
 * double precision. Processed loads (norms folded, centring, value biases folded) must keep log-probabilities
 * within 1e-4 of the reference's.
 */
class FamilyReferenceTest {

    static final double ATOL32 = 5e-5;
    static final double RTOL32 = 5e-5;
    static final double TOL64 = 1e-9;

    static List<String> cases() {
        return FamilyCase.names();
    }

    private static Map<String, NDArray> expected(String name) {
        return FamilyCase.of(name).expected();
    }

    private static HookedTransformer load(String name, LoadOptions options) {
        return FamilyCase.of(name).load(options);
    }

    @ParameterizedTest
    @MethodSource("cases")
    void everyHookPointAndTheLogitsMatchTheReferenceInFloat32(String name) {
        compare(name, DataType.FLOAT32, ATOL32, RTOL32);
    }

    @ParameterizedTest
    @MethodSource("cases")
    void everyHookPointAndTheLogitsMatchTheReferenceInFloat64(String name) {
        compare(name, DataType.FLOAT64, TOL64, TOL64);
    }

    private static void compare(String name, DataType dtype, double atol, double rtol) {
        Map<String, NDArray> expected = expected(name);
        try (HookedTransformer model = load(name, LoadOptions.noProcessing().dtype(dtype));
             ActivationCache cache = model.runWithCache(expected.get("tokens"), hook -> true)) {
            Set<String> hooks = new TreeSet<>(expected.keySet());
            hooks.removeAll(Set.of("tokens", "logits", "loss_per_token"));
            assertEquals(hooks, new TreeSet<>(cache.keys()), "hook points of " + name);
            for (String hook : hooks) {
                assertClose(expected.get(hook), cache.get(hook), atol, rtol, name + " " + dtype + " " + hook);
            }
            assertClose(expected.get("logits"), cache.logits(), atol, rtol, name + " " + dtype + " logits");
            assertClose(expected.get("loss_per_token"), model.lossPerToken(expected.get("tokens")), atol, rtol, name + " loss");
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void processedWeightsKeepTheLogProbabilities(String name) {
        Map<String, NDArray> expected = expected(name);
        NDArray reference = expected.get("logits").logSoftmax(-1);
        try (HookedTransformer model = load(name, LoadOptions.defaults())) {
            NDArray logProbs = model.forward(expected.get("tokens")).toType(DataType.FLOAT64, false).logSoftmax(-1);
            assertClose(reference, logProbs, 1e-4, 0, name + " processed log-probs");
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void generatingWithTheKeyValueCacheEqualsFullForwardPasses(String name) {
        NDArray tokens = expected(name).get("tokens");
        long pos = tokens.getShape().get(1);
        try (HookedTransformer model = load(name, LoadOptions.noProcessing().dtype(DataType.FLOAT64))) {
            NDArray full = model.forward(tokens);
            KvCache cache = model.newKvCache();
            long prompt = pos / 2;
            NDList pieces = new NDList(model.forward(tokens.get(":, :" + prompt), cache));
            for (long t = prompt; t < pos; t++) {
                pieces.add(model.forward(tokens.get(":, " + t + ":" + (t + 1)), cache));
            }
            assertClose(full, NDArrays.concat(pieces, 1), TOL64, TOL64, name + " logits with the cache");
        }
    }
}

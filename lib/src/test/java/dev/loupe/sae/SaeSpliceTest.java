package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.hook.Hook;
import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An SAE spliced into a float64 model against the same arithmetic written out by hand in a plain hook: without the
 * error term the activation is replaced by the reconstruction; with it the model runs unchanged, and a zeroed feature
 * removes exactly its decoder row times its activation.
 */
class SaeSpliceTest {

    private static final String HOOK = "blocks.1.hook_resid_pre";
    private static final int D = 16;
    private static final int D_SAE = 40;

    private final HookedTransformer model = HookedTransformer.create(ModelConfig.builder().modelName("tiny")
            .nLayers(2).dModel(D).nHeads(2).dMlp(32).dVocab(23).nCtx(12).dtype(DataType.FLOAT64).seed(3).build());
    private final NDArray tokens = Tensors.ofLongs(new long[] {1, 5, 7, 3, 9, 2, 4, 8, 6, 11, 0, 13}, new Shape(2, 6));

    static Map<String, NDArray> randomWeights(SaeConfig cfg, long seed) {
        Random r = new Random(seed);
        Map<String, NDArray> w = new java.util.LinkedHashMap<>();
        Sae.parameterShapes(cfg).forEach((name, shape) -> {
            double[] v = new double[(int) shape.size()];
            for (int i = 0; i < v.length; i++) {
                v[i] = name.equals("threshold") ? 0.2 * r.nextDouble() : 0.3 * r.nextGaussian();
            }
            w.put(name, Tensors.ofDoubles(v, shape));
        });
        return w;
    }

    private Sae standard() {
        SaeConfig cfg = SaeConfig.standard(HOOK, D, D_SAE);
        return Sae.fromWeights(cfg, randomWeights(cfg, 7));
    }

    /** f = relu((x − b_dec) W_enc + b_enc), written out apart from the SAE's code. */
    private static NDArray features(Sae sae, NDArray x) {
        return x.sub(sae.b_dec()).matMul(sae.W_enc()).add(sae.b_enc()).maximum(0.0);
    }

    private static NDArray recons(Sae sae, NDArray f) {
        return f.matMul(sae.W_dec()).add(sae.b_dec());
    }

    private static double maxDiff(NDArray a, NDArray b) {
        return Tensors.item(a.sub(b).abs().max());
    }

    @Test
    void withoutTheErrorTermTheActivationIsTheReconstruction() {
        Sae sae = standard();
        NDArray spliced;
        try (var s = model.saes(sae)) {
            spliced = model.forward(tokens);
        }
        NDArray byHand = model.runWithHooks(tokens, Hook.of(HOOK, (x, h) -> recons(sae, features(sae, x))));
        assertTrue(maxDiff(spliced, byHand) < 1e-12, "spliced vs by hand: " + maxDiff(spliced, byHand));
        assertTrue(maxDiff(spliced, model.forward(tokens)) > 1e-3, "a random SAE changes the logits");
    }

    @Test
    void theErrorTermLeavesTheModelUnchangedAndAblationRemovesOneRow() {
        Sae sae = standard().useErrorTerm(true);
        NDArray clean = model.forward(tokens);
        int feature = 3;
        NDArray ablated;
        try (var s = model.saes(sae)) {
            assertTrue(maxDiff(model.forward(tokens), clean) < 1e-12);
            ablated = model.runWithHooks(tokens, Hook.of(HOOK + ".hook_sae_acts_post", (f, h) -> {
                NDArray mask = f.onesLike();
                mask.set(new ai.djl.ndarray.index.NDIndex("..., {}", feature), 0.0);
                return f.mul(mask);
            }));
        }
        NDArray byHand = model.runWithHooks(tokens, Hook.of(HOOK, (x, h) -> {
            NDArray f = features(sae, x).get("..., {}:{}", feature, feature + 1);
            return x.sub(f.matMul(sae.W_dec().get("{}:{}, :", feature, feature + 1)));
        }));
        assertTrue(maxDiff(ablated, byHand) < 1e-12, "ablated vs by hand: " + maxDiff(ablated, byHand));
        assertTrue(maxDiff(ablated, clean) > 1e-6, "feature 3 is active somewhere and matters");
    }

    @Test
    void theCacheAndHookNamesHoldTheSaesPointsOnlyWhileSpliced() {
        Sae sae = standard().useErrorTerm(true);
        List<String> before = model.hookNames();
        try (var s = model.saes(sae)) {
            List<String> names = model.hookNames();
            int at = names.indexOf(HOOK);
            assertEquals(sae.hookNames(), names.subList(at + 1, at + 7));
            ActivationCache cache = model.runWithCache(tokens);
            assertEquals(new Shape(2, 6, D_SAE), cache.get(HOOK + ".hook_sae_acts_post").getShape());
            assertTrue(maxDiff(cache.get(HOOK + ".hook_sae_acts_post"), features(sae, cache.get(HOOK + ".hook_sae_input"))) < 1e-12);
            NDArray sum = cache.get(HOOK + ".hook_sae_recons").add(cache.get(HOOK + ".hook_sae_error"));
            assertTrue(maxDiff(sum, cache.get(HOOK + ".hook_sae_input")) < 1e-12);
            assertThrows(IllegalArgumentException.class, () -> model.saes(sae), "the same SAE twice");
        }
        assertEquals(before, model.hookNames());
    }

    @Test
    void featureGradientsReachTheCache() {
        Sae sae = standard().useErrorTerm(true);
        try (var s = model.saes(sae)) {
            ActivationCache cache = model.runWithGradCache(tokens, n -> n.endsWith("hook_sae_acts_post"),
                    logits -> logits.get(":, -1, 2").sum());
            NDArray grad = cache.grad(HOOK + ".hook_sae_acts_post");
            assertEquals(new Shape(2, 6, D_SAE), grad.getShape());
            assertTrue(Tensors.item(grad.abs().sum()) > 0);
        }
    }

    @Test
    void aTranscoderReplacesTheMlpOutputFromWhatTheMlpReads() {
        SaeConfig cfg = SaeConfig.transcoder("blocks.0.hook_resid_mid", D, "blocks.0.hook_mlp_out", D, D_SAE);
        Sae tc = Sae.fromWeights(cfg, randomWeights(cfg, 11));
        NDArray clean = model.forward(tokens);
        NDArray spliced;
        try (var s = model.saes(tc)) {
            spliced = model.forward(tokens);
        }
        NDArray[] input = new NDArray[1];
        NDArray byHand = model.runWithHooks(tokens, Hook.of("blocks.0.hook_resid_mid", (x, h) -> {
            input[0] = x;
            return x;
        }), Hook.of("blocks.0.hook_mlp_out", (y, h) -> input[0].matMul(tc.W_enc()).add(tc.b_enc()).maximum(0.0)
                .matMul(tc.W_dec()).add(tc.b_dec())));
        assertTrue(maxDiff(spliced, byHand) < 1e-12, "transcoder vs by hand: " + maxDiff(spliced, byHand));
        try (var s = model.saes(tc.useErrorTerm(true))) {
            assertTrue(maxDiff(model.forward(tokens), clean) < 1e-12);
        }
        SaeConfig backwards = SaeConfig.transcoder("blocks.1.hook_resid_mid", D, "blocks.0.hook_mlp_out", D, D_SAE);
        assertThrows(IllegalArgumentException.class, () -> model.saes(Sae.fromWeights(backwards, randomWeights(backwards, 1))));
    }

    @Test
    void topKKeepsKFeaturesPerToken() {
        SaeConfig cfg = SaeConfig.topK(HOOK, D, D_SAE, 5);
        Sae sae = Sae.fromWeights(cfg, randomWeights(cfg, 5));
        NDArray x = Tensors.ofDoubles(new Random(2).doubles(3 * D).map(v -> 2 * v - 1).toArray(), new Shape(3, D));
        NDArray f = sae.encode(x);
        NDArray nonzero = f.gt(0.0).toType(DataType.INT32, false).sum(new int[] {1});
        for (int i = 0; i < 3; i++) {
            assertTrue(Tensors.item(nonzero, i) <= 5);
        }
        NDArray pre = x.sub(sae.b_dec()).matMul(sae.W_enc()).add(sae.b_enc());
        NDArray kth = pre.sort(1).get(":, {}", D_SAE - 5);
        NDArray byHand = pre.mul(pre.gte(kth.expandDims(1)).toType(DataType.FLOAT64, false)).maximum(0.0);
        assertTrue(maxDiff(f, byHand) < 1e-12);
    }

    @Test
    void wrongShapesNameTheTensor() {
        SaeConfig cfg = SaeConfig.standard(HOOK, D, D_SAE);
        Map<String, NDArray> w = randomWeights(cfg, 7);
        w.put("W_dec", Tensors.ofDoubles(new double[D * D_SAE], new Shape(D, D_SAE)));
        var e = assertThrows(SaeFormatException.class, () -> Sae.fromWeights(cfg, w));
        assertTrue(e.getMessage().contains("W_dec") && e.getMessage().contains("(40, 16)"), e.getMessage());
        SaeConfig wide = SaeConfig.standard(HOOK, D + 1, D_SAE);
        try (var s = model.saes(Sae.fromWeights(wide, randomWeights(wide, 2)))) {
            var wrong = assertThrows(SaeFormatException.class, () -> model.forward(tokens));
            assertTrue(wrong.getMessage().contains("d_in: expected 17"), wrong.getMessage());
        }
        assertFalse(model.hookNames().contains(HOOK + ".hook_sae_input"));
    }
}

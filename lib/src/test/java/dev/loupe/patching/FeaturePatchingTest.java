package dev.loupe.patching;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.hook.Hook;
import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.sae.Sae;
import dev.loupe.sae.SaeConfig;
import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Feature patching against one hooked forward pass per patch, on MLP neurons with plain hooks and on SAE features
 * spliced with the error term; feature attribution against the linear estimate worked out from the weights; feature
 * ablations against the decoder arithmetic.
 */
class FeaturePatchingTest {

    private static final int D = 16;
    private static final int D_SAE = 24;
    private final NDArray clean = Tensors.ofLongs(new long[] {1, 5, 7, 3, 9, 2, 4, 8, 6, 11, 0, 13}, new Shape(2, 6));
    private final NDArray corrupted = Tensors.ofLongs(new long[] {1, 5, 12, 3, 9, 2, 4, 8, 6, 19, 0, 13}, new Shape(2, 6));
    private final Function<NDArray, NDArray> metric = logits -> logits.get(":, -1, 2").sub(logits.get(":, -1, 5")).sum();

    private static HookedTransformer model(ModelConfig.Normalization norm) {
        return HookedTransformer.create(ModelConfig.builder().modelName("tiny").nLayers(2).dModel(D).nHeads(2).dMlp(32)
                .dVocab(23).nCtx(12).normalization(norm).dtype(DataType.FLOAT64).seed(5).build());
    }

    private static Sae sae(String hook, long seed) {
        SaeConfig cfg = SaeConfig.standard(hook, D, D_SAE);
        Random r = new Random(seed);
        Map<String, NDArray> w = new LinkedHashMap<>();
        Sae.parameterShapes(cfg).forEach((name, shape) ->
                w.put(name, Tensors.ofDoubles(r.doubles(shape.size()).map(v -> 0.6 * (v - 0.4)).toArray(), shape)));
        return Sae.fromWeights(cfg, w).useErrorTerm(true);
    }

    /** TransformerLens's way: a forward pass per (feature, position), the entry set to the source's value. */
    private double[][] onePerPatch(HookedTransformer model, ActivationCache source, String name, int[] features) {
        double[][] out = new double[features.length][6];
        for (int i = 0; i < features.length; i++) {
            for (int p = 0; p < 6; p++) {
                String at = ":, " + p + ", " + features[i];
                NDArray logits = model.runWithHooks(corrupted, Hook.of(name, (a, h) -> {
                    NDArray copy = a.duplicate();
                    copy.set(new NDIndex(at), source.get(name).get(at));
                    return copy;
                }));
                out[i][p] = Tensors.item(metric.apply(logits));
            }
        }
        return out;
    }

    private void assertEqualsOnePerPatch(HookedTransformer model, ActivationCache source, String name, int[] features) {
        PatchingResult batched = Patching.features(model, corrupted, source, metric, name, features);
        assertEquals(new Shape(features.length, 6), batched.values().getShape());
        double[][] expected = onePerPatch(model, source, name, features);
        double unpatched = Tensors.item(metric.apply(model.forward(corrupted)));
        boolean moved = false;
        for (int i = 0; i < features.length; i++) {
            for (int p = 0; p < 6; p++) {
                assertEquals(expected[i][p], batched.at(i, p), 1e-10, name + " feature " + features[i] + " pos " + p);
                moved |= Math.abs(expected[i][p] - unpatched) > 1e-6;
            }
        }
        assertTrue(moved, "some patch changes the metric");
    }

    @Test
    void patchingMlpNeuronsEqualsOneForwardPerPatch() {
        HookedTransformer model = model(ModelConfig.Normalization.LN);
        try (ActivationCache source = model.runWithCache(clean)) {
            assertEqualsOnePerPatch(model, source, "blocks.0.mlp.hook_post", new int[] {3, 0, 31});
        }
    }

    @Test
    void patchingSaeFeaturesEqualsOneForwardPerPatch() {
        HookedTransformer model = model(ModelConfig.Normalization.LN);
        Sae sae = sae("blocks.1.hook_resid_pre", 2);
        try (var s = model.saes(sae); ActivationCache source = model.runWithCache(clean)) {
            assertEqualsOnePerPatch(model, source, "blocks.1.hook_resid_pre.hook_sae_acts_post", new int[] {5, 0, 17, 23});
        }
    }

    /**
     * Without norms and with the SAE on the last residual stream, logits = (f W_dec + b_dec + error) W_U + b_U: the metric's
     * gradient with respect to feature i at the last position is W_dec[i] · (W_U[:, 2] − W_U[:, 5]), zero elsewhere.
     */
    @Test
    void attributionIsTheLinearEstimateFromTheWeightsAndEqualsExactPatchingWhereTheMetricIsLinear() {
        HookedTransformer model = model(ModelConfig.Normalization.NONE);
        Sae sae = sae("blocks.1.hook_resid_post", 3);
        String name = "blocks.1.hook_resid_post.hook_sae_acts_post";
        try (var s = model.saes(sae)) {
            PatchingResult estimates = AttributionPatching.features(model, clean, corrupted, metric, name);
            assertEquals(new Shape(6, D_SAE), estimates.values().getShape());
            double[] f1 = model.runWithCache(clean, name::equals).get(name).toDoubleArray();
            double[] f0 = model.runWithCache(corrupted, name::equals).get(name).toDoubleArray();
            double[] wDec = sae.W_dec().toDoubleArray();
            double[] wU = model.W_U().toDoubleArray();
            int vocab = model.config().dVocab();
            double largest = 0;
            for (int p = 0; p < 6; p++) {
                for (int i = 0; i < D_SAE; i++) {
                    double expected = 0;
                    if (p == 5) {
                        double grad = 0;
                        for (int d = 0; d < D; d++) {
                            grad += wDec[i * D + d] * (wU[d * vocab + 2] - wU[d * vocab + 5]);
                        }
                        for (int b = 0; b < 2; b++) {
                            int at = (b * 6 + p) * D_SAE + i;
                            expected += (f1[at] - f0[at]) * grad;
                        }
                    }
                    assertEquals(expected, estimates.at(p, i), 1e-10, "pos " + p + " feature " + i);
                    largest = Math.max(largest, Math.abs(expected));
                }
            }
            assertTrue(largest > 1e-3, "the corrupted tokens move some feature at the last position");
            try (ActivationCache source = model.runWithCache(clean)) {
                int[] features = {0, 7, 19};
                PatchingResult exact = Patching.features(model, corrupted, source, metric, name, features);
                double unpatched = Tensors.item(metric.apply(model.forward(corrupted)));
                for (int j = 0; j < features.length; j++) {
                    assertEquals(exact.at(j, 5) - unpatched, estimates.at(5, features[j]), 1e-10);
                }
            }
        }
    }

    /** With the error term, ablating feature i moves the activation by (new − old value of f_i) · W_dec[i]. */
    @Test
    void zeroAndMeanFeatureAblationsMoveTheActivationAlongTheDecoderRow() {
        HookedTransformer model = model(ModelConfig.Normalization.LN);
        Sae sae = sae("blocks.1.hook_resid_pre", 4);
        String name = "blocks.1.hook_resid_pre.hook_sae_acts_post";
        NDArray f;
        NDArray mean;
        NDArray zeroed;
        NDArray meaned;
        int i;
        try (var s = model.saes(sae); ActivationCache reference = model.runWithCache(clean)) {
            NDArray all = model.runWithCache(corrupted, name::equals).get(name);
            i = (int) all.sum(new int[] {0, 1}).argMax().getLong(); // the feature that fires most
            f = all.get("..., " + i + ":" + (i + 1));
            mean = reference.get(name).mean(new int[] {0}, true).get("..., " + i + ":" + (i + 1));
            zeroed = model.runWithHooks(corrupted, Ablations.zeroFeature(name, i));
            meaned = model.runWithHooks(corrupted, Ablations.meanFeature(name, i, reference));
        }
        NDArray row = sae.W_dec().get(i + ":" + (i + 1) + ", :");
        NDArray zeroByHand = model.runWithHooks(corrupted, Hook.of("blocks.1.hook_resid_pre", (x, h) -> x.sub(f.matMul(row))));
        NDArray meanByHand = model.runWithHooks(corrupted,
                Hook.of("blocks.1.hook_resid_pre", (x, h) -> x.add(mean.sub(f).matMul(row))));
        assertTrue(Tensors.item(zeroed.sub(zeroByHand).abs().max()) < 1e-12);
        assertTrue(Tensors.item(meaned.sub(meanByHand).abs().max()) < 1e-12);
        assertTrue(Tensors.item(zeroed.sub(model.forward(corrupted)).abs().max()) > 1e-6, "feature " + i + " fires");
    }
}

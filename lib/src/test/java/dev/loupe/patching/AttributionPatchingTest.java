package dev.loupe.patching;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.ReferenceCase;
import dev.loupe.hook.Hook;
import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;

import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;

class AttributionPatchingTest {

    /**
     * Without a final layer norm the logits are linear in the MLP's post-activations, so the first-order estimate is
     * exact: it must equal patching each neuron by hand (float64, 1e-9).
     */
    @Test
    void whereTheMetricIsLinearTheEstimateIsExact() {
        ReferenceCase ref = ReferenceCase.load("relu_no_norm"); // 1 layer, no layer norm, tokens 5 × 3
        HookedTransformer model = ref.model(DataType.FLOAT64);
        NDArray clean = ref.tokens();
        NDArray corrupted = Tensors.ofLongs(new long[] {3, 1, 2, 0, 7, 5, 9, 9, 1, 12, 4, 6, 2, 2, 2}, new Shape(5, 3));
        Function<NDArray, NDArray> metric = Metrics.logitDiff(new int[] {1, 2, 3, 4, 5}, new int[] {6, 7, 8, 9, 10});
        AttributionPatching.Estimates estimates = AttributionPatching.run(model, clean, corrupted, metric);
        assertEquals(new Shape(1, 3, 64), estimates.neurons().values().getShape());
        double base = metric.apply(model.forward(corrupted)).getDouble();
        try (ActivationCache cleanCache = model.runWithCache(clean)) {
            for (int[] cell : new int[][] {{2, 0}, {2, 17}, {2, 63}, {1, 5}, {0, 40}}) {
                String slice = ":, " + cell[0] + ", " + cell[1];
                NDArray logits = model.runWithHooks(corrupted, Hook.of("blocks.0.mlp.hook_post", (post, h) -> {
                    NDArray copy = post.duplicate();
                    copy.set(new NDIndex(slice), cleanCache.get("post", 0).get(slice));
                    return copy;
                }));
                double exact = metric.apply(logits).getDouble() - base;
                assertEquals(exact, estimates.neurons().values().getDouble(0, cell[0], cell[1]), 1e-9, "neuron " + cell[1] + " at " + cell[0]);
            }
        }
    }

    /**
     * One token changed (position 6): for the last layer's heads, whose outputs reach the logits through one layer
     * norm only, the estimates agree with exact patching in sign and in rank (0.257 vs 0.326 for the largest). Where
     * they do not: the changed position's own residual stream before layer 1 moves the metric by +0.42 when patched
     * but is estimated at −0.02, and head 0.1's small effect gets the wrong sign; the README shows these numbers.
     */
    @Test
    void forTheLastLayersHeadsTheEstimateAgreesInSignAndRankWithExactPatching() {
        ReferenceCase ref = ReferenceCase.load("gpt2_like");
        HookedTransformer model = ref.model(DataType.FLOAT64);
        NDArray clean = ref.tokens();
        NDArray corrupted = clean.duplicate();
        corrupted.set(new NDIndex(":, 6"), 40L);
        Function<NDArray, NDArray> metric = Metrics.logitDiff(new int[] {3, 8}, new int[] {50, 60});
        AttributionPatching.Estimates estimates = AttributionPatching.run(model, clean, corrupted, metric);
        NDArray estimated = estimates.headOut().values().sum(new int[] {1}); // [layer, head], summed over positions
        double base = metric.apply(model.forward(corrupted)).getDouble();
        try (ActivationCache cleanCache = model.runWithCache(clean)) {
            NDArray exact = Patching.headOutAllPos(model, corrupted, cleanCache, metric).values().sub(base);
            Integer[] byExact = {0, 1, 2, 3};
            Integer[] byEstimate = {0, 1, 2, 3};
            java.util.Arrays.sort(byExact, (a, b) -> Double.compare(Math.abs(exact.getDouble(1, b)), Math.abs(exact.getDouble(1, a))));
            java.util.Arrays.sort(byEstimate, (a, b) -> Double.compare(Math.abs(estimated.getDouble(1, b)), Math.abs(estimated.getDouble(1, a))));
            for (int h = 0; h < 4; h++) {
                assertEquals(Math.signum(exact.getDouble(1, h)), Math.signum(estimated.getDouble(1, h)), "sign of head 1." + h);
            }
            org.junit.jupiter.api.Assertions.assertArrayEquals(byExact, byEstimate, "rank of the last layer's heads");
            assertEquals(0.42, exact(model, corrupted, cleanCache, metric, base), 0.01,
                    "the documented failure: exact effect of the changed position's residual");
            assertEquals(-0.02, estimates.residPre().values().getDouble(1, 6), 0.01, "…and its estimate");
        }
    }

    private static double exact(HookedTransformer model, NDArray corrupted, ActivationCache clean,
                                Function<NDArray, NDArray> metric, double base) {
        NDArray logits = model.runWithHooks(corrupted, Hook.of("blocks.1.hook_resid_pre", (r, h) -> {
            NDArray copy = r.duplicate();
            copy.set(new NDIndex(":, 6, :"), clean.get("resid_pre", 1).get(":, 6, :"));
            return copy;
        }));
        return metric.apply(logits).getDouble() - base;
    }
}

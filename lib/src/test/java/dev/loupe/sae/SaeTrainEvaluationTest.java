package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.hook.Hook;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Evaluation metrics on SAEs whose answers are known by hand: an exact one (features relu(x) and relu(−x), decoded as
 * their difference, plus one feature that never fires), one that outputs zero and one that outputs the mean.
 */
class SaeTrainEvaluationTest {

    private static final String HOOK = "blocks.1.hook_resid_pre";
    private static final int D = 8;

    private final HookedTransformer model = HookedTransformer.create(ModelConfig.builder().modelName("tiny")
            .nLayers(2).dModel(D).nHeads(2).dMlp(16).dVocab(19).nCtx(10).dtype(DataType.FLOAT64).seed(5).build());
    private final List<NDArray> batches = List.of(
            Tensors.ofLongs(new long[] {1, 5, 7, 3, 9, 2, 4, 8, 6, 11, 0, 13}, new Shape(2, 6)),
            Tensors.ofLongs(new long[] {3, 3, 17, 2, 8, 1, 14, 15, 16, 12, 10, 4}, new Shape(2, 6)));

    /** d_sae = 2d + 1: W_enc = [I, −I, 0], W_dec = [I; −I; 0] scaled by {@code decode}, b_enc = [0…, −1]. */
    private static Sae sae(double decode, double[] bDec) {
        int dSae = 2 * D + 1;
        double[] wEnc = new double[D * dSae];
        double[] wDec = new double[dSae * D];
        double[] bEnc = new double[dSae];
        for (int j = 0; j < D; j++) {
            wEnc[j * dSae + j] = 1;
            wEnc[j * dSae + D + j] = -1;
            wDec[j * D + j] = decode;
            wDec[(D + j) * D + j] = -decode;
        }
        bEnc[2 * D] = -1;
        SaeConfig cfg = SaeConfig.standard(HOOK, D, dSae).withApplyBDecToInput(false);
        Map<String, NDArray> w = new LinkedHashMap<>();
        w.put("W_enc", Tensors.ofDoubles(wEnc, new Shape(D, dSae)));
        w.put("b_enc", Tensors.ofDoubles(bEnc, new Shape(dSae)));
        w.put("W_dec", Tensors.ofDoubles(wDec, new Shape(dSae, D)));
        w.put("b_dec", Tensors.ofDoubles(bDec, new Shape(D)));
        return Sae.fromWeights(cfg, w);
    }

    @Test
    void metricsMatchTheirHandComputation() {
        // the activations, their mean, the clean and ablated losses, computed directly
        double[][] acts = new double[24][];
        int n = 0;
        double clean = 0;
        double[] mean = new double[D];
        for (NDArray tokens : batches) {
            double[] a = model.runWithCache(tokens, name -> name.equals(HOOK)).get(HOOK).toDoubleArray();
            for (int r = 0; r < 12; r++) {
                acts[n] = java.util.Arrays.copyOfRange(a, r * D, (r + 1) * D);
                for (int j = 0; j < D; j++) {
                    mean[j] += acts[n][j] / 24;
                }
                n++;
            }
            clean += model.loss(tokens).getDouble() / batches.size(); // equal batch sizes: the mean of means
        }
        double zeroCe = 0;
        double meanCe = 0;
        NDArray meanArray = Tensors.ofDoubles(mean, new Shape(D));
        for (NDArray tokens : batches) {
            zeroCe += lossOf(model.runWithHooks(tokens, Hook.of(HOOK, (a, h) -> a.mul(0))), tokens) / batches.size();
            meanCe += lossOf(model.runWithHooks(tokens, Hook.of(HOOK, (a, h) -> a.mul(0).add(meanArray))), tokens) / batches.size();
        }
        double sumSquares = 0;
        double centred = 0;
        int[] positive = new int[D];
        for (double[] a : acts) {
            for (int j = 0; j < D; j++) {
                sumSquares += a[j] * a[j];
                centred += (a[j] - mean[j]) * (a[j] - mean[j]);
                positive[j] += a[j] > 0 ? 1 : 0;
            }
        }

        SaeEvaluation exact = SaeEvaluation.of(model, sae(1, new double[D]), batches, false);
        System.out.println(exact);
        assertEquals(24, exact.tokens());
        assertEquals(D, exact.l0(), 1e-12, "one of relu(x_j), relu(-x_j) is active for each j");
        assertEquals(1, exact.explainedVariance(), 1e-12);
        assertEquals(0, exact.mse(), 1e-20);
        assertEquals(clean, exact.ceClean(), 1e-12);
        assertEquals(clean, exact.ceSae(), 1e-12);
        assertEquals(zeroCe, exact.ceZeroAblation(), 1e-12);
        assertEquals(meanCe, exact.ceMeanAblation(), 1e-12);
        assertEquals(1, exact.ceRecoveredZero(), 1e-9);
        assertEquals(1, exact.ceRecoveredMean(), 1e-9);
        int dense = 0;
        int dead = 1; // the feature with b_enc -1, and relu(x_j) or relu(-x_j) for a coordinate of one sign throughout
        for (int j = 0; j < D; j++) {
            dead += positive[j] == 0 || positive[j] == 24 ? 1 : 0;
            assertEquals(positive[j] / 24.0, exact.density()[j], 1e-12);
            dense += (positive[j] / 24.0 > 0.1 ? 1 : 0) + ((24 - positive[j]) / 24.0 > 0.1 ? 1 : 0);
        }
        assertEquals(dense, exact.denseFeatures());
        assertEquals(dead, exact.deadFeatures());

        SaeEvaluation zero = SaeEvaluation.of(model, sae(0, new double[D]), batches, false);
        assertEquals(1 - sumSquares / centred, zero.explainedVariance(), 1e-12);
        assertEquals(sumSquares / 24, zero.mse(), 1e-12);
        assertEquals(0, zero.ceRecoveredZero(), 1e-9);

        SaeEvaluation meanSae = SaeEvaluation.of(model, sae(0, mean), batches, false);
        assertEquals(0, meanSae.explainedVariance(), 1e-12);
        assertEquals(0, meanSae.ceRecoveredMean(), 1e-9);
    }

    private static double lossOf(NDArray logits, NDArray tokens) {
        return HookedTransformer.crossEntropyPerToken(logits, tokens).mean().getDouble();
    }
}

package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;

import java.util.Locale;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sparse ground-truth features in superposition, as in Toy Models of Superposition: {@value #FEATURES} random unit
 * directions in {@value #D} dimensions, each present independently with probability {@value #P} at a magnitude drawn
 * uniformly from [0, 1]. A trained SAE should find them: each ground-truth direction has a decoder row with cosine
 * similarity at least 0.9 for at least 90% of them.
 */
class SaeTrainToyTest {

    static final int FEATURES = 64;
    static final int D = 32;
    static final double P = 0.04;
    static final int BLOCK = 4096;

    /** Ground truth [FEATURES, D], unit rows. */
    static double[][] truth(long seed) {
        Random r = new Random(seed);
        double[][] g = new double[FEATURES][D];
        for (double[] row : g) {
            double norm = 0;
            for (int j = 0; j < D; j++) {
                row[j] = r.nextGaussian();
                norm += row[j] * row[j];
            }
            for (int j = 0; j < D; j++) {
                row[j] /= Math.sqrt(norm);
            }
        }
        return g;
    }

    /** Block i of the toy activations: [BLOCK, D]. */
    static NDArray block(double[][] g, long i) {
        Random r = new Random(1000 + i);
        double[] x = new double[BLOCK * D];
        for (int n = 0; n < BLOCK; n++) {
            for (double[] feature : g) {
                if (r.nextDouble() < P) {
                    double magnitude = r.nextDouble();
                    for (int j = 0; j < D; j++) {
                        x[n * D + j] += magnitude * feature[j];
                    }
                }
            }
        }
        return Tensors.ofDoubles(x, new Shape(BLOCK, D)).toType(DataType.FLOAT32, false);
    }

    /** The share of ground-truth features whose best decoder row has cosine ≥ 0.9. */
    static double recovered(Sae sae, double[][] g) {
        NDArray dec = sae.W_dec().toType(DataType.FLOAT64, false);
        dec = dec.div(dec.norm(new int[] {1}, true));
        double[] flat = new double[FEATURES * D];
        for (int f = 0; f < FEATURES; f++) {
            System.arraycopy(g[f], 0, flat, f * D, D);
        }
        NDArray cos = Tensors.ofDoubles(flat, new Shape(FEATURES, D)).matMul(dec.transpose()); // [features, d_sae]
        double[] best = cos.max(new int[] {1}).toDoubleArray();
        int hit = 0;
        for (double b : best) {
            hit += b >= 0.9 ? 1 : 0;
        }
        return (double) hit / FEATURES;
    }

    private static double train(SaeConfig cfg, SaeTraining options) throws Exception {
        double[][] g = truth(7);
        ActivationStore store = ActivationStore.ofActivations("toy", i -> block(g, i)).windowsPerRefill(4);
        SaeTrainer run = options.logEvery(100).train(store);
        try (Sae sae = run.sae()) {
            double fraction = recovered(sae, g);
            System.out.printf(Locale.ROOT, "%s: %.1f%% of %d ground-truth features recovered (cos >= 0.9); last batch L0 %.2f,"
                    + " explained variance %.3f%n", cfg, 100 * fraction, FEATURES, run.log().last("l0"),
                    run.log().last("explained_variance"));
            return fraction;
        }
    }

    @Test
    void standardSaeRecoversTheFeatures() throws Exception {
        SaeConfig cfg = SaeConfig.standard("toy", D, 256);
        double fraction = train(cfg, SaeTraining.of(toyModel(), cfg).tokens(600_000).batchSize(1024).lr(3e-3)
                .l1(0.1).sparsityWarmupSteps(200).seed(1));
        assertTrue(fraction >= 0.9, "recovered " + fraction);
    }

    @Test
    void topKSaeRecoversTheFeatures() throws Exception {
        SaeConfig cfg = SaeConfig.topK("toy", D, 256, 4);
        double fraction = train(cfg, SaeTraining.of(toyModel(), cfg).tokens(600_000).batchSize(1024).lr(3e-3)
                .deadWindowTokens(200_000).seed(1));
        assertTrue(fraction >= 0.9, "recovered " + fraction);
    }

    /** SaeTraining names the model the SAE belongs to; toy activations come from none, so a one-layer stand-in. */
    static dev.loupe.model.HookedTransformer toyModel() {
        return dev.loupe.model.HookedTransformer.create(dev.loupe.model.ModelConfig.builder().modelName("toy")
                .nLayers(1).dModel(D).nHeads(1).dMlp(4).dVocab(4).nCtx(4).build());
    }
}

package dev.loupe.tasks.superposition;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ToyModelTest {

    private static final double[] IMPORTANCE_5 = ToyModel.decayingImportance(0.9, 5);

    /**
     * Loss and gradient of one instance (n = 3, m = 2) on a hand-chosen batch of two inputs, against the chain rule
     * written out in float64 here: pre = Wᵀ W x + b, r = ReLU(pre) − x, L = (1/B) Σ_s Σ_i I_i r_i²; with
     * g_i = 2 I_i r_i [pre_i > 0] / B, dL/db_i = Σ_s g_i and dL/dW_kl = Σ_s (g_l h_k + (Σ_i g_i W_ki) x_l), h = W x.
     */
    @Test
    void lossAndGradientMatchTheChainRuleByHand() {
        double[] importance = {1.0, 0.5, 0.25};
        ToyModel model = ToyModel.create(2, importance, new double[] {0.5}, 3);
        double[][] w = model.weights(0);
        double[][] xs = {{0.9, 0.0, 0.4}, {0.0, 0.7, 0.2}};
        NDArray x = Tensors.ofDoubles(new double[] {0.9, 0.0, 0.4, 0.0, 0.7, 0.2}, new Shape(1, 2, 3)).toType(DataType.FLOAT32, false);

        double loss = 0;
        double[][] dW = new double[2][3];
        double[] db = new double[3];
        for (double[] xv : xs) {
            double[] h = new double[2];
            for (int k = 0; k < 2; k++) {
                for (int j = 0; j < 3; j++) {
                    h[k] += w[k][j] * xv[j];
                }
            }
            double[] g = new double[3];
            for (int i = 0; i < 3; i++) {
                double pre = w[0][i] * h[0] + w[1][i] * h[1]; // b starts at zero
                double r = Math.max(pre, 0) - xv[i];
                loss += importance[i] * r * r / xs.length;
                g[i] = pre > 0 ? 2 * importance[i] * r / xs.length : 0;
                db[i] += g[i];
            }
            for (int k = 0; k < 2; k++) {
                double back = 0;
                for (int i = 0; i < 3; i++) {
                    back += g[i] * w[k][i];
                }
                for (int l = 0; l < 3; l++) {
                    dW[k][l] += g[l] * h[k] + back * xv[l];
                }
            }
        }
        assertEquals(loss, model.loss(x).getFloat(0), 1e-6);
        NDArray[] grads = model.gradients(x);
        double[] gotW = grads[0].toType(DataType.FLOAT64, false).toDoubleArray();
        double[] gotB = grads[1].toType(DataType.FLOAT64, false).toDoubleArray();
        assertArrayEquals(new double[] {dW[0][0], dW[0][1], dW[0][2], dW[1][0], dW[1][1], dW[1][2]}, gotW, 1e-6);
        assertArrayEquals(db, gotB, 1e-6);
        // a second call sees the same gradient: the first one's was zeroed, not added to
        assertArrayEquals(gotW, model.gradients(x)[0].toType(DataType.FLOAT64, false).toDoubleArray(), 1e-7);
    }

    @Test
    void sampleZeroesFeaturesAtTheSparsity() {
        ToyModel model = ToyModel.create(5, 2, new double[][] {IMPORTANCE_5, IMPORTANCE_5}, new double[] {0.0, 0.9}, 1);
        float[] x = model.sample(4000).toFloatArray();
        int perInstance = 4000 * 5;
        double[] zeros = new double[2];
        for (int i = 0; i < x.length; i++) {
            assertTrue(x[i] >= 0 && x[i] < 1, "inputs lie in [0, 1)");
            zeros[i / perInstance] += x[i] == 0 ? 1.0 / perInstance : 0;
        }
        assertEquals(0.0, zeros[0], 1e-3);
        assertEquals(0.9, zeros[1], 0.01);
    }

    /** Dense inputs: the two most important features get orthogonal unit directions, the other three none. */
    @Test
    void denseInputsKeepTheTwoMostImportantFeaturesOrthogonal() {
        ToyModel model = ToyModel.create(2, IMPORTANCE_5, new double[] {0.0}, 0);
        model.train(2000, 512, 1e-2);
        double[][] w = model.weights(0);
        double[] norms = ToyModel.featureNorms(w);
        System.out.println("dense n=5, m=2: norms " + java.util.Arrays.toString(norms));
        assertEquals(1.0, norms[0], 0.1);
        assertEquals(1.0, norms[1], 0.1);
        for (int i = 2; i < 5; i++) {
            assertTrue(norms[i] < 0.1, "feature " + i + " is dropped: norm " + norms[i]);
        }
        assertEquals(0.0, ToyModel.gram(w)[0][1], 0.05);
        assertEquals(1.0, ToyModel.dimensionsPerFeature(w), 0.15);
    }

    /** At sparsity 0.9 every feature is represented: five directions of near unit length in two dimensions. */
    @Test
    void sparseInputsRepresentAllFiveFeatures() {
        ToyModel model = ToyModel.create(2, IMPORTANCE_5, new double[] {0.9}, 0);
        model.train(2000, 512, 1e-2);
        double[][] w = model.weights(0);
        double[] norms = ToyModel.featureNorms(w);
        System.out.println("sparse (S = 0.9) n=5, m=2: norms " + java.util.Arrays.toString(norms)
                + ", dimensions per feature " + ToyModel.dimensionsPerFeature(w));
        for (int i = 0; i < 5; i++) {
            assertTrue(norms[i] > 0.8, "feature " + i + " is represented: norm " + norms[i]);
        }
        assertTrue(ToyModel.dimensionsPerFeature(w) < 0.5, "more features than dimensions");
    }

    @Test
    void theSameSeedTrainsTheSameModel() {
        double[][] a = trained(7);
        assertArrayEquals(a[0], trained(7)[0]);
        assertArrayEquals(a[1], trained(7)[1]);
        assertFalse(java.util.Arrays.equals(a[0], trained(8)[0]), "another seed, another model");
    }

    private static double[][] trained(long seed) {
        ToyModel model = ToyModel.create(2, IMPORTANCE_5, new double[] {0.5}, seed);
        model.train(30, 64, 1e-2);
        return model.weights(0);
    }

    @Test
    void measuresOfHandBuiltMatrices() {
        // features 0 and 1 antipodal on the first axis, feature 2 alone on the second, feature 3 dropped
        double[][] w = {{1, -1, 0, 0}, {0, 0, 1, 0}};
        assertArrayEquals(new double[] {1, 1, 1, 0}, ToyModel.featureNorms(w), 1e-12);
        assertArrayEquals(new double[] {1, 1, 0, 0}, ToyModel.superposition(w), 1e-12);
        assertEquals(2.0 / 3, ToyModel.dimensionsPerFeature(w), 1e-12);
        assertEquals(-1, ToyModel.gram(w)[0][1], 1e-12);
    }
}

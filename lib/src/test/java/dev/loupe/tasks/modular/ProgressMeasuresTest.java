package dev.loupe.tasks.modular;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class ProgressMeasuresTest {

    private static final int P = 11;

    private static double w(int k) {
        return 2 * Math.PI * k / P;
    }

    /**
     * Two neurons: 3·cos(w1·a)·cos(w1·b) (variance 9·(p/2)²/p²·p² = all in frequency 1) and 4·sin(w2·b) (all in frequency 2).
     * Their variances over the grid, by hand: 9·p²/4 and 16·p²/2, so frequency 1 holds 9/4 / (9/4 + 8) of the total.
     * A neuron writing 2·cos(w3·c) + sin(w3·c) to the logits puts all of its weight in frequency 3.
     */
    @Test
    void varianceSharesAndOutputFrequenciesOnHandMadeNeurons() {
        double[] acts = new double[P * P * 2];
        for (int a = 0; a < P; a++) {
            for (int b = 0; b < P; b++) {
                acts[2 * (a * P + b)] = 3 * Math.cos(w(1) * a) * Math.cos(w(1) * b);
                acts[2 * (a * P + b) + 1] = 4 * Math.sin(w(2) * b);
            }
        }
        NDArray grid = Tensors.ofDoubles(acts, new Shape(P * P, 2));
        assertEquals(2.25 / (2.25 + 8), NeuronFrequencies.varianceShare(grid, P, new int[] {1}), 1e-9);
        assertEquals(8 / (2.25 + 8), NeuronFrequencies.varianceShare(grid, P, new int[] {2}), 1e-9);
        assertEquals(1, NeuronFrequencies.varianceShare(grid, P, new int[] {1, 2}), 1e-9);
        double[] out = new double[P];
        for (int c = 0; c < P; c++) {
            out[c] = 2 * Math.cos(w(3) * c) + Math.sin(w(3) * c);
        }
        double[] shares = Fourier.outputFrequencyShares(Tensors.ofDoubles(out, new Shape(1, P))).toDoubleArray();
        assertEquals(1, shares[3], 1e-9);
        assertEquals(1, java.util.Arrays.stream(shares).sum(), 1e-9);
    }

    /**
     * A neuron 2 + 3·cos(w1(a + b)) + 5·sin(w2·a) over the 11 × 11 grid: keeping frequency 1's sum directions leaves
     * 2 + 3·cos(w1(a + b)) (sin(w2·a) is not a function of a + b); removing them leaves 2 + 5·sin(w2·a). A second
     * neuron 4·sin(w3(a + b)) is kept whole by frequency 3 and left alone by frequency 1.
     */
    @Test
    void keepingAndRemovingSumFrequenciesOnAHandMadeNeuron() {
        double[] acts = new double[P * P * 2];
        double[] kept1 = new double[P * P];
        double[] removed1 = new double[P * P];
        double[] second = new double[P * P];
        for (int a = 0; a < P; a++) {
            for (int b = 0; b < P; b++) {
                int x = a * P + b;
                acts[2 * x] = 2 + 3 * Math.cos(w(1) * (a + b)) + 5 * Math.sin(w(2) * a);
                acts[2 * x + 1] = 4 * Math.sin(w(3) * (a + b));
                kept1[x] = 2 + 3 * Math.cos(w(1) * (a + b));
                removed1[x] = 2 + 5 * Math.sin(w(2) * a);
                second[x] = acts[2 * x + 1];
            }
        }
        NDArray grid = Tensors.ofDoubles(acts, new Shape(P * P, 2));
        assertArrayEquals(kept1, ProgressMeasures.keepSumFrequencies(grid, P, new int[] {1}).get(":, 0").toDoubleArray(), 1e-12);
        assertArrayEquals(removed1, ProgressMeasures.removeSumFrequencies(grid, P, new int[] {1}).get(":, 0").toDoubleArray(), 1e-12);
        assertArrayEquals(second, ProgressMeasures.removeSumFrequencies(grid, P, new int[] {1}).get(":, 1").toDoubleArray(), 1e-12);
        assertArrayEquals(second, ProgressMeasures.keepSumFrequencies(grid, P, new int[] {1, 3}).get(":, 1").toDoubleArray(), 1e-12);
    }

    /**
     * An embedding made of frequencies 2 (norm² 9) and 5 (norm² 1) with a little of 3 (norm² 0.01): frequency 2
     * alone carries 9 / 10.01 = 89.9% of the squared norm, 2 and 5 carry 99.9%.
     */
    @Test
    void keyFrequenciesAreTheFewestCarryingTheShare() {
        ModularAddition task = new ModularAddition(P, 0.5, 0);
        HookedTransformer model = HookedTransformer.create(task.modelConfig(DataType.FLOAT64, 0).toBuilder()
                .dModel(2).nHeads(1).nKeyValueHeads(1).dHead(2).dMlp(4).build());
        double[] e = new double[(P + 1) * 2];
        for (int x = 0; x < P; x++) {
            e[2 * x] = 3 * Math.cos(w(2) * x) / Math.sqrt(P / 2.0) + 0.1 * Math.cos(w(3) * x) / Math.sqrt(P / 2.0);
            e[2 * x + 1] = Math.sin(w(5) * x) / Math.sqrt(P / 2.0);
        }
        model.setParameter("embed.W_E", Tensors.ofDoubles(e, new Shape(P + 1, 2)));
        assertArrayEquals(new int[] {2}, ProgressMeasures.keyFrequencies(model, P, 0.85));
        assertArrayEquals(new int[] {2, 5}, ProgressMeasures.keyFrequencies(model, P, 0.9));
        assertArrayEquals(new int[] {2, 3, 5}, ProgressMeasures.keyFrequencies(model, P, 0.9995));
        double[] norms = Fourier.frequencyNorms(model.W_E().get("0:" + P));
        assertEquals(9 / 10.01, ProgressMeasures.share(norms, new int[] {2}), 1e-9);
    }

    /**
     * Restricted and excluded loss against the definitions written out in plain Java loops, on activations from
     * the model's full forward pass (runWithCache), not the short path the measures use.
     */
    @Test
    void restrictedAndExcludedLossMatchTheDefinitionsWrittenOut() {
        int p = 11;
        ModularAddition task = new ModularAddition(p, 0.4, 3);
        HookedTransformer model = HookedTransformer.create(task.modelConfig(DataType.FLOAT64, 4).toBuilder()
                .dModel(16).nHeads(2).nKeyValueHeads(2).dHead(8).dMlp(24).initRange(0.5).build());
        int[] key = {2, 5};
        ActivationCache cache = model.runWithCache(task.allTokens());
        int n = p * p;
        int dMlp = 24;
        double[][] post = rows(cache.get("blocks.0.mlp.hook_post").get(":, 2, :"), n);
        double[][] logits = rows(cache.logits().get(":, 2, :"), n);
        double[][] neuronToLogit = rows(model.W_out(0).matMul(model.W_U()), dMlp);

        double[][] kept = new double[n][dMlp];
        double[][] removed = new double[n][dMlp];
        for (int j = 0; j < dMlp; j++) {
            double mean = 0;
            for (int x = 0; x < n; x++) {
                mean += post[x][j] / n;
            }
            double[] projection = new double[n];
            for (int k : key) {
                double c = 0, s = 0;
                for (int x = 0; x < n; x++) {
                    int sum = x / p + x % p;
                    c += post[x][j] * Math.cos(2 * Math.PI * k * sum / p);
                    s += post[x][j] * Math.sin(2 * Math.PI * k * sum / p);
                }
                for (int x = 0; x < n; x++) {
                    int sum = x / p + x % p;
                    // the unit vectors are cos/√(n/2), so the projection is (⟨acts, cos⟩ / (n/2))·cos
                    projection[x] += (c * Math.cos(2 * Math.PI * k * sum / p) + s * Math.sin(2 * Math.PI * k * sum / p)) / (n / 2.0);
                }
            }
            for (int x = 0; x < n; x++) {
                kept[x][j] = mean + projection[x];
                removed[x][j] = post[x][j] - projection[x];
            }
        }
        double[][] restricted = times(kept, neuronToLogit);
        for (int c = 0; c < p; c++) { // the skip connection and biases replaced by their mean over the grid
            double shift = 0;
            for (int x = 0; x < n; x++) {
                shift += (logits[x][c] - restricted[x][c]) / n;
            }
            for (int x = 0; x < n; x++) {
                restricted[x][c] += shift;
            }
        }
        double[][] excluded = times(removed, neuronToLogit);
        double[][] full = times(post, neuronToLogit);
        for (int x = 0; x < n; x++) {
            for (int c = 0; c < p; c++) {
                excluded[x][c] = logits[x][c] - full[x][c] + excluded[x][c];
            }
        }
        assertEquals(meanLoss(restricted, task.testTokens(), p), ProgressMeasures.restrictedLoss(model, task, key), 1e-10);
        assertEquals(meanLoss(excluded, task.trainTokens(), p), ProgressMeasures.excludedLoss(model, task, key), 1e-10);
    }

    private static double[][] rows(NDArray a, int n) {
        double[] flat = a.toType(DataType.FLOAT64, false).toDoubleArray();
        int width = flat.length / n;
        double[][] out = new double[n][width];
        for (int i = 0; i < n; i++) {
            System.arraycopy(flat, i * width, out[i], 0, width);
        }
        return out;
    }

    private static double[][] times(double[][] a, double[][] b) {
        double[][] out = new double[a.length][b[0].length];
        for (int i = 0; i < a.length; i++) {
            for (int k = 0; k < b.length; k++) {
                for (int j = 0; j < b[0].length; j++) {
                    out[i][j] += a[i][k] * b[k][j];
                }
            }
        }
        return out;
    }

    /** Cross-entropy of grid logits on these pairs, label (a + b) mod p, by log-sum-exp. */
    private static double meanLoss(double[][] gridLogits, NDArray tokens, int p) {
        long[] t = tokens.toLongArray();
        double total = 0;
        int rows = t.length / 3;
        for (int i = 0; i < rows; i++) {
            int a = (int) t[3 * i];
            int b = (int) t[3 * i + 1];
            double[] l = gridLogits[a * p + b];
            double max = java.util.Arrays.stream(l).max().orElseThrow();
            total += max + Math.log(java.util.Arrays.stream(l).map(v -> Math.exp(v - max)).sum()) - l[(a + b) % p];
        }
        return total / rows;
    }
}

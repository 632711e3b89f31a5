package dev.loupe.tasks.superposition;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;

import dev.loupe.tensor.Tensors;
import dev.loupe.train.AdamW;

import java.util.Map;

/**
 * The ReLU-output toy model of Elhage et al. (2022), <i>Toy Models of Superposition</i>: n sparse features x (each 0
 * with probability S, the sparsity, else uniform on [0, 1]) pass through m &lt; n hidden dimensions, h = W x, and are
 * read back as x' = ReLU(Wᵀ h + b); the loss is the batch mean of Σ_i I_i (x_i − x'_i)² with importance I_i.
 * <p>
 * Many instances train at once as one tensor with a leading instance axis, each with its own importance and sparsity:
 * a sweep over sparsity (or importance, or seeds) is one training run. W is initialised normal with Xavier's standard
 * deviation √(2 / (m + n)) and b at zero, from {@code seed}; training draws its batches from the same seed, so a model
 * made and trained with one seed comes out the same every time. W and b always require gradients.
 */
public final class ToyModel {

    private final int instances;
    private final int features;
    private final int hidden;
    private final long seed;
    /** [instance, m, n]. */
    private final NDArray w;
    /** [instance, 1, n]: broadcast over the batch. */
    private final NDArray b;
    private final NDArray importance;
    private final NDArray density;
    private int runs;

    private ToyModel(int features, int hidden, double[][] importance, double[] sparsity, long seed) {
        this.instances = importance.length;
        this.features = features;
        this.hidden = hidden;
        this.seed = seed;
        if (sparsity.length != instances) {
            throw new IllegalArgumentException(instances + " importance rows but " + sparsity.length
                    + " sparsities: give one sparsity per instance");
        }
        double[] imp = new double[instances * features];
        double[] dens = new double[instances * features];
        for (int i = 0; i < instances; i++) {
            if (importance[i].length != features) {
                throw new IllegalArgumentException("instance " + i + " has " + importance[i].length + " importances, not "
                        + features + " (one per feature)");
            }
            if (!(sparsity[i] >= 0 && sparsity[i] < 1)) {
                throw new IllegalArgumentException("instance " + i + "'s sparsity is " + sparsity[i] + "; it must be in [0, 1)");
            }
            for (int f = 0; f < features; f++) {
                imp[i * features + f] = importance[i][f];
                dens[i * features + f] = 1 - sparsity[i];
            }
        }
        Shape perFeature = new Shape(instances, 1, features);
        this.importance = Tensors.ofDoubles(imp, perFeature).toType(DataType.FLOAT32, false);
        this.density = Tensors.ofDoubles(dens, perFeature).toType(DataType.FLOAT32, false);
        Engine.getInstance().setRandomSeed((int) seed);
        float std = (float) Math.sqrt(2.0 / (features + hidden));
        this.w = Tensors.manager().randomNormal(0f, std, new Shape(instances, hidden, features), DataType.FLOAT32);
        this.b = Tensors.manager().zeros(perFeature, DataType.FLOAT32);
        w.setRequiresGradient(true);
        b.setRequiresGradient(true);
    }

    /**
     * {@code importance.length} instances of n = {@code features} features through m = {@code hidden} dimensions:
     * instance i weighs its features by {@code importance[i]} and zeroes each with probability {@code sparsity[i]}.
     */
    public static ToyModel create(int features, int hidden, double[][] importance, double[] sparsity, long seed) {
        if (features < 1 || hidden < 1) {
            throw new IllegalArgumentException("a toy model needs at least one feature and one hidden dimension; got n = "
                    + features + ", m = " + hidden);
        }
        return new ToyModel(features, hidden, importance, sparsity, seed);
    }

    /** One instance per sparsity, every one with the same importance per feature. */
    public static ToyModel create(int hidden, double[] importance, double[] sparsity, long seed) {
        double[][] rows = new double[sparsity.length][];
        java.util.Arrays.fill(rows, importance);
        return create(importance.length, hidden, rows, sparsity, seed);
    }

    /** {@code base}⁰, {@code base}¹, ..., one per feature: the paper's geometrically falling importance (0.9^i, 0.7^i). */
    public static double[] decayingImportance(double base, int features) {
        double[] out = new double[features];
        for (int i = 0; i < features; i++) {
            out[i] = Math.pow(base, i);
        }
        return out;
    }

    public int instances() {
        return instances;
    }

    public int features() {
        return features;
    }

    public int hidden() {
        return hidden;
    }

    /** A batch of inputs, [instance, batch, n]: each feature 0 with its instance's sparsity, else uniform on [0, 1). */
    public NDArray sample(int batch) {
        Shape shape = new Shape(instances, batch, features);
        NDArray values = Tensors.manager().randomUniform(0f, 1f, shape, DataType.FLOAT32);
        NDArray on = Tensors.manager().randomUniform(0f, 1f, shape, DataType.FLOAT32).lt(density);
        return values.mul(on.toType(DataType.FLOAT32, false));
    }

    /** x' = ReLU(Wᵀ W x + b) for inputs [instance, batch, n]. */
    public NDArray forward(NDArray x) {
        NDArray h = x.matMul(w.transpose(0, 2, 1));     // [instance, batch, m]
        return Activation.relu(h.matMul(w).add(b));      // [instance, batch, n]
    }

    /** Each instance's loss on inputs [instance, batch, n]: the batch mean of Σ_i I_i (x_i − x'_i)², shape [instance]. */
    public NDArray loss(NDArray x) {
        return x.sub(forward(x)).square().mul(importance).sum(new int[] {2}).mean(new int[] {1});
    }

    /**
     * {@code steps} AdamW steps (PyTorch's defaults, learning rate {@code lr}, constant) on fresh batches of
     * {@code batch} inputs; the instances' losses are summed, so each instance gets its own gradient. It runs on one
     * libtorch thread: the arrays are small, and on shared cores a second thread waiting for a busy core made each step
     * ten times slower. Autograd is off between backward passes (a collector turns it on for its own), since W and b
     * change in place; the kernel may run a cell with it left on.
     */
    public void train(int steps, int batch, double lr) {
        Engine.getInstance().setRandomSeed((int) (seed + 1_000_003L * ++runs));
        Map<String, NDArray> params = Map.of("W", w, "b", b);
        AdamW optimizer = AdamW.defaults();
        int threads = JniUtils.getNumThreads();
        boolean grad = JniUtils.isGradMode();
        JniUtils.setNumThreads(1);
        JniUtils.setGradMode(false);
        try {
            for (int step = 0; step < steps; step++) {
                try (NDScope scope = new NDScope()) {
                    backward(sample(batch));
                    optimizer.step(params, Map.of("W", w.getGradient(), "b", b.getGradient()), lr);
                    zeroGradients();
                }
            }
        } finally {
            JniUtils.setNumThreads(threads);
            JniUtils.setGradMode(grad);
        }
    }

    /** Each instance's loss on a fresh batch of {@code batch} inputs: sparse features need large ones to be measured. */
    public double[] evaluate(int batch) {
        try (NDScope scope = new NDScope()) {
            return loss(sample(batch)).toType(DataType.FLOAT64, false).toDoubleArray();
        }
    }

    /** The gradient of the instances' summed loss on {@code x}, into W's and b's gradient arrays. */
    private void backward(NDArray x) {
        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            collector.backward(loss(x).sum());
        }
    }

    /** Autograd adds each backward pass to the last one's. */
    private void zeroGradients() {
        w.getGradient().subi(w.getGradient());
        b.getGradient().subi(b.getGradient());
    }

    /** The gradient of the instances' summed loss on {@code x}: {dW [instance, m, n], db [instance, n]}. */
    NDArray[] gradients(NDArray x) {
        backward(x);
        NDArray[] out = {w.getGradient().duplicate(), b.getGradient().reshape(instances, features).duplicate()};
        zeroGradients();
        return out;
    }

    /** A copy of W, [instance, m, n]: column i of instance k's matrix is feature i's direction in the hidden space. */
    public NDArray W() {
        return w.duplicate();
    }

    /** A copy of b, [instance, n]. */
    public NDArray b() {
        return b.reshape(instances, features).duplicate();
    }

    /** Instance {@code instance}'s W as rows of hidden dimensions, [m][n]. */
    public double[][] weights(int instance) {
        double[] v = w.get(instance).toType(DataType.FLOAT64, false).toDoubleArray();
        double[][] out = new double[hidden][features];
        for (int r = 0; r < hidden; r++) {
            System.arraycopy(v, r * features, out[r], 0, features);
        }
        return out;
    }

    /** Instance {@code instance}'s b, [n]. */
    public double[] bias(int instance) {
        return b.get(instance).toType(DataType.FLOAT64, false).toDoubleArray();
    }

    // ---- the paper's measures of a weight matrix W [m][n] ----

    /** ||W_i||, the length of each feature's direction: about 1 for a feature represented, about 0 for one dropped. */
    public static double[] featureNorms(double[][] w) {
        int n = w[0].length;
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = Math.sqrt(dot(w, i, i));
        }
        return out;
    }

    /**
     * Σ_{j≠i} (Ŵ_i · W_j)² per feature i: how much of the other features lies along feature i's direction (0 when it
     * has a dimension of its own; about 1 for each feature it shares a direction with, as in an antipodal pair). A
     * feature of zero length has none.
     */
    public static double[] superposition(double[][] w) {
        int n = w[0].length;
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            double norm = Math.sqrt(dot(w, i, i));
            if (norm < 1e-12) {
                continue;
            }
            for (int j = 0; j < n; j++) {
                if (j != i) {
                    double projection = dot(w, i, j) / norm;
                    out[i] += projection * projection;
                }
            }
        }
        return out;
    }

    /**
     * m / ||W||_F², the paper's dimensions per feature: 1 when each represented feature has a dimension to itself, 1/2
     * for antipodal pairs, 2/5 for a pentagon in two dimensions.
     */
    public static double dimensionsPerFeature(double[][] w) {
        double frobenius = 0;
        for (double[] row : w) {
            for (double v : row) {
                frobenius += v * v;
            }
        }
        return w.length / frobenius;
    }

    /** WᵀW, [n][n]: each feature's squared length on the diagonal, the overlap of two features off it. */
    public static double[][] gram(double[][] w) {
        int n = w[0].length;
        double[][] out = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                out[i][j] = dot(w, i, j);
            }
        }
        return out;
    }

    /** W_i · W_j for columns i and j of W [m][n]. */
    private static double dot(double[][] w, int i, int j) {
        double s = 0;
        for (double[] row : w) {
            s += row[i] * row[j];
        }
        return s;
    }
}

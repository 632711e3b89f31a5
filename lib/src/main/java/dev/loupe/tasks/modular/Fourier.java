package dev.loupe.tasks.modular;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.tensor.Tensors;

import java.util.ArrayList;
import java.util.List;

/**
 * The Fourier basis of functions on Z_p (Nanda et al.): the constant, then cos(2πkx/p) and sin(2πkx/p) for
 * k = 1 … (p−1)/2, each normalised, as the rows of an orthonormal [p, p] matrix (p odd). Frequency k's two
 * directions are rows 2k−1 and 2k.
 */
public final class Fourier {

    private Fourier() {}

    /** The basis [p, p], float64: row i is a basis function evaluated at x = 0 … p−1. */
    public static NDArray basis(int p) {
        if (p % 2 == 0) {
            throw new IllegalArgumentException("The cos/sin basis pairs up frequencies for odd p; got p = " + p);
        }
        double[] b = new double[p * p];
        for (int x = 0; x < p; x++) {
            b[x] = 1 / Math.sqrt(p);
        }
        for (int k = 1; k <= (p - 1) / 2; k++) {
            for (int x = 0; x < p; x++) {
                double angle = 2 * Math.PI * k * x / p;
                b[(2 * k - 1) * p + x] = Math.cos(angle) * Math.sqrt(2.0 / p);
                b[2 * k * p + x] = Math.sin(angle) * Math.sqrt(2.0 / p);
            }
        }
        return Tensors.ofDoubles(b, new Shape(p, p));
    }

    /** Names of the basis rows: "const", "cos 1", "sin 1", …. */
    public static List<String> labels(int p) {
        List<String> labels = new ArrayList<>(List.of("const"));
        for (int k = 1; k <= (p - 1) / 2; k++) {
            labels.add("cos " + k);
            labels.add("sin " + k);
        }
        return labels;
    }

    /**
     * The norm of each frequency's component of the rows of {@code W} [p, d] (e.g. the embedding of the numbers):
     * index 0 the constant, index k the root-sum-square of its cos and sin rows of basis · W.
     */
    public static double[] frequencyNorms(NDArray W) {
        int p = (int) W.getShape().get(0);
        NDArray inBasis = basis(p).matMul(W.toType(DataType.FLOAT64, false)); // [p, d]
        double[] rowNorms = inBasis.square().sum(new int[] {1}).toDoubleArray();
        double[] norms = new double[(p - 1) / 2 + 1];
        norms[0] = Math.sqrt(rowNorms[0]);
        for (int k = 1; k < norms.length; k++) {
            norms[k] = Math.sqrt(rowNorms[2 * k - 1] + rowNorms[2 * k]);
        }
        return norms;
    }

    /**
     * What each neuron writes to the logits, in the Fourier basis over the answer c: {@code neuronToLogit} [neurons, p]
     * (W_out · W_U, the direct path from each neuron to each answer's logit) gives [neurons, (p − 1)/2 + 1], row j the
     * share of neuron j's squared weight norm in each frequency (index 0 the constant). A neuron of frequency k that
     * writes cos(w_k(a + b − c)) has its row's mass at k.
     */
    public static NDArray outputFrequencyShares(NDArray neuronToLogit) {
        int p = (int) neuronToLogit.getShape().get(1);
        NDArray sq = basis(p).matMul(neuronToLogit.toType(DataType.FLOAT64, false).transpose()).square(); // [basis row, neuron]
        NDArray perFrequency = sq.get("0:1").concat(sq.get("1:").reshape((p - 1) / 2, 2, -1).sum(new int[] {1}), 0); // [k, neuron]
        return perFrequency.div(perFrequency.sum(new int[] {0}, true)).transpose();
    }

    /**
     * A function on the grid of pairs, {@code x} [p, p, ...] (values at (a, b)), in the 2-D Fourier basis: [p, p, ...]
     * float64, entry (i, j) the coefficient of basis row i in a times basis row j in b.
     */
    public static NDArray transform2d(NDArray x) {
        Shape shape = x.getShape();
        int p = (int) shape.get(0);
        if (shape.dimension() < 2 || shape.get(1) != p) {
            throw new IllegalArgumentException("transform2d needs values over the grid, [p, p, ...]; got " + shape);
        }
        NDArray f = basis(p);
        long rest = shape.size() / ((long) p * p);
        NDArray overA = f.matMul(x.toType(DataType.FLOAT64, false).reshape(p, -1)).reshape(p, p, rest); // [i, b, rest]
        NDArray overB = f.matMul(overA.transpose(1, 0, 2).reshape(p, -1)).reshape(p, p, rest);          // [j, i, rest]
        return overB.transpose(1, 0, 2).reshape(shape);
    }
}

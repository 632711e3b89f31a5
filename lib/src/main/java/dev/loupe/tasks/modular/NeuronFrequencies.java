package dev.loupe.tasks.modular;

import ai.djl.ndarray.NDArray;

import java.util.Arrays;

/**
 * Which frequency each neuron computes with (Nanda et al.'s neuron clusters). A neuron's activation over the grid of
 * pairs, in the 2-D Fourier basis, is nearly all in the terms of one frequency k: cos/sin(w_k a), cos/sin(w_k b) and
 * their four products. {@code frequency[j]} is the k whose terms hold the most of neuron j's variance (everything but
 * the constant), {@code fraction[j]} how much.
 */
public record NeuronFrequencies(int[] frequency, double[] fraction) {

    /** From activations over the grid, [p², d] with row a·p + b (e.g. blocks.0.mlp.hook_post at the last position). */
    public static NeuronFrequencies of(NDArray activations, int p) {
        int d = (int) activations.getShape().get(1);
        double[] c = Fourier.transform2d(activations.reshape(p, p, d)).square().toDoubleArray(); // [i, j, neuron]
        int[] frequency = new int[d];
        double[] fraction = new double[d];
        int frequencies = (p - 1) / 2;
        for (int n = 0; n < d; n++) {
            double total = 0;
            for (int ij = 1; ij < p * p; ij++) { // all but the constant, (0, 0)
                total += c[ij * d + n];
            }
            if (total <= 1e-12 * (total + c[n])) {
                continue; // constant up to rounding: no frequency
            }
            for (int k = 1; k <= frequencies; k++) {
                int[] rows = {0, 2 * k - 1, 2 * k};
                double sum = 0;
                for (int i : rows) {
                    for (int j : rows) {
                        sum += i == 0 && j == 0 ? 0 : c[(i * p + j) * d + n];
                    }
                }
                if (sum / total > fraction[n]) {
                    fraction[n] = sum / total;
                    frequency[n] = k;
                }
            }
        }
        return new NeuronFrequencies(frequency, fraction);
    }

    /**
     * The share of all neurons' variance over the grid (everything but each neuron's constant, summed over neurons) that
     * lies in the terms of {@code frequencies}: cos/sin(w_k a), cos/sin(w_k b) and their products. Unlike the clusters
     * (each neuron gets its best frequency, so every neuron is in one), this can be small: it says how much of what the
     * neurons compute those frequencies account for.
     */
    public static double varianceShare(NDArray activations, int p, int[] frequencies) {
        int d = (int) activations.getShape().get(1);
        double[] c = Fourier.transform2d(activations.reshape(p, p, d)).square().sum(new int[] {2}).toDoubleArray(); // [i, j]
        double total = -c[0];
        for (double v : c) {
            total += v;
        }
        double in = 0;
        for (int k : frequencies) {
            int[] rows = {0, 2 * k - 1, 2 * k};
            for (int i : rows) {
                for (int j : rows) {
                    in += i == 0 && j == 0 ? 0 : c[i * p + j];
                }
            }
        }
        return in / total;
    }

    /** How many neurons compute with each frequency 0 … (p − 1)/2 (0: a dead or constant neuron). */
    public int[] counts(int p) {
        int[] counts = new int[(p - 1) / 2 + 1];
        Arrays.stream(frequency).forEach(k -> counts[k]++);
        return counts;
    }
}

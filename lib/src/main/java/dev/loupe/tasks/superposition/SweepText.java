package dev.loupe.tasks.superposition;

import java.util.Locale;

/** The text both sparsity sweeps print per instance. */
final class SweepText {

    private SweepText() {}

    /** Features with ||W_i|| at or above {@link PhaseDiagram#REPRESENTED}. */
    static int represented(double[][] w) {
        int n = 0;
        for (double norm : ToyModel.featureNorms(w)) {
            n += norm >= PhaseDiagram.REPRESENTED ? 1 : 0;
        }
        return n;
    }

    /** One line per instance: its sparsity, features represented, dimensions per feature and loss. */
    static String lines(String heading, double[] sparsities, double[][][] weights, double[] losses) {
        StringBuilder b = new StringBuilder(heading);
        for (int i = 0; i < sparsities.length; i++) {
            double[][] w = weights[i];
            b.append(String.format(Locale.ROOT, "%nS = %.3f: %d of %d features represented, %.2f dimensions per feature, loss %.4f",
                    sparsities[i], represented(w), w[0].length, ToyModel.dimensionsPerFeature(w), losses[i]));
        }
        return b.toString();
    }
}

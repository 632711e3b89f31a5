package dev.loupe.tasks.superposition;

import dev.loupe.display.Displayable;
import dev.loupe.display.MimeBundle;
import dev.loupe.plot.Plot;
import dev.loupe.plot.VectorPlot;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Toy models with two hidden dimensions, one per sparsity: {@code weights[k]} is instance k's W [2][n] and
 * {@code losses[k]} its loss. Shows each model's feature directions (W's columns) as 2-D vectors, one panel per sparsity.
 */
public record FeatureGeometry(double[] sparsities, double[] importance, double[][][] weights, double[] losses) implements Displayable {

    /** ||W_i|| per feature of the model at sparsity index {@code k}. */
    public double[] norms(int k) {
        return ToyModel.featureNorms(weights[k]);
    }

    /** How many features the model at sparsity index {@code k} represents (||W_i|| at least 0.5). */
    public int represented(int k) {
        return SweepText.represented(weights[k]);
    }

    /** Angle in degrees between the directions of features {@code i} and {@code j} in the model at index {@code k}. */
    public double angle(int k, int i, int j) {
        double[][] w = weights[k];
        double[] norm = ToyModel.featureNorms(w);
        return Math.toDegrees(Math.acos(Math.max(-1, Math.min(1, ToyModel.gram(w)[i][j] / (norm[i] * norm[j])))));
    }

    public VectorPlot plot() {
        List<VectorPlot.Panel> panels = new ArrayList<>();
        for (int k = 0; k < sparsities.length; k++) {
            panels.add(VectorPlot.Panel.ofColumns(String.format(Locale.ROOT, "S = %.3f", sparsities[k]), weights[k]));
        }
        return Plot.vectors(panels).columns(5).title(String.format(Locale.ROOT,
                "%d features in %d dimensions: each feature's column of W, by sparsity S", importance.length, weights[0].length));
    }

    @Override
    public MimeBundle mimeBundle() {
        return plot().mimeBundle().with(MimeBundle.TEXT, toString());
    }

    @Override
    public String toString() {
        return SweepText.lines(String.format(Locale.ROOT, "%d features in %d dimensions:", importance.length, weights[0].length),
                sparsities, weights, losses);
    }
}

package dev.loupe.tasks.superposition;

import dev.loupe.display.Displayable;
import dev.loupe.display.MimeBundle;
import dev.loupe.plot.CategoryMap;
import dev.loupe.plot.Plot;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * What a one-neuron model does with an extra feature (feature 1, beside feature 0 of importance 1) across a grid of
 * feature density (columns, 1 on the left to sparse on the right) and the extra feature's relative importance (rows,
 * most important at the top): {@code weights[row][col]} is the trained W's single row, [w_0, w_1], of the lowest-loss
 * seed. Shows as the paper's phase diagram.
 */
public record PhaseDiagram(double[] densities, double[] importances, double[][][] weights) implements Displayable {

    /** The paper's three phases of the extra feature. */
    public enum Phase {
        NOT_REPRESENTED("not represented"),
        DEDICATED("dedicated dimension"),
        SUPERPOSITION("superposition");

        private final String label;

        Phase(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    /** Below this length a feature counts as not represented. */
    public static final double REPRESENTED = 0.5;
    /** At or above this {@link ToyModel#superposition} a represented feature shares its direction with another. */
    public static final double SHARED = 0.25;

    /**
     * The phase of feature {@code extra} in a weight matrix W [m][n]: not represented when ||W_extra|| &lt;
     * {@value #REPRESENTED}; else in superposition when the other features along its direction,
     * Σ_{j≠extra} (Ŵ_extra · W_j)², reach {@value #SHARED} (an antipodal partner gives about 1); else a dedicated
     * dimension.
     */
    public static Phase classify(double[][] w, int extra) {
        if (ToyModel.featureNorms(w)[extra] < REPRESENTED) {
            return Phase.NOT_REPRESENTED;
        }
        return ToyModel.superposition(w)[extra] >= SHARED ? Phase.SUPERPOSITION : Phase.DEDICATED;
    }

    /** The extra feature's phase in each cell, [importance][density]. */
    public Phase[][] phases() {
        Phase[][] out = new Phase[importances.length][densities.length];
        for (int r = 0; r < out.length; r++) {
            for (int c = 0; c < out[r].length; c++) {
                out[r][c] = classify(new double[][] {weights[r][c]}, 1);
            }
        }
        return out;
    }

    /** The phase at one cell, by row (importance) and column (density). */
    public Phase at(int row, int col) {
        return classify(new double[][] {weights[row][col]}, 1);
    }

    /** How many cells are in each phase, in {@link Phase} order. */
    public int[] counts() {
        int[] out = new int[Phase.values().length];
        for (Phase[] row : phases()) {
            for (Phase p : row) {
                out[p.ordinal()]++;
            }
        }
        return out;
    }

    /** The categorical map: rows the extra feature's importance, columns the density, a colour per phase. */
    public CategoryMap map() {
        Phase[][] phases = phases();
        int[][] grid = new int[phases.length][];
        for (int r = 0; r < grid.length; r++) {
            grid[r] = Arrays.stream(phases[r]).mapToInt(Phase::ordinal).toArray();
        }
        return Plot.categories(grid, labels(importances), labels(densities),
                        Arrays.stream(Phase.values()).map(Phase::label).toList())
                .title("Extra feature in one neuron: phase of the lowest-loss model")
                .axes("extra feature's importance", "feature density (1 − S)");
    }

    private static List<String> labels(double[] values) {
        List<String> out = new ArrayList<>();
        for (double v : values) {
            out.add(String.format(Locale.ROOT, "%.3g", v));
        }
        return out;
    }

    @Override
    public MimeBundle mimeBundle() {
        return map().mimeBundle().with(MimeBundle.TEXT, toString());
    }

    @Override
    public String toString() {
        int[] n = counts();
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "phase diagram, %d importances x %d densities:",
                importances.length, densities.length));
        for (Phase p : Phase.values()) {
            b.append(p.ordinal() == 0 ? " " : ", ").append(p.label()).append(' ').append(n[p.ordinal()]);
        }
        return b.toString();
    }
}

package dev.loupe.tasks.superposition;

import dev.loupe.display.Displayable;
import dev.loupe.display.MimeBundle;
import dev.loupe.plot.Heatmap;
import dev.loupe.plot.Plot;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Toy models of n features in m dimensions, one per sparsity: {@code weights[k]} is instance k's W [m][n] and
 * {@code losses[k]} its loss. Shows WᵀW per sparsity; {@link #features()} shows each feature's norm and superposition.
 */
public record SparsitySweep(double[] sparsities, double[] importance, double[][][] weights, double[] losses) implements Displayable {

    /** Below this cosine two represented features point in opposite directions: an antipodal pair. */
    public static final double ANTIPODAL = -0.9;

    /** WᵀW of the model at sparsity index {@code k}, [n][n]. */
    public double[][] gram(int k) {
        return ToyModel.gram(weights[k]);
    }

    /** How many features the model at sparsity index {@code k} represents (||W_i|| at least 0.5). */
    public int represented(int k) {
        return SweepText.represented(weights[k]);
    }

    /** Pairs of represented features (both ||W_i|| at least 0.5) whose directions' cosine is below {@value #ANTIPODAL}. */
    public int antipodalPairs(int k) {
        double[][] g = gram(k);
        double[] norm = ToyModel.featureNorms(weights[k]);
        int pairs = 0;
        for (int i = 0; i < g.length; i++) {
            for (int j = i + 1; j < g.length; j++) {
                boolean both = norm[i] >= PhaseDiagram.REPRESENTED && norm[j] >= PhaseDiagram.REPRESENTED;
                pairs += both && g[i][j] / (norm[i] * norm[j]) < ANTIPODAL ? 1 : 0;
            }
        }
        return pairs;
    }

    private String label(int k) {
        return String.format(Locale.ROOT, "S = %s", sparsities[k]);
    }

    /** WᵀW per sparsity on one colour scale, four panels a row. */
    public Heatmap.Facets gramPlot() {
        List<String> features = Plot.numbers("", importance.length);
        List<Heatmap> panels = new ArrayList<>();
        for (int k = 0; k < sparsities.length; k++) {
            panels.add(Plot.heatmap(gram(k), features, features).title("WᵀW, " + label(k)).cellSize(7));
        }
        return Plot.facets(panels, true).columns(4);
    }

    /**
     * Each feature's norm ||W_i|| and superposition Σ_{j≠i} (Ŵ_i · W_j)² (columns: features, most important first; rows:
     * sparsity): the paper's bars, as two heatmaps. Superposition is left blank for features not represented (norm
     * below 0.5).
     */
    public Heatmap.Facets features() {
        double[][] norms = new double[sparsities.length][];
        double[][] shared = new double[sparsities.length][];
        List<String> rows = new ArrayList<>();
        for (int k = 0; k < sparsities.length; k++) {
            norms[k] = ToyModel.featureNorms(weights[k]);
            shared[k] = ToyModel.superposition(weights[k]);
            for (int i = 0; i < shared[k].length; i++) {
                // a near-zero column's direction is noise: its superposition would be too
                shared[k][i] = norms[k][i] >= PhaseDiagram.REPRESENTED ? shared[k][i] : Double.NaN;
            }
            rows.add(label(k));
        }
        List<String> features = Plot.numbers("", importance.length);
        return Plot.facets(List.of(
                Plot.heatmap(norms, rows, features).title("feature norm ||W_i||").axes("sparsity", "feature"),
                Plot.heatmap(shared, rows, features).title("superposition Σ_j (Ŵ_i·W_j)², represented features").axes("sparsity", "feature")), false);
    }

    @Override
    public MimeBundle mimeBundle() {
        return gramPlot().mimeBundle().with(MimeBundle.TEXT, toString());
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder(SweepText.lines(String.format(Locale.ROOT, "%d features in %d dimensions:",
                importance.length, weights[0].length), sparsities, weights, losses));
        b.append("\nantipodal pairs by sparsity:");
        for (int k = 0; k < sparsities.length; k++) {
            b.append(' ').append(antipodalPairs(k));
        }
        return b.toString();
    }
}

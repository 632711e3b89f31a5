package dev.loupe.circuits;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import dev.loupe.display.Displayable;
import dev.loupe.display.MimeBundle;
import dev.loupe.plot.AsHeatmap;
import dev.loupe.plot.Heatmap;
import dev.loupe.plot.Plot;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.Table;

/**
 * Composition scores of one kind between all pairs of heads: {@code scores} is [l1, h1, l2, h2], the score of the
 * earlier head (l1, h1) feeding the later head (l2, h2); zero where l2 ≤ l1. See
 * {@link Circuits#allCompositionScores}.
 */
public record CompositionScores(Circuits.Mode mode, NDArray scores) implements Displayable, AsHeatmap {

    /** One pair of heads and its score. */
    public record Pair(int layer1, int head1, int layer2, int head2, double score) {
        @Override
        public String toString() {
            return String.format("%d.%d -> %d.%d: %.4f", layer1, head1, layer2, head2, score);
        }
    }

    public double get(int layer1, int head1, int layer2, int head2) {
        return scores.get(layer1, head1, layer2, head2).toType(DataType.FLOAT64, false).getDouble();
    }

    /** The n highest-scoring pairs, best first. */
    public List<Pair> top(int n) {
        long[] s = scores.getShape().getShape();
        double[] v = scores.toType(DataType.FLOAT64, false).toDoubleArray();
        List<Pair> pairs = new ArrayList<>();
        for (int l1 = 0; l1 < s[0]; l1++) {
            for (int h1 = 0; h1 < s[1]; h1++) {
                for (int l2 = l1 + 1; l2 < s[2]; l2++) {
                    for (int h2 = 0; h2 < s[3]; h2++) {
                        double score = v[(int) (((l1 * s[1] + h1) * s[2] + l2) * s[3] + h2)];
                        if (!Double.isNaN(score)) { // a head with all-zero weights has no score
                            pairs.add(new Pair(l1, h1, l2, h2, score));
                        }
                    }
                }
            }
        }
        pairs.sort(Comparator.comparingDouble(Pair::score).reversed());
        return pairs.subList(0, Math.min(n, pairs.size()));
    }

    /** Every pair of an earlier and a later head with a score, best first: layer1, head1, layer2, head2, score. */
    public Table toTable() {
        List<Pair> pairs = top(Integer.MAX_VALUE);
        return Table.create(mode + " composition",
                IntColumn.create("layer1", pairs.stream().mapToInt(Pair::layer1).toArray()),
                IntColumn.create("head1", pairs.stream().mapToInt(Pair::head1).toArray()),
                IntColumn.create("layer2", pairs.stream().mapToInt(Pair::layer2).toArray()),
                IntColumn.create("head2", pairs.stream().mapToInt(Pair::head2).toArray()),
                DoubleColumn.create("score", pairs.stream().mapToDouble(Pair::score).toArray()));
    }

    @Override
    public String toString() {
        StringBuilder out = new StringBuilder(mode + "-composition scores " + scores.getShape() + " [l1, h1, l2, h2]");
        List<Pair> best = top(5);
        if (!best.isEmpty()) {
            out.append(", highest:");
            best.forEach(p -> out.append("\n  ").append(p));
        }
        return out.toString();
    }

    /** The scores [layer1, head1, layer2, head2] as a heatmap with rows L1H1 and columns L2H2. */
    @Override
    public Heatmap heatmap() {
        long[] s = scores.getShape().getShape();
        return Plot.heatmap(scores.reshape(s[0] * s[1], s[2] * s[3]), heads(s[0], s[1]), heads(s[2], s[3]))
                .title(mode + " composition").axes("earlier head", "later head");
    }

    /** "L0H0", "L0H1", ...: each head of {@code layers} layers of {@code heads} heads. */
    private static List<String> heads(long layers, long heads) {
        List<String> out = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < heads; h++) {
                out.add("L" + l + "H" + h);
            }
        }
        return out;
    }

    @Override
    public MimeBundle mimeBundle() {
        // The heatmap in notebooks; the table as plain text.
        return heatmap().mimeBundle().with(MimeBundle.TEXT, toString());
    }
}

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
 * One score per attention head: {@code scores} is [layer, head]. What the score means is in {@code name}
 * (e.g. "induction_head"); see {@link HeadDetector}.
 */
public record HeadScores(String name, NDArray scores) implements Displayable, AsHeatmap {

    /** A head and its score. */
    public record Head(int layer, int head, double score) {
        @Override
        public String toString() {
            return String.format("%d.%d: %.4f", layer, head, score);
        }
    }

    public int nLayers() {
        return (int) scores.getShape().get(0);
    }

    public int nHeads() {
        return (int) scores.getShape().get(1);
    }

    public double get(int layer, int head) {
        return scores.get(layer, head).toType(DataType.FLOAT64, false).getDouble();
    }

    /** The n highest-scoring heads, best first. */
    public List<Head> top(int n) {
        double[] v = scores.toType(DataType.FLOAT64, false).toDoubleArray();
        List<Head> heads = new ArrayList<>();
        for (int i = 0; i < v.length; i++) {
            heads.add(new Head(i / nHeads(), i % nHeads(), v[i]));
        }
        heads.sort(Comparator.comparingDouble(Head::score).reversed());
        return heads.subList(0, Math.min(n, heads.size()));
    }

    /** One row per head, in layer then head order: columns layer, head and the score's name. */
    public Table toTable() {
        double[] v = scores.toType(DataType.FLOAT64, false).toDoubleArray();
        IntColumn layer = IntColumn.create("layer");
        IntColumn head = IntColumn.create("head");
        for (int i = 0; i < v.length; i++) {
            layer.append(i / nHeads());
            head.append(i % nHeads());
        }
        return Table.create(name, layer, head, DoubleColumn.create(name, v));
    }

    /** A layer × head table. */
    @Override
    public String toString() {
        double[] v = scores.toType(DataType.FLOAT64, false).toDoubleArray();
        StringBuilder out = new StringBuilder(name + " scores [layer, head]\n      ");
        for (int h = 0; h < nHeads(); h++) {
            out.append(String.format("%7s", "H" + h));
        }
        for (int l = 0; l < nLayers(); l++) {
            out.append(String.format("%nL%-5d", l));
            for (int h = 0; h < nHeads(); h++) {
                out.append(String.format("%7.3f", v[l * nHeads() + h]));
            }
        }
        return out.toString();
    }

    /** The scores [layer, head] as a heatmap. */
    @Override
    public Heatmap heatmap() {
        return Plot.heatmap(scores, Plot.numbers("", nLayers()), Plot.numbers("H", nHeads())).title(name).axes("layer", "head");
    }

    @Override
    public MimeBundle mimeBundle() {
        // The heatmap in notebooks; the table as plain text.
        return heatmap().mimeBundle().with(MimeBundle.TEXT, toString());
    }
}

package dev.loupe.patching;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import dev.loupe.display.Displayable;
import dev.loupe.display.Html;
import dev.loupe.display.MimeBundle;
import dev.loupe.display.TableView;
import dev.loupe.display.Tables;
import dev.loupe.plot.AsHeatmap;
import dev.loupe.plot.Heatmap;
import dev.loupe.plot.Plot;

import java.util.List;

import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;

/**
 * The metric after each patch of a sweep: {@code values} has one axis per entry of {@code axes} (e.g.
 * [layer, pos]), and {@code labels.get(i)} names the entries along axis i ("3", "3: John", "H7"). Shows as a
 * heatmap with its table in a notebook; {@link #toTable()} gives one row per cell for sorting and filtering.
 */
public record PatchingResult(String title, NDArray values, List<String> axes, List<List<String>> labels) implements Displayable, AsHeatmap {

    /** The metric at one cell, one index per axis: {@code sweep.at(layer, pos)}, as TransformerLens's {@code result[l, p].item()}. */
    public double at(long... indices) {
        return dev.loupe.tensor.Tensors.item(values, indices);
    }

    /** One row per cell: a column per axis with its label, and {@code value}. */
    public Table toTable() {
        double[] v = values.toType(DataType.FLOAT64, false).toDoubleArray();
        Table table = Table.create(title);
        int[] sizes = labels.stream().mapToInt(List::size).toArray();
        for (int axis = 0; axis < axes.size(); axis++) {
            String[] column = new String[v.length];
            int stride = 1;
            for (int later = axis + 1; later < sizes.length; later++) {
                stride *= sizes[later];
            }
            for (int i = 0; i < v.length; i++) {
                column[i] = labels.get(axis).get((i / stride) % sizes[axis]);
            }
            table.addColumns(StringColumn.create(axes.get(axis), column));
        }
        return table.addColumns(DoubleColumn.create("value", v));
    }

    /** The sweep over two axes, e.g. [layer, pos], as a labelled heatmap; a result over other axes has none. */
    @Override
    public Heatmap heatmap() {
        if (axes.size() != 2) {
            throw new IllegalArgumentException("a heatmap shows two axes; this result has " + axes);
        }
        return Plot.heatmap(values, labels.get(0), labels.get(1)).title(title).axes(axes.get(0), axes.get(1));
    }

    @Override
    public MimeBundle mimeBundle() {
        MimeBundle bundle = MimeBundle.text(toString());
        if (axes.size() != 2) {
            return bundle.withHtml("<b>" + Html.escape(title) + "</b>" + TableView.bundle(toTable()).data().get(MimeBundle.HTML));
        }
        // The heatmap (labelled axes, diverging scale, hover values) is dev.loupe.plot's; the wide table follows it.
        Heatmap heatmap = heatmap();
        Table wide = Tables.fromArray(values.toType(DataType.FLOAT64, false), labels.get(0), labels.get(1));
        // The heatmap's own notebook bundle: its PNG travels once, as image/png, not again inside the HTML.
        MimeBundle figure = heatmap.mimeBundle();
        String html = figure.data().get(MimeBundle.HTML) + TableView.bundle(wide).data().get(MimeBundle.HTML);
        return bundle.withHtml(html).withPng(java.util.Base64.getDecoder().decode(figure.data().get(MimeBundle.PNG)));
    }

    @Override
    public String toString() {
        return title + " " + values.getShape() + " over " + axes;
    }
}

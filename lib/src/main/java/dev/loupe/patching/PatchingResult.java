package dev.loupe.patching;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import dev.loupe.display.Charts;
import dev.loupe.display.ColorScale;
import dev.loupe.display.Displayable;
import dev.loupe.display.Html;
import dev.loupe.display.MimeBundle;
import dev.loupe.display.TableView;
import dev.loupe.display.Tables;

import java.util.List;

import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;

/**
 * The metric after each patch of a sweep: {@code values} has one axis per entry of {@code axes} (e.g.
 * [layer, pos]), and {@code labels.get(i)} names the entries along axis i ("3", "3: John", "H7"). Shows as a
 * heatmap with its table in a notebook; {@link #toTable()} gives one row per cell for sorting and filtering.
 */
public record PatchingResult(String title, NDArray values, List<String> axes, List<List<String>> labels) implements Displayable {

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

    @Override
    public MimeBundle mimeBundle() {
        MimeBundle bundle = MimeBundle.text(toString());
        if (axes.size() != 2) {
            return bundle.withHtml("<b>" + Html.escape(title) + "</b>" + TableView.bundle(toTable()).data().get(MimeBundle.HTML));
        }
        int rows = labels.get(0).size();
        int cols = labels.get(1).size();
        double[] v = values.toType(DataType.FLOAT64, false).toDoubleArray();
        double[][] grid = new double[rows][cols];
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                grid[r][c] = v[r * cols + c];
                if (Double.isFinite(grid[r][c])) {
                    min = Math.min(min, grid[r][c]);
                    max = Math.max(max, grid[r][c]);
                }
            }
        }
        byte[] png = Charts.heatmapPng(grid, rows, cols, ColorScale.forRange(min, max), Charts.WIDTH, Charts.HEIGHT);
        Table wide = Tables.fromArray(values.toType(DataType.FLOAT64, false), labels.get(0), labels.get(1));
        String html = "<b>" + Html.escape(title) + "</b> <span>(rows: " + Html.escape(axes.get(0)) + ", columns: "
                + Html.escape(axes.get(1)) + ")</span><br><img src=\"data:image/png;base64,"
                + java.util.Base64.getEncoder().encodeToString(png) + "\">"
                + TableView.bundle(wide).data().get(MimeBundle.HTML);
        return bundle.withHtml(html).withPng(png);
    }

    @Override
    public String toString() {
        return title + " " + values.getShape() + " over " + axes;
    }
}

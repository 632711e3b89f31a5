package dev.loupe.plot;

import java.util.List;

/**
 * A grid whose cells each hold one of a few named categories (a phase diagram): a colour per category, a legend
 * naming them, labelled rows (row 0 at the top) and columns, and each cell's row, column and category on hover.
 */
public final class CategoryMap extends Figure.Drawn {

    /** Colour-blind-safe, and far apart in lightness too (Okabe and Ito's blue, vermilion, yellow; then grey, green). */
    private static final int[] COLOURS = {0x0072b2, 0xd55e00, 0xf0e442, 0x999999, 0x009e73};
    private static final int CELL = 26;
    private static final int TOP = 30;

    private final int[][] grid;
    private final List<String> rowLabels;
    private final List<String> colLabels;
    private final List<String> categories;
    private String title = "";
    private String rowAxis = "";
    private String colAxis = "";

    CategoryMap(int[][] grid, List<String> rowLabels, List<String> colLabels, List<String> categories) {
        if (categories.isEmpty() || categories.size() > COLOURS.length) {
            throw new IllegalArgumentException("a category map shows 1 to " + COLOURS.length + " categories; got "
                    + categories.size());
        }
        if (grid.length != rowLabels.size() || grid.length == 0 || grid[0].length != colLabels.size()) {
            throw new IllegalArgumentException("a category map of " + grid.length + " x " + (grid.length == 0 ? 0 : grid[0].length)
                    + " needs as many labels; got " + rowLabels.size() + " row and " + colLabels.size() + " column labels");
        }
        for (int[] row : grid) {
            for (int c : row) {
                if (c < 0 || c >= categories.size()) {
                    throw new IllegalArgumentException("category " + c + " is not one of the " + categories.size() + " named");
                }
            }
        }
        this.grid = grid;
        this.rowLabels = List.copyOf(rowLabels);
        this.colLabels = List.copyOf(colLabels);
        this.categories = List.copyOf(categories);
    }

    public CategoryMap title(String title) {
        this.title = title == null ? "" : title;
        return this;
    }

    /** Names the axes: what the rows are and what the columns are. */
    public CategoryMap axes(String rowAxis, String colAxis) {
        this.rowAxis = rowAxis == null ? "" : rowAxis;
        this.colAxis = colAxis == null ? "" : colAxis;
        return this;
    }

    /** The category index of one cell. */
    public int at(int row, int col) {
        return grid[row][col];
    }

    @Override
    Drawing draw() {
        int rows = grid.length;
        int cols = grid[0].length;
        double left = Heatmap.labelWidth(rowLabels) + (rowAxis.isEmpty() ? 10 : 28);
        double below = Heatmap.labelWidth(colLabels) + (colAxis.isEmpty() ? 10 : 28);
        double legendX = left + cols * CELL + 16;
        double legendW = categories.stream().mapToDouble(Drawing::textWidth).max().orElse(0) + 30;
        int width = (int) Math.ceil(Math.max(legendX + legendW, Static.titleWidth(title)));
        int height = (int) Math.ceil(Math.max(TOP + rows * CELL + below, TOP + 20 * categories.size()));
        Drawing d = new Drawing(width, height);
        if (!title.isEmpty()) {
            d.text(8, 16, title, Drawing.Anchor.START, false, 0x333333, true);
        }
        for (int r = 0; r < rows; r++) {
            double y = TOP + r * CELL;
            d.text(left - 6, y + CELL / 2.0 + 4, Heatmap.clip(rowLabels.get(r)), Drawing.Anchor.END, false);
            for (int c = 0; c < cols; c++) {
                int k = grid[r][c];
                d.rect(left + c * CELL, y, CELL - 1, CELL - 1, COLOURS[k], (rowAxis.isEmpty() ? "" : rowAxis + " ")
                        + rowLabels.get(r) + ", " + (colAxis.isEmpty() ? "" : colAxis + " ") + colLabels.get(c) + ": "
                        + categories.get(k));
            }
        }
        double gridBottom = TOP + rows * CELL;
        for (int c = 0; c < cols; c++) {
            d.text(left + c * CELL + CELL / 2.0 + 4, gridBottom + 6, Heatmap.clip(colLabels.get(c)), Drawing.Anchor.END, true);
        }
        if (!rowAxis.isEmpty()) {
            d.text(14, TOP + rows * CELL / 2.0, rowAxis, Drawing.Anchor.MIDDLE, true);
        }
        if (!colAxis.isEmpty()) {
            d.text(left + cols * CELL / 2.0, height - 8, colAxis, Drawing.Anchor.MIDDLE, false);
        }
        for (int k = 0; k < categories.size(); k++) {
            double y = TOP + k * 20;
            d.rect(legendX, y, 14, 14, COLOURS[k], null);
            d.text(legendX + 20, y + 11, categories.get(k), Drawing.Anchor.START, false);
        }
        return d;
    }

    @Override
    public String text() {
        int[] counts = new int[categories.size()];
        for (int[] row : grid) {
            for (int c : row) {
                counts[c]++;
            }
        }
        StringBuilder b = new StringBuilder("Category map" + (title.isEmpty() ? "" : " \"" + title + "\"") + " ["
                + grid.length + " x " + grid[0].length + "]:");
        for (int k = 0; k < counts.length; k++) {
            b.append(k == 0 ? " " : ", ").append(categories.get(k)).append(' ').append(counts[k]);
        }
        return b.toString();
    }
}

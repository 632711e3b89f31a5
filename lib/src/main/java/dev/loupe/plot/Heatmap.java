package dev.loupe.plot;

import dev.loupe.display.ColorScale;

import java.util.List;
import java.util.Locale;

/**
 * A grid of values with labelled rows and columns. Signed values use a diverging scale centred at 0 (blue, white,
 * red); one-signed values a sequential one. Hovering a cell shows its row, column and value.
 */
public final class Heatmap extends Figure.Drawn {

    private static final int TITLE_H = 22;
    private static final int AXIS_H = 16;
    private static final int BAR_W = 70;
    /** Above this many cells the grid is one embedded bitmap (no per-cell hover) to keep the SVG small. */
    static final int MAX_CELLS = 40_000;

    final double[][] grid;
    final List<String> rowLabels;
    final List<String> colLabels;
    String title = "";
    String rowAxis = "";
    String colAxis = "";
    ColorScale scale;
    double cell;

    Heatmap(double[][] grid, List<String> rowLabels, List<String> colLabels) {
        int rows = grid.length;
        int cols = rows == 0 ? 0 : grid[0].length;
        if (rowLabels.size() != rows || colLabels.size() != cols) {
            throw new IllegalArgumentException("heatmap of " + rows + " x " + cols + " needs as many labels; got "
                    + rowLabels.size() + " row and " + colLabels.size() + " column labels");
        }
        this.grid = grid;
        this.rowLabels = List.copyOf(rowLabels);
        this.colLabels = List.copyOf(colLabels);
        this.scale = ColorScale.forRange(min(grid), max(grid));
        this.cell = Math.min(28, 520.0 / Math.max(1, Math.max(rows, cols)));
    }

    public Heatmap title(String title) {
        this.title = title == null ? "" : title;
        return this;
    }

    /** Names the axes: what the rows are (e.g. "layer") and what the columns are (e.g. "position"). */
    public Heatmap axes(String rowAxis, String colAxis) {
        this.rowAxis = rowAxis == null ? "" : rowAxis;
        this.colAxis = colAxis == null ? "" : colAxis;
        return this;
    }

    /** Draws with this colour scale instead of one fitted to this grid (for comparing several heatmaps). */
    public Heatmap scale(ColorScale scale) {
        this.scale = scale;
        return this;
    }

    /** Pixel size of one cell. */
    public Heatmap cellSize(double pixels) {
        this.cell = pixels;
        return this;
    }

    public ColorScale scale() {
        return scale;
    }

    public double value(int row, int col) {
        return grid[row][col];
    }

    static double min(double[][] g) {
        double m = Double.POSITIVE_INFINITY;
        for (double[] r : g) {
            for (double v : r) {
                if (Double.isFinite(v)) {
                    m = Math.min(m, v);
                }
            }
        }
        return m;
    }

    static double max(double[][] g) {
        double m = Double.NEGATIVE_INFINITY;
        for (double[] r : g) {
            for (double v : r) {
                if (Double.isFinite(v)) {
                    m = Math.max(m, v);
                }
            }
        }
        return m;
    }

    int rows() {
        return grid.length;
    }

    int cols() {
        return grid.length == 0 ? 0 : grid[0].length;
    }

    private double labelWidth(List<String> labels) {
        double w = 0;
        for (String s : labels) {
            w = Math.max(w, Drawing.textWidth(s));
        }
        return Math.min(w, 160);
    }

    double left() {
        return (rowAxis.isEmpty() ? 0 : AXIS_H) + labelWidth(rowLabels) + 8;
    }

    double top() {
        return TITLE_H;
    }

    double plotWidth() {
        return Math.max(left() + cols() * cell, Drawing.textWidth(title) + 10);
    }

    double plotHeight() {
        return top() + rows() * cell + labelWidth(colLabels) + 8 + (colAxis.isEmpty() ? 0 : AXIS_H) + 4;
    }

    @Override
    Drawing draw() {
        Drawing d = new Drawing((int) Math.ceil(plotWidth() + BAR_W + 10), (int) Math.ceil(Math.max(plotHeight(), 140)));
        drawInto(d, 0, 0);
        colourBar(d, scale, plotWidth() + 14, top(), Math.max(100, Math.min(rows() * cell, 240)));
        return d;
    }

    void drawInto(Drawing d, double ox, double oy) {
        d.origin(ox, oy);
        double left = left();
        double top = top();
        d.text(0, 15, title, Drawing.Anchor.START, false, 0x111111, true);
        if ((long) rows() * cols() > MAX_CELLS || cell < 3) {
            d.raster(left, top, cols() * cell, rows() * cell, raster(), rows() + " x " + cols() + " cells: too many to hover one by one; "
                    + format(min(grid)) + " .. " + format(max(grid)));
        }
        for (int r = 0; (long) rows() * cols() <= MAX_CELLS && cell >= 3 && r < rows(); r++) {
            for (int c = 0; c < cols(); c++) {
                double v = grid[r][c];
                d.rect(left + c * cell, top + r * cell, cell, cell, scale.rgb(v),
                        (rowAxis.isEmpty() ? "row" : rowAxis) + " " + rowLabels.get(r) + ", "
                                + (colAxis.isEmpty() ? "col" : colAxis) + " " + colLabels.get(c) + ": " + format(v));
            }
        }
        boolean everyRow = cell >= 11;
        int rowStep = everyRow ? 1 : (int) Math.ceil(11 / cell);
        for (int r = 0; r < rows(); r += rowStep) {
            d.text(left - 4, top + (r + 0.5) * cell + 4, clip(rowLabels.get(r)), Drawing.Anchor.END, false);
        }
        int colStep = cell >= 11 ? 1 : (int) Math.ceil(11 / cell);
        double bottom = top + rows() * cell;
        for (int c = 0; c < cols(); c += colStep) {
            d.text(left + (c + 0.5) * cell + 4, bottom + 4, clip(colLabels.get(c)), Drawing.Anchor.END, true);
        }
        if (!rowAxis.isEmpty()) {
            d.text(12, top + rows() * cell / 2, rowAxis, Drawing.Anchor.MIDDLE, true, 0x111111, false);
        }
        if (!colAxis.isEmpty()) {
            d.text(left + cols() * cell / 2, bottom + labelWidth(colLabels) + 8 + 12, colAxis, Drawing.Anchor.MIDDLE,
                    false, 0x111111, false);
        }
        d.origin(0, 0);
    }

    /** One pixel per cell when it fits in 1024 x 1024, else nearest-sampled. */
    private java.awt.image.BufferedImage raster() {
        int w = Math.min(cols(), 1024);
        int h = Math.min(rows(), 1024);
        java.awt.image.BufferedImage img = new java.awt.image.BufferedImage(w, h, java.awt.image.BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            double[] row = grid[(int) ((long) y * rows() / h)];
            for (int x = 0; x < w; x++) {
                img.setRGB(x, y, scale.rgb(row[(int) ((long) x * cols() / w)]));
            }
        }
        return img;
    }

    static void colourBar(Drawing d, ColorScale scale, double x, double y, double h) {
        int steps = 64;
        for (int i = 0; i < steps; i++) {
            double t = 1 - (i + 0.5) / steps;
            d.rect(x, y + i * h / steps, 12, h / steps + 0.5, scale.rgb(scale.lo() + t * (scale.hi() - scale.lo())), null);
        }
        d.text(x + 16, y + 8, format(scale.hi()), Drawing.Anchor.START, false);
        d.text(x + 16, y + h, format(scale.lo()), Drawing.Anchor.START, false);
        if (scale.diverging()) {
            d.text(x + 16, y + h / 2 + 4, "0", Drawing.Anchor.START, false);
        }
    }

    static String clip(String s) {
        String t = s.replace("\n", "\\n");
        return t.length() > 24 ? t.substring(0, 23) + "…" : t;
    }

    static String format(double v) {
        if (Double.isNaN(v)) {
            return "NaN";
        }
        double a = Math.abs(v);
        if (a != 0 && (a < 1e-3 || a >= 1e5)) {
            return String.format(Locale.ROOT, "%.3g", v);
        }
        return String.format(Locale.ROOT, "%.4f", v).replaceAll("0+$", "").replaceAll("\\.$", "");
    }

    @Override
    public String text() {
        return "Heatmap" + (title.isEmpty() ? "" : " \"" + title + "\"") + " [" + rows() + " x " + cols() + "] "
                + format(min(grid)) + " .. " + format(max(grid));
    }

    /** Several heatmaps side by side; with a shared scale, equal colours mean equal values across them. */
    public static final class Facets extends Figure.Drawn {
        private final List<Heatmap> panels;
        private final ColorScale scale;

        Facets(List<Heatmap> panels, boolean sharedScale) {
            if (panels.isEmpty()) {
                throw new IllegalArgumentException("facets needs at least one heatmap");
            }
            this.panels = List.copyOf(panels);
            if (sharedScale) {
                double lo = Double.POSITIVE_INFINITY;
                double hi = Double.NEGATIVE_INFINITY;
                for (Heatmap p : panels) {
                    lo = Math.min(lo, min(p.grid));
                    hi = Math.max(hi, max(p.grid));
                }
                scale = ColorScale.forRange(lo, hi);
                double cell = panels.stream().mapToDouble(p -> p.cell).min().orElse(10);
                for (Heatmap p : panels) {
                    p.scale(scale).cellSize(cell);
                }
            } else {
                scale = null;
            }
        }

        public List<Heatmap> panels() {
            return panels;
        }

        @Override
        Drawing draw() {
            double w = 0;
            double h = 0;
            for (Heatmap p : panels) {
                w += p.plotWidth() + (scale == null ? BAR_W + 10 : 16);
                h = Math.max(h, p.plotHeight());
            }
            Drawing d = new Drawing((int) Math.ceil(w + (scale == null ? 0 : BAR_W)), (int) Math.ceil(Math.max(h, 140)));
            double x = 0;
            for (Heatmap p : panels) {
                p.drawInto(d, x, 0);
                x += p.plotWidth();
                if (scale == null) {
                    colourBar(d, p.scale, x + 14, p.top(), Math.max(100, Math.min(p.rows() * p.cell, 240)));
                    x += BAR_W + 10;
                } else {
                    x += 16;
                }
            }
            if (scale != null) {
                colourBar(d, scale, x, panels.get(0).top(), Math.max(100, Math.min(panels.get(0).rows() * panels.get(0).cell, 240)));
            }
            return d;
        }

        @Override
        public String text() {
            return "Facets of " + panels.size() + " heatmaps" + (scale == null ? "" : " (shared scale "
                    + format(scale.lo()) + " .. " + format(scale.hi()) + ")");
        }
    }
}

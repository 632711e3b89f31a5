package dev.loupe.plot;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;

import dev.loupe.display.ColorScale;

import java.awt.Color;
import java.awt.Graphics2D;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.knowm.xchart.HeatMapChart;
import org.knowm.xchart.style.Styler;

import tech.tablesaw.plotly.components.Axis;
import tech.tablesaw.plotly.components.Layout;
import tech.tablesaw.plotly.components.Margin;
import tech.tablesaw.plotly.components.TickSettings;
import tech.tablesaw.plotly.traces.HeatmapTrace;

/**
 * A grid of values with labelled rows and columns, row 0 at the top. Signed values use a diverging scale centred at 0
 * (blue, white, red); one-signed values a sequential one (viridis). Hovering a cell shows its row, column and value;
 * the plot zooms and pans. Row and column labels are tick labels, so repeated tokens stay separate columns.
 */
public final class Heatmap extends Plotted {

    /** Above this many cells, blocks of cells are pooled to their value of largest magnitude to keep outputs small. */
    static final int MAX_CELLS = 40_000;
    private static final int BAR_W = 90;

    final double[][] grid;
    final List<String> rowLabels;
    final List<String> colLabels;
    String title = "";
    String rowAxis = "";
    String colAxis = "";
    ColorScale scale;
    double cell;
    /** Facets show one colour bar, on the last panel. */
    boolean colourBar = true;

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

    /** The grid as drawn, with its labels: pooled in blocks of {@code factor} x {@code factor} past MAX_CELLS. */
    record Shown(double[][] grid, List<String> rows, List<String> cols, int factor) {}

    Shown shown() {
        long cells = (long) rows() * cols();
        if (cells <= MAX_CELLS) {
            return new Shown(grid, rowLabels, colLabels, 1);
        }
        int f = (int) Math.ceil(Math.sqrt((double) cells / MAX_CELLS));
        int pr = (rows() + f - 1) / f;
        int pc = (cols() + f - 1) / f;
        double[][] pooled = new double[pr][pc];
        for (int r = 0; r < pr; r++) {
            for (int c = 0; c < pc; c++) {
                double best = 0;
                for (int i = r * f; i < Math.min(rows(), (r + 1) * f); i++) {
                    for (int j = c * f; j < Math.min(cols(), (c + 1) * f); j++) {
                        double v = grid[i][j];
                        // NaN wins, so gaps stay visible.
                        if (Double.isNaN(v) || !Double.isNaN(best) && Math.abs(v) > Math.abs(best)) {
                            best = v;
                        }
                    }
                }
                pooled[r][c] = best;
            }
        }
        return new Shown(pooled, blocks(rowLabels, f), blocks(colLabels, f), f);
    }

    private static List<String> blocks(List<String> labels, int f) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < labels.size(); i += f) {
            out.add(labels.get(i) + " … " + labels.get(Math.min(labels.size(), i + f) - 1));
        }
        return out;
    }

    /** Width of the widest label as shown (clipped), at most 160 pixels. */
    static double labelWidth(List<String> labels) {
        double w = 0;
        for (String s : labels) {
            w = Math.max(w, Drawing.textWidth(clip(s)));
        }
        return Math.min(w, 160);
    }

    /** Cell size as drawn: pooled grids keep the figure's size. */
    private double shownCell(Shown s) {
        return cell * s.factor;
    }

    private int left(Shown s) {
        return (int) labelWidth(s.rows) + (rowAxis.isEmpty() ? 16 : 34);
    }

    private int bottom(Shown s) {
        return (int) labelWidth(s.cols) + (colAxis.isEmpty() ? 16 : 34);
    }

    private static final int TOP = 34;

    /** Room right of the grid: the colour bar, or (in facets) the gap to the next panel. */
    private int right() {
        return colourBar ? BAR_W : 30;
    }

    @Override
    int width() {
        Shown s = shown();
        // XChart needs room for its axes and colour bar even around a grid of one cell.
        return (int) Math.max(Math.ceil(left(s) + Math.max(s.grid[0].length * shownCell(s), 100) + right()),
                Static.titleWidth(title));
    }

    @Override
    int height() {
        Shown s = shown();
        return (int) Math.max(Math.ceil(TOP + s.grid.length * shownCell(s) + bottom(s)), 160);
    }

    /** The scale as plotly's colorscale: the ColorScale sampled at 11 stops (its anchors for the diverging one). */
    private JsonArray colorscale() {
        JsonArray stops = new JsonArray();
        for (int i = 0; i <= 10; i++) {
            double t = i / 10.0;
            JsonArray stop = new JsonArray();
            stop.add(t);
            stop.add(Drawing.hex(scale.rgb(scale.lo() + t * (scale.hi() - scale.lo()))));
            stops.add(stop);
        }
        return stops;
    }

    /** Every label when they fit, else every k-th: one tick per 11 pixels. */
    private static TickSettings ticks(List<String> labels, double cell) {
        int step = cell >= 11 ? 1 : (int) Math.ceil(11 / cell);
        int n = (labels.size() + step - 1) / step;
        double[] at = new double[n];
        String[] text = new String[n];
        for (int i = 0; i < n; i++) {
            at[i] = i * step;
            text[i] = plotlyText(clip(labels.get(i * step)));
        }
        return TickSettings.builder().tickMode(TickSettings.TickMode.ARRAY).arrayTicks(at, text).build();
    }

    Panel panel() {
        Shown s = shown();
        double c = shownCell(s);
        Object[] xs = new Object[s.cols.size()];
        Object[] ys = new Object[s.rows.size()];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = i;
        }
        for (int i = 0; i < ys.length; i++) {
            ys[i] = i;
        }
        HeatmapTrace trace = HeatmapTrace.builder(xs, ys, s.grid).build();
        Layout layout = Layout.builder().width(width()).height(height())
                .margin(Margin.builder().left(left(s)).right(right()).top(TOP).bottom(bottom(s)).build())
                .xAxis(Axis.builder().type(Axis.Type.LINEAR).tickSettings(ticks(s.cols, c)).showGrid(false)
                        .showZeroLine(false).build())
                .yAxis(Axis.builder().type(Axis.Type.LINEAR).autoRange(Axis.AutoRange.REVERSED)
                        .tickSettings(ticks(s.rows, c)).showGrid(false).showZeroLine(false).build())
                .build();
        JsonObject t = new JsonObject();
        t.add("colorscale", colorscale());
        t.addProperty("zmin", scale.lo());
        t.addProperty("zmax", scale.hi());
        t.addProperty("showscale", colourBar);
        t.addProperty("hovertemplate", "%{text}: %{z:.4~g}" + (s.factor > 1 ? " (largest |value| of its block)" : "")
                + "<extra></extra>");
        JsonObject extra = new JsonObject();
        JsonArray traces = new JsonArray();
        traces.add(t);
        extra.add("traces", traces);
        JsonObject l = new JsonObject();
        l.add("title", titleJson(title, 0.01));
        l.add("xaxis", axisJson(colAxis, -90));
        l.add("yaxis", axisJson(rowAxis, 0));
        extra.add("layout", l);
        extra.add("rows", hoverLabels(rowAxis.isEmpty() ? "row" : rowAxis, s.rows));
        extra.add("cols", hoverLabels(colAxis.isEmpty() ? "col" : colAxis, s.cols));
        return new Panel(layout, width(), extra, trace);
    }

    static JsonObject titleJson(String text, double x) {
        JsonObject title = new JsonObject();
        title.addProperty("text", plotlyText(text));
        title.addProperty("x", x);
        title.addProperty("xanchor", "left");
        JsonObject font = new JsonObject();
        font.addProperty("size", 13);
        title.add("font", font);
        return title;
    }

    static JsonObject axisJson(String name, int tickAngle) {
        JsonObject axis = new JsonObject();
        JsonObject title = new JsonObject();
        title.addProperty("text", plotlyText(name));
        axis.add("title", title);
        axis.addProperty("tickangle", tickAngle);
        return axis;
    }

    private static JsonArray hoverLabels(String axis, List<String> labels) {
        JsonArray a = new JsonArray();
        for (String s : labels) {
            a.add(plotlyText(axis + " " + s));
        }
        return a;
    }

    @Override
    List<Panel> views() {
        return List.of(panel());
    }

    /** The RdBu or viridis anchors XChart interpolates between, sampled from the same ColorScale as plotly's. */
    private Color[] rangeColours() {
        Color[] c = new Color[11];
        for (int i = 0; i < c.length; i++) {
            c[i] = new Color(scale.rgb(scale.lo() + i / 10.0 * (scale.hi() - scale.lo())));
        }
        return c;
    }

    HeatMapChart chart(int width, int height) {
        Shown s = shown();
        HeatMapChart chart = new HeatMapChart(width, height, Styler.ChartTheme.XChart); // the plain constructor sets no theme
        chart.setXAxisTitle(colAxis);
        chart.setYAxisTitle(rowAxis);
        var st = chart.getStyler();
        Static.style(st);
        st.setRangeColors(rangeColours()).setMin(outward(scale.lo())).setMax(outward(scale.hi())).setShowValue(false).setDrawBorder(false)
                .setHeatMapDecimalValueFormatter(Heatmap::format);
        st.setPlotContentSize(1);
        st.setLegendVisible(colourBar);
        st.setGradientColorColumnWeight(12).setGradientColorColumnHeight((int) Math.max(80, Math.min(240, height - 120)));
        st.setLegendPosition(Styler.LegendPosition.OutsideE);
        st.setXAxisLabelRotation(90);
        // A label per cell where they fit (XChart leaves out what would overlap).
        st.setXAxisTickMarkSpacingHint(14);
        st.setYAxisTickMarkSpacingHint(14);
        st.setAxisTitlesVisible(!(rowAxis.isEmpty() && colAxis.isEmpty()));
        int rows = s.rows.size();
        int cols = s.cols.size();
        // XChart puts its first y category at the bottom: rows go in reversed so row 0 is on top.
        List<String> xs = Static.labels(s.cols);
        List<String> ys = new ArrayList<>(Static.labels(s.rows));
        java.util.Collections.reverse(ys);
        List<Number[]> cells = new ArrayList<>();
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                double v = s.grid[r][c];
                if (!Double.isNaN(v)) {
                    cells.add(new Number[] {c, rows - 1 - r, v});
                }
            }
        }
        if (!cells.isEmpty()) { // XChart refuses an empty series; an all-NaN grid draws as blank
            chart.addSeries(title.isEmpty() ? " " : title, xs, ys, cells);
        }
        return chart;
    }

    /** Two significant digits, away from zero: XChart prints its colour bar's ends with Double.toString. */
    private static double outward(double v) {
        return v == 0 || !Double.isFinite(v) ? v
                : new java.math.BigDecimal(v).round(new java.math.MathContext(2, java.math.RoundingMode.UP)).doubleValue();
    }

    @Override
    void paint(Graphics2D g) {
        paint(g, width(), height());
    }

    /** The title in a band at the top (drawn by Loupe: XChart centres and cuts it), the grid below. */
    void paint(Graphics2D g, int width, int height) {
        int below = height - (title.isEmpty() ? 0 : Static.TITLE_H);
        Static.titled(g, title, b -> chart(width, below).paint(b, width, below));
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
    public static final class Facets extends Plotted {
        private final List<Heatmap> panels;
        private final ColorScale scale;
        private int columns = Integer.MAX_VALUE;

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
                    p.scale(scale).cellSize(cell).colourBar = false;
                }
                panels.get(panels.size() - 1).colourBar = true;
            } else {
                scale = null;
            }
        }

        public List<Heatmap> panels() {
            return panels;
        }

        /** Wraps the panels into rows of {@code columns} (one row by default): seven 20 x 20 grids fit a page as 4 + 3. */
        public Facets columns(int columns) {
            if (columns < 1) {
                throw new IllegalArgumentException("columns must be at least 1; got " + columns);
            }
            this.columns = columns;
            return this;
        }

        @Override
        int panelsPerRow() {
            return columns;
        }

        @Override
        List<Panel> views() {
            return panels.stream().map(Heatmap::panel).toList();
        }

        private List<List<Heatmap>> rows() {
            List<List<Heatmap>> rows = new ArrayList<>();
            for (int i = 0; i < panels.size(); i += Math.min(columns, panels.size())) {
                rows.add(panels.subList(i, Math.min(panels.size(), i + columns)));
            }
            return rows;
        }

        private static int rowHeight(List<Heatmap> row) {
            return row.stream().mapToInt(Heatmap::height).max().orElse(0);
        }

        @Override
        int width() {
            return rows().stream().mapToInt(r -> r.stream().mapToInt(Heatmap::width).sum()).max().orElse(0);
        }

        @Override
        int height() {
            return rows().stream().mapToInt(Facets::rowHeight).sum();
        }

        @Override
        void paint(Graphics2D g) {
            int y = 0;
            for (List<Heatmap> row : rows()) {
                int h = rowHeight(row);
                int x = 0;
                for (Heatmap p : row) {
                    Graphics2D sub = (Graphics2D) g.create(x, y, p.width(), h);
                    p.paint(sub, p.width(), h);
                    sub.dispose();
                    x += p.width();
                }
                y += h;
            }
        }

        @Override
        public String text() {
            return "Facets of " + panels.size() + " heatmaps" + (scale == null ? "" : " (shared scale "
                    + format(scale.lo()) + " .. " + format(scale.hi()) + ")");
        }
    }
}

package dev.loupe.plot;

import ai.djl.ndarray.NDArray;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;

import java.awt.Color;
import java.awt.Graphics2D;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.knowm.xchart.AnnotationLine;
import org.knowm.xchart.AnnotationText;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

import tech.tablesaw.api.NumericColumn;
import tech.tablesaw.plotly.components.Axis;
import tech.tablesaw.plotly.components.Layout;
import tech.tablesaw.plotly.components.Line;
import tech.tablesaw.plotly.components.Margin;
import tech.tablesaw.plotly.components.Marker;
import tech.tablesaw.plotly.components.TickSettings;
import tech.tablesaw.plotly.traces.BarTrace;
import tech.tablesaw.plotly.traces.ScatterTrace;
import tech.tablesaw.plotly.traces.Trace;

/**
 * Line, scatter and bar charts with axis names, optional log scales, a legend for several series, and hover: each
 * point or bar shows its values; the plot zooms and pans.
 */
public final class Chart extends Plotted {

    /** One named series of (x, y) points. */
    public record Series(String name, double[] x, double[] y) {
        public Series {
            if (x.length != y.length) {
                throw new IllegalArgumentException("series " + name + ": " + x.length + " x values, " + y.length + " y");
            }
        }

        public static Series of(String name, double[] y) {
            double[] x = new double[y.length];
            for (int i = 0; i < x.length; i++) {
                x[i] = i;
            }
            return new Series(name, x, y);
        }

        /** y from a 1-D array (or [1, n]) of any numeric type, against 0, 1, 2, ... */
        public static Series of(String name, NDArray y) {
            return of(name, Values.doubles(y, "series " + name));
        }

        /** y from a Tablesaw column, against 0, 1, 2, ... */
        public static Series of(String name, NumericColumn<?> y) {
            return of(name, y.asDoubleArray());
        }

        public static Series of(String name, NDArray x, NDArray y) {
            return new Series(name, Values.doubles(x, "series " + name + "'s x"), Values.doubles(y, "series " + name + "'s y"));
        }
    }

    /** A vertical line across the plot at {@code x}, labelled: a phase boundary, a change of data, a step. */
    public record Mark(double x, String label) {}

    enum Kind { LINES, SCATTER, BAR }

    static final int[] PALETTE = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f};
    static final int POSITIVE = 0xb2182b;
    static final int NEGATIVE = 0x2166ac;
    private static final int W = 560;
    private static final int H = 340;
    /** Lines past this many points are decimated to 4 per column of this many columns across the x range. */
    static final int COLUMNS = 2000;

    private final Kind kind;
    private final List<Series> series;
    private final List<String> barLabels;
    private String title = "";
    private String xAxis = "";
    private String yAxis = "";
    private boolean logX;
    private boolean logY;
    private final List<Mark> markers = new ArrayList<>();

    Chart(Kind kind, List<Series> series, List<String> barLabels) {
        this.kind = kind;
        this.series = List.copyOf(series);
        this.barLabels = barLabels;
    }

    /** The series drawn, in order. */
    public List<Series> series() {
        return series;
    }

    public Chart title(String title) {
        this.title = title == null ? "" : title;
        return this;
    }

    public Chart axes(String xAxis, String yAxis) {
        this.xAxis = xAxis == null ? "" : xAxis;
        this.yAxis = yAxis == null ? "" : yAxis;
        return this;
    }

    /**
     * A vertical line at {@code x} with its label: drawn on the plot, not as a series (no legend entry, no hover, no
     * effect on the y range).
     */
    public Chart marker(double x, String label) {
        markers.add(new Mark(x, label == null ? "" : label));
        return this;
    }

    /** The vertical markers, in order. */
    public List<Mark> markers() {
        return List.copyOf(markers);
    }

    /** Logarithmic x axis (non-positive x values are left out). */
    public Chart logX() {
        this.logX = true;
        return this;
    }

    /** Logarithmic y axis (non-positive y values are left out). */
    public Chart logY() {
        this.logY = true;
        return this;
    }

    /**
     * Whether the PNG's y axis is logarithmic: as asked, unless the positive values span less than a factor of 10, where
     * XChart's log axis (it labels powers of ten) would have no labelled tick; plotly's interactive view stays log.
     */
    boolean logYShown() {
        if (!logY) {
            return false;
        }
        double lo = Double.POSITIVE_INFINITY;
        double hi = 0;
        for (Series s : series) {
            for (double v : s.y) {
                if (Double.isFinite(v) && v > 0) {
                    lo = Math.min(lo, v);
                    hi = Math.max(hi, v);
                }
            }
        }
        return !(hi > 0) || hi / lo >= 10;
    }

    /** A series' points that its axes can show (finite, and positive on a log axis), as {x, y} columns. */
    private double[][] shown(Series s) {
        int n = 0;
        double[] x = new double[s.x.length];
        double[] y = new double[s.y.length];
        for (int i = 0; i < x.length; i++) {
            if (Double.isFinite(s.x[i]) && Double.isFinite(s.y[i]) && (!logX || s.x[i] > 0) && (!logY || s.y[i] > 0)) {
                x[n] = s.x[i];
                y[n] = s.y[i];
                n++;
            }
        }
        double[][] pts = {java.util.Arrays.copyOf(x, n), java.util.Arrays.copyOf(y, n)};
        return kind == Kind.LINES ? decimate(pts, logX) : pts;
    }

    /**
     * Past 4 points a column ({@value #COLUMNS} columns across the x range, in log units on a log axis), keeps per
     * column the first, lowest, highest and last point in their order: the line looks the same at the figure's size
     * and a 1,000,000-point series stays under 8,000 points.
     */
    static double[][] decimate(double[][] pts, boolean logX) {
        double[] x = pts[0];
        double[] y = pts[1];
        if (x.length <= 4 * COLUMNS) {
            return pts;
        }
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (double v : x) {
            double t = logX ? Math.log10(v) : v;
            lo = Math.min(lo, t);
            hi = Math.max(hi, t);
        }
        double width = hi > lo ? (hi - lo) / COLUMNS : 1;
        List<Integer> keep = new ArrayList<>();
        int i = 0;
        while (i < x.length) {
            long column = column(x[i], lo, width, logX);
            int low = i;
            int high = i;
            int j = i;
            while (j < x.length && column(x[j], lo, width, logX) == column) {
                if (y[j] < y[low]) {
                    low = j;
                }
                if (y[j] > y[high]) {
                    high = j;
                }
                j++;
            }
            int last = -1;
            for (int k : new int[] {i, Math.min(low, high), Math.max(low, high), j - 1}) {
                if (k != last) {
                    keep.add(k);
                    last = k;
                }
            }
            i = j;
        }
        double[][] out = new double[2][keep.size()];
        for (int k = 0; k < keep.size(); k++) {
            out[0][k] = x[keep.get(k)];
            out[1][k] = y[keep.get(k)];
        }
        return out;
    }

    private static long column(double x, double lo, double width, boolean log) {
        return (long) Math.floor(((log ? Math.log10(x) : x) - lo) / width);
    }

    private static String name(String axis, String fallback) {
        return axis.isEmpty() ? fallback : axis;
    }

    /** Wide enough for the title, and for bars at least 12 pixels apart so that every bar's label shows. */
    @Override
    int width() {
        int bars = kind == Kind.BAR && !series.isEmpty() ? 80 + 12 * series.get(0).y.length : 0;
        return Math.max(W, Math.max(bars, Static.titleWidth(title)));
    }

    @Override
    int height() {
        return H + (kind == Kind.BAR ? barLabelHeight() : 0);
    }

    private int barLabelHeight() {
        return (int) Heatmap.labelWidth(barLabels);
    }

    @Override
    List<Panel> views() {
        List<Trace> traces = new ArrayList<>();
        JsonArray extras = new JsonArray();
        Axis.AxisBuilder x = Axis.builder().type(logX ? Axis.Type.LOG : Axis.Type.LINEAR);
        if (kind == Kind.BAR) {
            Series s = series.get(0);
            Object[] at = new Object[s.y.length];
            double[] ticks = new double[s.y.length];
            String[] text = new String[s.y.length];
            String[] colours = new String[s.y.length];
            JsonArray hover = new JsonArray();
            for (int i = 0; i < at.length; i++) {
                at[i] = i;
                ticks[i] = i;
                text[i] = plotlyText(Heatmap.clip(barLabels.get(i)));
                colours[i] = Drawing.hex(s.y[i] < 0 ? NEGATIVE : POSITIVE);
                hover.add(plotlyText(barLabels.get(i)));
            }
            traces.add(BarTrace.builder(at, s.y).marker(Marker.builder().color(colours).build()).build());
            x = Axis.builder().type(Axis.Type.LINEAR).showGrid(false)
                    .tickSettings(TickSettings.builder().tickMode(TickSettings.TickMode.ARRAY).arrayTicks(ticks, text).build());
            JsonObject e = new JsonObject();
            e.add("text", hover);
            e.addProperty("textposition", "none"); // text is for hover only
            e.addProperty("hovertemplate", "%{text}: %{y:.4~g}<extra></extra>");
            extras.add(e);
        } else {
            for (int i = 0; i < series.size(); i++) {
                Series s = series.get(i);
                double[][] pts = shown(s);
                String colour = Drawing.hex(PALETTE[i % PALETTE.length]);
                ScatterTrace.ScatterBuilder b = ScatterTrace.builder(pts[0], pts[1]);
                if (kind == Kind.LINES) {
                    b.mode(ScatterTrace.Mode.LINE).line(Line.builder().color(colour).width(1.5).build());
                } else {
                    b.mode(ScatterTrace.Mode.MARKERS).marker(Marker.builder().color(colour).size(6).build());
                }
                traces.add(b.build());
                JsonObject e = new JsonObject();
                e.addProperty("name", plotlyText(s.name)); // tablesaw's template would HTML-escape it for plotly
                e.addProperty("hovertemplate", plotlyText((series.size() > 1 ? s.name + ": " : "") + name(xAxis, "x"))
                        + " %{x:.4~g}, " + plotlyText(name(yAxis, "y")) + " %{y:.4~g}<extra></extra>");
                extras.add(e);
            }
        }
        Layout layout = Layout.builder().width(width()).height(height()).showLegend(series.size() > 1)
                .margin(Margin.builder().left(64).right(16).top(34).bottom(kind == Kind.BAR ? barLabelHeight() + 24 : 48).build())
                .xAxis(x.build())
                .yAxis(Axis.builder().type(logY ? Axis.Type.LOG : Axis.Type.LINEAR).build())
                .build();
        JsonObject l = new JsonObject();
        l.add("title", Heatmap.titleJson(title, 0.01));
        if (!markers.isEmpty()) {
            JsonArray shapes = new JsonArray();
            JsonArray notes = new JsonArray();
            for (int i = 0; i < markers.size(); i++) {
                Mark m = markers.get(i);
                JsonObject shape = new JsonObject();
                shape.addProperty("type", "line");
                shape.addProperty("xref", "x");
                shape.addProperty("yref", "paper");
                shape.addProperty("x0", m.x());
                shape.addProperty("x1", m.x());
                shape.addProperty("y0", 0);
                shape.addProperty("y1", 1);
                JsonObject line = new JsonObject();
                line.addProperty("color", MARKER_COLOUR);
                line.addProperty("width", 1);
                line.addProperty("dash", "dash");
                shape.add("line", line);
                shapes.add(shape);
                JsonObject note = new JsonObject();
                note.addProperty("x", m.x());
                note.addProperty("xref", "x");
                note.addProperty("y", 1 - 0.06 * i);
                note.addProperty("yref", "paper");
                note.addProperty("xanchor", "left");
                note.addProperty("showarrow", false);
                note.addProperty("text", plotlyText(" " + m.label()));
                JsonObject font = new JsonObject();
                font.addProperty("size", 10);
                font.addProperty("color", MARKER_COLOUR);
                note.add("font", font);
                notes.add(note);
            }
            l.add("shapes", shapes);
            l.add("annotations", notes);
        }
        l.add("xaxis", Heatmap.axisJson(kind == Kind.BAR ? "" : xAxis, kind == Kind.BAR ? -90 : 0));
        l.add("yaxis", Heatmap.axisJson(yAxis, 0));
        JsonObject extra = new JsonObject();
        extra.add("traces", extras);
        extra.add("layout", l);
        return List.of(new Panel(layout, width(), extra, traces.toArray(new Trace[0])));
    }

    private org.knowm.xchart.internal.chartpart.Chart<?, ?> chart() {
        if (kind == Kind.BAR) {
            return barChart();
        }
        XYChart chart = new XYChart(width(), chartHeight());
        chart.setXAxisTitle(xAxis);
        chart.setYAxisTitle(yAxis);
        var st = chart.getStyler();
        Static.style(st);
        st.setXAxisLogarithmic(logX).setYAxisLogarithmic(logYShown());
        st.setLegendVisible(series.size() > 1);
        st.setDefaultSeriesRenderStyle(kind == Kind.LINES ? XYSeries.XYSeriesRenderStyle.Line : XYSeries.XYSeriesRenderStyle.Scatter);
        Set<String> names = new HashSet<>();
        for (int i = 0; i < series.size(); i++) {
            double[][] pts = shown(series.get(i));
            if (pts[0].length == 0) {
                continue;
            }
            String name = series.get(i).name;
            while (!names.add(name)) {
                name += " "; // XChart needs distinct series names
            }
            XYSeries s = chart.addSeries(name, pts[0], pts[1]);
            Color colour = new Color(PALETTE[i % PALETTE.length]);
            s.setLineColor(colour).setLineWidth(1.5f);
            s.setMarkerColor(colour).setMarker(kind == Kind.LINES ? SeriesMarkers.NONE : SeriesMarkers.CIRCLE);
        }
        addMarkers(chart);
        if (!logX) {
            double step = niceXRange(st);
            if (step >= 1 && consecutiveX()) {
                // On x = 0, 1, 2, ... (positions) XChart ticks every few data values whatever the spacing hint, and the
                // labels ran together ("12151821"): only multiples of the round step keep their label.
                java.text.DecimalFormat format = new java.text.DecimalFormat("#,##0");
                chart.setCustomXAxisTickLabelsFormatter(x -> Math.abs(x / step - Math.rint(x / step)) < 1e-9 ? format.format(x) : "");
            }
        }
        st.setXAxisTickMarkSpacingHint(60); // more room between x ticks than XChart's default
        return chart;
    }

    /** Positive bars red and negative ones blue: two stacked series, each zero where the other has the bar. */
    private CategoryChart barChart() {
        CategoryChart chart = new CategoryChart(width(), chartHeight());
        chart.setYAxisTitle(yAxis);
        var st = chart.getStyler();
        Static.style(st);
        st.setLegendVisible(false);
        st.setAxisTitlesVisible(!yAxis.isEmpty());
        st.setStacked(true);
        st.setXAxisLabelRotation(90);
        st.setPlotGridVerticalLinesVisible(false);
        st.setXAxisTickMarkSpacingHint(10); // bars are 12 pixels apart or more: every label shows
        Series s = series.get(0);
        List<Double> up = new ArrayList<>();
        List<Double> down = new ArrayList<>();
        for (double v : s.y) {
            up.add(v >= 0 ? v : 0);
            down.add(v < 0 ? v : 0);
        }
        List<String> labels = Static.labels(barLabels);
        if (!labels.isEmpty()) { // XChart refuses empty series
            chart.addSeries("positive", labels, up).setFillColor(new Color(POSITIVE));
            chart.addSeries("negative", labels, down).setFillColor(new Color(NEGATIVE));
        }
        return chart;
    }

    private static final String MARKER_COLOUR = "#555555";

    /**
     * XChart starts its x ticks at the smallest x (ticks at 0.1024, 1.3312, ...): the axis runs from and to multiples
     * of a round step instead, so that the ticks fall on round numbers.
     */
    private double niceXRange(org.knowm.xchart.style.XYStyler st) {
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            for (double v : shown(s)[0]) {
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
        }
        if (!(hi > lo)) {
            return 0;
        }
        double step = Math.pow(10, Math.floor(Math.log10(hi - lo)) - 1);
        for (double m : new double[] {2, 2.5, 2, 2}) { // 1, 2, 5, 10, 20 times a power of ten: about 10 steps or fewer
            if ((hi - lo) / step <= 10) {
                break;
            }
            step *= m;
        }
        st.setXAxisMin(Math.floor(lo / step) * step);
        st.setXAxisMax(Math.ceil(hi / step) * step);
        return step;
    }

    /** Whether every series' x runs through consecutive whole numbers (0, 1, 2, ...), as positions do. */
    private boolean consecutiveX() {
        for (Series s : series) {
            double[] x = shown(s)[0];
            for (int i = 0; i < x.length; i++) {
                if (x[i] != Math.rint(x[i]) || (i > 0 && x[i] - x[i - 1] != 1)) {
                    return false;
                }
            }
        }
        return true;
    }

    /** Height of the chart below the title. */
    private int chartHeight() {
        return height() - (title.isEmpty() ? 0 : Static.TITLE_H);
    }

    /**
     * The markers as XChart annotations: a dashed line each, its label at the top of the plot just right of it, each
     * label a line lower than the one before so that close markers' labels do not overlap.
     */
    private void addMarkers(XYChart chart) {
        if (markers.isEmpty()) {
            return;
        }
        var st = chart.getStyler();
        st.setAnnotationLineColor(new Color(0x555555));
        st.setAnnotationLineStroke(new java.awt.BasicStroke(1f, java.awt.BasicStroke.CAP_BUTT, java.awt.BasicStroke.JOIN_MITER,
                10f, new float[] {4f, 3f}, 0f));
        st.setAnnotationTextFont(Drawing.FONT.deriveFont(10f));
        st.setAnnotationTextFontColor(new Color(0x555555));
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            double[][] pts = shown(s);
            for (double v : pts[1]) {
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
        }
        if (!(hi >= lo)) {
            return;
        }
        boolean log = logYShown();
        for (int i = 0; i < markers.size(); i++) {
            Mark m = markers.get(i);
            chart.addAnnotation(new AnnotationLine(m.x(), true, false));
            double t = 1 - 0.07 * i;
            double y = log ? Math.pow(10, Math.log10(lo) + t * (Math.log10(hi) - Math.log10(lo))) : lo + t * (hi - lo);
            // XChart centres the text on (x, y): a label wide w starts half of it right of the line
            double shift = (Drawing.textWidth(m.label()) / 2 + 3) * (axisSpan() / (width() - 90.0));
            chart.addAnnotation(new AnnotationText(m.label(), logX ? m.x() * Math.pow(10, shift) : m.x() + shift, y, false));
        }
    }

    /** The x range shown, in axis units (log10 units on a log axis): to turn pixels into x offsets roughly. */
    private double axisSpan() {
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            for (double v : shown(s)[0]) {
                double t = logX ? Math.log10(v) : v;
                lo = Math.min(lo, t);
                hi = Math.max(hi, t);
            }
        }
        for (Mark m : markers) {
            double t = logX ? Math.log10(m.x()) : m.x();
            lo = Math.min(lo, t);
            hi = Math.max(hi, t);
        }
        return hi > lo ? hi - lo : 1;
    }

    @Override
    void paint(Graphics2D g) {
        Static.titled(g, title, below -> chart().paint(below, width(), chartHeight()));
    }

    @Override
    public String text() {
        String what = switch (kind) {
            case LINES -> "Line plot";
            case SCATTER -> "Scatter plot";
            case BAR -> "Bar chart";
        };
        int points = series.stream().mapToInt(s -> s.y.length).sum();
        return what + (title.isEmpty() ? "" : " \"" + title + "\"") + ": " + series.size() + " series, " + points
                + " points" + (markers.isEmpty() ? "" : ", " + markers.size() + " marker" + (markers.size() > 1 ? "s" : ""))
                + (logX ? ", log x" : "") + (logY ? ", log y" + (logYShown() ? "" : " (the PNG's linear: values within 10×)") : "");
    }
}

package dev.loupe.plot;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;

import java.awt.Color;
import java.awt.Graphics2D;
import java.util.ArrayList;
import java.util.List;

import org.knowm.xchart.AnnotationText;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

import tech.tablesaw.plotly.components.Axis;
import tech.tablesaw.plotly.components.Layout;
import tech.tablesaw.plotly.components.Line;
import tech.tablesaw.plotly.components.Margin;
import tech.tablesaw.plotly.components.Marker;
import tech.tablesaw.plotly.traces.ScatterTrace;
import tech.tablesaw.plotly.traces.Trace;

/**
 * 2-D vectors drawn from the origin, one small square panel per set (small multiples), on one scale so that lengths
 * compare across panels: the directions a toy model gives its features in a 2-D hidden space. Vector i has the same
 * colour in every panel and its label at its tip; vectors shorter than 5% of the axis reach are left unlabelled (their
 * labels would pile up on the origin) and say so on hover.
 */
public final class VectorPlot extends Plotted {

    /** One panel: vector i runs from the origin to (x[i], y[i]) and is called {@code labels.get(i)}. */
    public record Panel(String title, double[] x, double[] y, List<String> labels) {
        public Panel {
            if (x.length != y.length || x.length != labels.size()) {
                throw new IllegalArgumentException("panel " + title + ": " + x.length + " x, " + y.length + " y and "
                        + labels.size() + " labels; give one of each per vector");
            }
            labels = List.copyOf(labels);
        }

        /** The columns of a [2, n] matrix {@code w} (rows x and y), labelled 0, 1, ..., n − 1. */
        public static Panel ofColumns(String title, double[][] w) {
            if (w.length != 2) {
                throw new IllegalArgumentException("panel " + title + ": columns of a [2, n] matrix are 2-D vectors; got "
                        + w.length + " rows");
            }
            return new Panel(title, w[0], w[1], Plot.numbers("", w[0].length));
        }
    }

    private static final int SIDE = 190;
    private static final double UNLABELLED = 0.05;

    private final List<Panel> panels;
    private final double reach;
    private String title = "";
    private int columns = Integer.MAX_VALUE;

    VectorPlot(List<Panel> panels) {
        if (panels.isEmpty()) {
            throw new IllegalArgumentException("a vector plot needs at least one panel");
        }
        this.panels = List.copyOf(panels);
        double longest = 0;
        for (Panel p : panels) {
            for (int i = 0; i < p.x.length; i++) {
                longest = Math.max(longest, Math.hypot(p.x[i], p.y[i]));
            }
        }
        this.reach = longest > 0 ? 1.25 * longest : 1;
    }

    public VectorPlot title(String title) {
        this.title = title == null ? "" : title;
        return this;
    }

    /** Wraps the panels into rows of {@code columns}. */
    public VectorPlot columns(int columns) {
        if (columns < 1) {
            throw new IllegalArgumentException("columns must be at least 1; got " + columns);
        }
        this.columns = columns;
        return this;
    }

    public List<Panel> panels() {
        return panels;
    }

    private int perRow() {
        return Math.min(columns, panels.size());
    }

    private int rows() {
        return (panels.size() + perRow() - 1) / perRow();
    }

    @Override
    int panelsPerRow() {
        return columns;
    }

    @Override
    int width() {
        return Math.max(perRow() * SIDE, Static.titleWidth(title));
    }

    @Override
    int height() {
        return rows() * (SIDE + Static.TITLE_H) + (title.isEmpty() ? 0 : Static.TITLE_H);
    }

    private static String hover(Panel p, int i) {
        double length = Math.hypot(p.x[i], p.y[i]);
        return plotlyText(p.labels.get(i)) + String.format(java.util.Locale.ROOT, ": (%.3f, %.3f), length %.3f", p.x[i], p.y[i], length);
    }

    @Override
    List<Plotted.Panel> views() {
        List<Plotted.Panel> out = new ArrayList<>();
        for (int k = 0; k < panels.size(); k++) {
            Panel p = panels.get(k);
            List<Trace> traces = new ArrayList<>();
            JsonArray extras = new JsonArray();
            for (int i = 0; i < p.x.length; i++) {
                String colour = Drawing.hex(Chart.PALETTE[i % Chart.PALETTE.length]);
                traces.add(ScatterTrace.builder(new double[] {0, p.x[i]}, new double[] {0, p.y[i]})
                        .mode(ScatterTrace.Mode.LINE_AND_MARKERS).line(Line.builder().color(colour).width(2).build())
                        .marker(Marker.builder().color(colour).build()).build());
                JsonObject e = new JsonObject();
                JsonObject marker = new JsonObject();
                JsonArray sizes = new JsonArray();
                sizes.add(0); // no dot at the origin, where every vector starts
                sizes.add(7);
                marker.add("size", sizes);
                e.add("marker", marker);
                e.addProperty("name", plotlyText(p.labels.get(i)));
                e.addProperty("hovertemplate", hover(p, i) + "<extra></extra>");
                extras.add(e);
            }
            int height = SIDE + (k == 0 && !title.isEmpty() ? Static.TITLE_H : 0);
            Layout layout = Layout.builder().width(SIDE).height(height).showLegend(false)
                    .margin(Margin.builder().left(24).right(8).top(28).bottom(20).build())
                    .xAxis(Axis.builder().range(-reach, reach).zeroLineColor("#bbbbbb").build())
                    .yAxis(Axis.builder().range(-reach, reach).zeroLineColor("#bbbbbb").build()).build();
            JsonObject l = new JsonObject();
            l.add("title", Heatmap.titleJson(k == 0 && !title.isEmpty() ? title + "\n" + p.title : p.title, 0.02));
            JsonObject y = new JsonObject();
            y.addProperty("scaleanchor", "x"); // one unit is as long across as up: angles are true
            l.add("yaxis", y);
            JsonObject extra = new JsonObject();
            extra.add("traces", extras);
            extra.add("layout", l);
            out.add(new Plotted.Panel(layout, SIDE, extra, traces.toArray(new Trace[0])));
        }
        return out;
    }

    /** One panel's XChart: a square plot area (axis ticks hidden so that it stays square), lines with a dot at the tip. */
    private XYChart chart(Panel p) {
        XYChart chart = new XYChart(SIDE, SIDE);
        var st = chart.getStyler();
        Static.style(st);
        st.setLegendVisible(false);
        st.setAxisTicksVisible(false);
        st.setPlotGridLinesVisible(false);
        st.setXAxisMin(-reach).setXAxisMax(reach).setYAxisMin(-reach).setYAxisMax(reach);
        st.setAnnotationTextFont(Drawing.FONT);
        st.setAnnotationTextFontColor(new Color(0x333333));
        XYSeries h = chart.addSeries(" axis x", new double[] {-reach, reach}, new double[] {0, 0});
        XYSeries v = chart.addSeries(" axis y", new double[] {0, 0}, new double[] {-reach, reach});
        for (XYSeries axis : List.of(h, v)) {
            axis.setMarker(SeriesMarkers.NONE);
            axis.setLineColor(new Color(0xdddddd)).setLineWidth(1f);
        }
        for (int i = 0; i < p.x.length; i++) {
            Color colour = new Color(Chart.PALETTE[i % Chart.PALETTE.length]);
            XYSeries line = chart.addSeries("vector " + i, new double[] {0, p.x[i]}, new double[] {0, p.y[i]});
            line.setMarker(SeriesMarkers.NONE);
            line.setLineColor(colour).setLineWidth(2f);
            XYSeries tip = chart.addSeries("tip " + i, new double[] {p.x[i]}, new double[] {p.y[i]});
            tip.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
            tip.setMarker(SeriesMarkers.CIRCLE);
            tip.setMarkerColor(colour);
            double length = Math.hypot(p.x[i], p.y[i]);
            if (length >= UNLABELLED * reach) {
                double out = 1 + 0.13 * reach / length; // the label a fixed distance past the tip
                chart.addAnnotation(new AnnotationText(p.labels.get(i), p.x[i] * out, p.y[i] * out, false));
            }
        }
        return chart;
    }

    @Override
    void paint(Graphics2D g) {
        Static.titled(g, title, below -> {
            for (int k = 0; k < panels.size(); k++) {
                Panel p = panels.get(k);
                int x = (k % perRow()) * SIDE;
                int y = (k / perRow()) * (SIDE + Static.TITLE_H);
                Graphics2D sub = (Graphics2D) below.create(x, y, SIDE, SIDE + Static.TITLE_H);
                Static.titled(sub, p.title, chartArea -> chart(p).paint(chartArea, SIDE, SIDE));
                sub.dispose();
            }
        });
    }

    @Override
    public String text() {
        return "Vector plot" + (title.isEmpty() ? "" : " \"" + title + "\"") + ": " + panels.size() + " panel"
                + (panels.size() == 1 ? "" : "s") + " of " + panels.get(0).x.length + " vectors";
    }
}

package dev.loupe.plot;

import java.util.ArrayList;
import java.util.List;

/**
 * Line, scatter and bar charts with axes, optional log scales and hover: each point (lines: up to 400 per series)
 * or bar carries a title with its values.
 */
public final class Chart extends Figure.Drawn {

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
    }

    enum Kind { LINES, SCATTER, BAR }

    static final int[] PALETTE = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f};
    private static final int W = 560;
    private static final int H = 320;
    private static final int L = 64;
    private static final int R = 16;
    private static final int T = 28;
    private static final int B = 44;

    private final Kind kind;
    private final List<Series> series;
    private final List<String> barLabels;
    private String title = "";
    private String xAxis = "";
    private String yAxis = "";
    private boolean logX;
    private boolean logY;

    Chart(Kind kind, List<Series> series, List<String> barLabels) {
        this.kind = kind;
        this.series = List.copyOf(series);
        this.barLabels = barLabels;
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

    private static double tx(double v, boolean log) {
        return log ? (v > 0 ? Math.log10(v) : Double.NaN) : v;
    }

    @Override
    Drawing draw() {
        int legend = series.size() > 1 ? 18 : 0;
        Drawing d = new Drawing(W, H + legend);
        d.text(L, 18, title, Drawing.Anchor.START, false, 0x111111, true);
        double pw = W - L - R;
        double ph = H - T - B;
        if (kind == Kind.BAR) {
            drawBars(d, pw, ph);
            return d;
        }
        double x0 = Double.POSITIVE_INFINITY, x1 = Double.NEGATIVE_INFINITY;
        double y0 = Double.POSITIVE_INFINITY, y1 = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            for (int i = 0; i < s.x.length; i++) {
                double x = tx(s.x[i], logX);
                double y = tx(s.y[i], logY);
                if (Double.isFinite(x) && Double.isFinite(y)) {
                    x0 = Math.min(x0, x);
                    x1 = Math.max(x1, x);
                    y0 = Math.min(y0, y);
                    y1 = Math.max(y1, y);
                }
            }
        }
        if (!(x0 <= x1)) {
            x0 = 0;
            x1 = 1;
            y0 = 0;
            y1 = 1;
        }
        if (x1 == x0) {
            x1 = x0 + 1;
        }
        if (y1 == y0) {
            y1 = y0 + 1;
        }
        double pad = (y1 - y0) * 0.05;
        y0 -= pad;
        y1 += pad;
        final double fx0 = x0, fx1 = x1, fy0 = y0, fy1 = y1;
        java.util.function.DoubleUnaryOperator px = v -> L + (v - fx0) / (fx1 - fx0) * pw;
        java.util.function.DoubleUnaryOperator py = v -> T + ph - (v - fy0) / (fy1 - fy0) * ph;
        axes(d, pw, ph, x0, x1, y0, y1, px, py);
        for (int si = 0; si < series.size(); si++) {
            Series s = series.get(si);
            int colour = PALETTE[si % PALETTE.length];
            List<double[]> pts = new ArrayList<>();
            for (int i = 0; i < s.x.length; i++) {
                double x = tx(s.x[i], logX);
                double y = tx(s.y[i], logY);
                if (Double.isFinite(x) && Double.isFinite(y)) {
                    pts.add(new double[] {px.applyAsDouble(x), py.applyAsDouble(y), s.x[i], s.y[i]});
                }
            }
            if (kind == Kind.LINES && pts.size() > 1) {
                List<double[]> line = decimate(pts);
                double[] xs = new double[line.size()];
                double[] ys = new double[line.size()];
                for (int i = 0; i < xs.length; i++) {
                    xs[i] = line.get(i)[0];
                    ys[i] = line.get(i)[1];
                }
                d.polyline(xs, ys, colour, 1.5);
            }
            int step = kind == Kind.LINES ? Math.max(1, pts.size() / 400) : 1;
            for (int i = 0; i < pts.size(); i += step) {
                double[] p = pts.get(i);
                String tip = (series.size() > 1 ? s.name + ": " : "") + name(xAxis, "x") + " " + Heatmap.format(p[2])
                        + ", " + name(yAxis, "y") + " " + Heatmap.format(p[3]);
                if (kind == Kind.LINES) {
                    d.circle(p[0], p[1], pts.size() > 60 ? 1.5 : 2.5, colour, tip);
                } else {
                    d.circle(p[0], p[1], 3, colour, tip);
                }
            }
            if (series.size() > 1) {
                double lx = L + si * (pw / Math.min(series.size(), 6));
                d.rect(lx, H + 4, 10, 10, colour, null);
                d.text(lx + 14, H + 13, Heatmap.clip(s.name), Drawing.Anchor.START, false);
            }
        }
        return d;
    }

    /**
     * Past 4 points a pixel column, keeps per column the first, lowest, highest and last point in their order: the
     * drawn line looks the same and a 1,000,000-point series stays a few thousand.
     */
    static List<double[]> decimate(List<double[]> pts) {
        if (pts.size() <= 4 * W) {
            return pts;
        }
        List<double[]> out = new ArrayList<>();
        int i = 0;
        while (i < pts.size()) {
            long column = (long) Math.floor(pts.get(i)[0]);
            int lo = i;
            int hi = i;
            int j = i;
            while (j < pts.size() && (long) Math.floor(pts.get(j)[0]) == column) {
                if (pts.get(j)[1] < pts.get(lo)[1]) {
                    lo = j;
                }
                if (pts.get(j)[1] > pts.get(hi)[1]) {
                    hi = j;
                }
                j++;
            }
            int[] keep = {i, Math.min(lo, hi), Math.max(lo, hi), j - 1};
            int last = -1;
            for (int k : keep) {
                if (k != last) {
                    out.add(pts.get(k));
                    last = k;
                }
            }
            i = j;
        }
        return out;
    }

    private static String name(String axis, String fallback) {
        return axis.isEmpty() ? fallback : axis;
    }

    private void axes(Drawing d, double pw, double ph, double x0, double x1, double y0, double y1,
            java.util.function.DoubleUnaryOperator px, java.util.function.DoubleUnaryOperator py) {
        for (double t : ticks(x0, x1, logX)) {
            double x = px.applyAsDouble(t);
            d.line(x, T, x, T + ph, 0xeeeeee, 1);
            d.text(x, T + ph + 14, tickLabel(t, logX), Drawing.Anchor.MIDDLE, false);
        }
        for (double t : ticks(y0, y1, logY)) {
            double y = py.applyAsDouble(t);
            d.line(L, y, L + pw, y, 0xeeeeee, 1);
            d.text(L - 4, y + 4, tickLabel(t, logY), Drawing.Anchor.END, false);
        }
        d.line(L, T + ph, L + pw, T + ph, 0x333333, 1);
        d.line(L, T, L, T + ph, 0x333333, 1);
        d.text(L + pw / 2, T + ph + 32, xAxis + (logX ? " (log)" : ""), Drawing.Anchor.MIDDLE, false, 0x111111, false);
        d.text(14, T + ph / 2, yAxis + (logY ? " (log)" : ""), Drawing.Anchor.MIDDLE, true, 0x111111, false);
    }

    private static String tickLabel(double t, boolean log) {
        return log ? Heatmap.format(Math.pow(10, t)) : Heatmap.format(t);
    }

    /** Round tick positions between lo and hi (in log10 units for log axes: whole powers of ten when possible). */
    static List<Double> ticks(double lo, double hi, boolean log) {
        List<Double> out = new ArrayList<>();
        double span = hi - lo;
        if (log && span < 2) {
            // Under two decades whole powers of ten are too few: 1, 2 and 5 times them.
            for (double e = Math.floor(lo); e <= Math.ceil(hi); e++) {
                for (double m : new double[] {1, 2, 5}) {
                    double t = e + Math.log10(m);
                    if (t >= lo - 1e-9 && t <= hi + 1e-9) {
                        out.add(t);
                    }
                }
            }
            return out;
        }
        double step = Math.pow(10, Math.floor(Math.log10(span / 5)));
        if (span / step > 10) {
            step *= span / step > 25 ? 5 : 2;
        }
        if (log) {
            step = Math.max(1, Math.round(step));
        }
        for (double t = Math.ceil(lo / step) * step; t <= hi + 1e-9 * span; t += step) {
            out.add(Math.abs(t) < 1e-12 * span ? 0 : t);
        }
        return out;
    }

    private void drawBars(Drawing d, double pw, double ph) {
        Series s = series.get(0);
        int n = s.y.length;
        double lo = 0, hi = 0;
        for (double v : s.y) {
            if (Double.isFinite(v)) {
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
        }
        if (hi == lo) {
            hi = lo + 1;
        }
        double pad = (hi - lo) * 0.05;
        final double y0 = lo < 0 ? lo - pad : 0, y1 = hi + pad;
        java.util.function.DoubleUnaryOperator py = v -> T + ph - (v - y0) / (y1 - y0) * ph;
        java.util.function.DoubleUnaryOperator px = v -> L + v;
        for (double t : ticks(y0, y1, false)) {
            double y = py.applyAsDouble(t);
            d.line(L, y, L + pw, y, 0xeeeeee, 1);
            d.text(L - 4, y + 4, Heatmap.format(t), Drawing.Anchor.END, false);
        }
        double slot = pw / Math.max(1, n);
        double zero = py.applyAsDouble(0);
        int labelStep = (int) Math.max(1, Math.ceil(14 / slot));
        for (int i = 0; i < n; i++) {
            double v = s.y[i];
            double y = py.applyAsDouble(Double.isFinite(v) ? v : 0);
            String label = barLabels.get(i);
            d.rect(px.applyAsDouble(i * slot + slot * 0.1), Math.min(y, zero), slot * 0.8, Math.abs(zero - y),
                    v < 0 ? 0x2166ac : 0xb2182b, label + ": " + Heatmap.format(v));
            if (i % labelStep == 0) {
                d.text(L + (i + 0.5) * slot + 4, T + ph + 4, Heatmap.clip(label), Drawing.Anchor.END, true);
            }
        }
        d.line(L, zero, L + pw, zero, 0x333333, 1);
        d.line(L, T, L, T + ph, 0x333333, 1);
        d.text(14, T + ph / 2, yAxis, Drawing.Anchor.MIDDLE, true, 0x111111, false);
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
                + " points" + (logX ? ", log x" : "") + (logY ? ", log y" : "");
    }
}

package dev.loupe.display;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.pooling.Pool;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * How an {@link NDArray} shows: its shape, dtype and range, a few of its values abbreviated as PyTorch prints
 * them, and for floating-point arrays that are 1-D or 2-D once size-1 dimensions are dropped, a line plot or a
 * heatmap. An array of up to {@value #IN_JAVA} elements is copied out once and summarised in Java (one native
 * call, which matters when the engine's threads compete for cores); a larger one is summarised by the engine,
 * and only what is shown is copied out: a few values for the text, at most a plot's worth of points for the
 * picture. A closed array shows as {@code NDArray (closed)}.
 */
public final class ArrayView {

    /** PyTorch's print options: arrays with more elements are abbreviated to 3 items at each end of each axis. */
    static final long SUMMARIZE_ABOVE = 1000;
    static final int EDGE_ITEMS = 3;
    /** Arrays up to this many elements are copied and summarised in Java; larger ones by the engine. */
    static final long IN_JAVA = 1L << 20;
    /** Drawn points / cells: larger 1-D arrays become per-bucket ranges, larger 2-D arrays blocks. */
    static final int LINE_POINTS = 300;
    static final int GRID_ROWS = 160;
    static final int GRID_COLS = 200;

    private ArrayView() {}

    /**
     * Summary statistics of an array. For floating-point arrays min, max and mean leave NaN out (counted in
     * {@code nanCount}); infinities count. For booleans they are over 0 and 1, so the mean is the fraction true.
     * {@code count} is how many values entered them.
     */
    public record Stats(long count, long nanCount, double min, double max, double mean) {}

    /** The array's bundle: text/plain, text/html and, for plotted arrays, image/png. */
    public static MimeBundle bundle(NDArray a) {
        if (a.isReleased()) {
            return MimeBundle.text("NDArray (closed)")
                    .withHtml("<div style=\"" + Html.FONT + "\"><code>NDArray</code> <span style=\"" + Html.MUTED
                            + "\">(closed: its memory was freed)</span></div>");
        }
        try (NDScope scope = new NDScope()) {
            return render(a);
        } catch (RuntimeException e) {
            // The kernel shows whatever comes back; a failed rendering must not hide the object.
            String head;
            try {
                head = "NDArray " + a.getDataType() + " " + shape(a.getShape());
            } catch (RuntimeException again) {
                head = "NDArray";
            }
            return MimeBundle.text(head + " (could not be rendered: " + e + ")");
        }
    }

    private static MimeBundle render(NDArray a) {
        Shape shape = a.getShape();
        DataType dt = a.getDataType();
        String head = "NDArray " + dt + " " + shape(shape);
        String where = a.getDevice().toString() + (a.getName() != null ? " · " + a.getName() : "");
        if (shape.size() == 0) {
            String text = head + " (empty)";
            return MimeBundle.text(text).withHtml(htmlHead(dt, shape, where) + "<div style=\"" + Html.MUTED
                    + "\">(empty)</div></div>");
        }
        boolean numeric = dt.isFloating() || dt.isInteger() || dt.isBoolean();
        if (!numeric) {
            return MimeBundle.text(head).withHtml(htmlHead(dt, shape, where) + "</div>");
        }
        Values copy = a.size() <= IN_JAVA ? Values.of(a) : null;
        Stats stats = copy != null ? copy.stats() : engineStats(a);
        String values = copy != null ? copy.text(shape) : engineValues(a);
        StringBuilder text = new StringBuilder(head);
        if (shape.size() == 1) { // a scalar or a single element: the value says it all
            text.append("  ").append(values.replaceAll("[\\[\\]\\s]", ""));
            return MimeBundle.text(text.toString()).withHtml(htmlHead(dt, shape, where) + "<pre style=\"" + Html.MONO
                    + "font-size:12px;margin:2px 0;\">" + Html.escape(values) + "</pre></div>");
        }
        if (stats.count() > 0 && !dt.isBoolean()) {
            text.append("  min ").append(number(stats.min(), dt)).append("  max ").append(number(stats.max(), dt))
                    .append("  mean ").append(Charts.shortNumber(stats.mean()));
        } else if (dt.isBoolean()) {
            text.append("  true ").append(Math.round(stats.mean() * stats.count())).append(" of ").append(stats.count());
        }
        if (stats.nanCount() > 0) {
            text.append("  nan ").append(stats.nanCount());
        }
        text.append('\n').append(shape.dimension() >= 3 ? corner(a) : values);

        Plot plot = dt.isFloating() ? plot(a, copy, stats) : null;
        StringBuilder html = new StringBuilder(htmlHead(dt, shape, where));
        html.append("<div style=\"display:flex;flex-wrap:wrap;gap:6px 24px;align-items:flex-start;\">");
        html.append(statsTable(stats, dt));
        if (plot != null) {
            html.append("<div>").append(Html.img(plot.png, Charts.WIDTH, Charts.HEIGHT, plot.caption))
                    .append("<div style=\"").append(Html.MUTED).append("font-size:11px;max-width:").append(Charts.WIDTH)
                    .append("px;\">").append(Html.escape(plot.caption)).append("</div></div>");
        }
        html.append("</div>");
        boolean open = plot == null || shape.size() <= 64;
        html.append("<details").append(open ? " open" : "").append("><summary style=\"cursor:pointer;")
                .append(Html.MUTED).append("\">values</summary><pre style=\"").append(Html.MONO)
                .append("font-size:12px;margin:2px 0;\">").append(Html.escape(values)).append("</pre></details></div>");
        MimeBundle bundle = MimeBundle.text(text.toString()).withHtml(html.toString());
        return plot != null ? bundle.withPng(plot.png) : bundle;
    }

    private static String htmlHead(DataType dt, Shape shape, String where) {
        return "<div style=\"" + Html.FONT + "\"><div><b>NDArray</b> <code>" + Html.escape(dt.toString())
                + "</code> <code>" + Html.escape(shape(shape)) + "</code> <span style=\"" + Html.MUTED + "\">"
                + Html.escape(where) + "</span></div>";
    }

    private static String statsTable(Stats s, DataType dt) {
        List<String[]> cols = new ArrayList<>();
        if (dt.isBoolean()) {
            cols.add(new String[] {"true", String.format(Locale.ROOT, "%,d", Math.round(s.mean() * s.count()))});
            cols.add(new String[] {"false", String.format(Locale.ROOT, "%,d", s.count() - Math.round(s.mean() * s.count()))});
        } else if (s.count() > 0) {
            cols.add(new String[] {"min", number(s.min(), dt)});
            cols.add(new String[] {"max", number(s.max(), dt)});
            cols.add(new String[] {"mean", Charts.shortNumber(s.mean())});
        }
        if (s.nanCount() > 0) {
            cols.add(new String[] {"nan", String.format(Locale.ROOT, "%,d", s.nanCount())});
        }
        cols.add(new String[] {"elements", String.format(Locale.ROOT, "%,d", s.count() + s.nanCount())});
        StringBuilder h = new StringBuilder("<table style=\"").append(Html.TABLE).append("\"><thead><tr>");
        for (String[] c : cols) {
            h.append("<th style=\"").append(Html.TH).append("text-align:right;\">").append(c[0]).append("</th>");
        }
        h.append("</tr></thead><tbody><tr>");
        for (String[] c : cols) {
            h.append("<td style=\"").append(Html.TD_NUM).append(Html.MONO).append("\">").append(Html.escape(c[1]))
                    .append("</td>");
        }
        return h.append("</tr></tbody></table>").toString();
    }

    /** Shapes as TransformerLens's docs write them: {@code [batch, pos, d_model]} → {@code [1, 10, 768]}. */
    public static String shape(Shape s) {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < s.dimension(); i++) {
            b.append(i > 0 ? ", " : "").append(s.get(i));
        }
        return b.append(']').toString();
    }

    private static String number(double v, DataType dt) {
        if ((dt.isInteger() || dt.isBoolean()) && Math.abs(v) < 9e15) {
            return Long.toString((long) v);
        }
        return Charts.shortNumber(v);
    }

    // ---------------------------------------------------------------- statistics

    /** Min, max and mean (NaN left out and counted), in Java for small arrays, by the engine for large ones. */
    public static Stats stats(NDArray a) {
        return a.size() <= IN_JAVA ? Values.of(a).stats() : engineStats(a);
    }

    static Stats engineStats(NDArray a) {
        try (NDScope scope = new NDScope()) {
            NDArray x = a.getDataType() == DataType.FLOAT64 || a.getDataType() == DataType.FLOAT32
                    ? a : a.toType(a.getDataType().isFloating() ? DataType.FLOAT32 : DataType.FLOAT64, false);
            long total = a.size();
            double min = scalar(x.min());
            double max = scalar(x.max());
            double mean = scalar(x.mean());
            if (!Double.isNaN(min) && !Double.isNaN(max) && !Double.isNaN(mean)) {
                return new Stats(total, 0, min, max, mean);
            }
            // NaN somewhere (or +inf and -inf both, whose mean is NaN): count NaN and leave them out
            NDArray isNan = x.isNaN();
            long nan = isNan.toType(DataType.INT64, false).sum().getLong();
            if (nan == total) {
                return new Stats(0, nan, Double.NaN, Double.NaN, Double.NaN);
            }
            NDArray finite = nan > 0 ? x.booleanMask(isNan.logicalNot()) : x;
            return new Stats(total - nan, nan, scalar(finite.min()), scalar(finite.max()), scalar(finite.mean()));
        }
    }

    private static double scalar(NDArray s) {
        return s.toType(DataType.FLOAT64, false).getDouble();
    }

    // ---------------------------------------------------------------- values, abbreviated as PyTorch prints them

    /** Rows and columns of the corner the plain-text view shows of a 3-D or larger array. */
    static final int CORNER = 6;

    /**
     * For 3-D and larger arrays, the plain-text view shows a corner of the first matrix (a [batch, head, q, k] pattern
     * printed whole is a wall of numbers); the HTML view keeps every matrix, abbreviated, under "values".
     */
    private static String corner(NDArray a) {
        Shape s = a.getShape();
        long rows = Math.min(CORNER, s.get(s.dimension() - 2));
        long cols = Math.min(CORNER, s.get(s.dimension() - 1));
        String index = "0, ".repeat(s.dimension() - 2) + ":" + rows + ", :" + cols;
        return "corner [" + index + "]:\n" + values(a.get(index));
    }

    /** The values as nested brackets, with {@code ...} for the middle of each long axis when the array is large. */
    static String values(NDArray a) {
        return a.size() <= IN_JAVA ? Values.of(a).text(a.getShape()) : engineValues(a);
    }

    private static String engineValues(NDArray a) {
        Shape shape = a.getShape();
        int d = shape.dimension();
        boolean summarize = shape.size() > SUMMARIZE_ABOVE;
        NDArray sub = a;
        boolean[] cut = new boolean[d];
        long[] subShape = shape.getShape().clone();
        if (summarize) {
            for (int k = 0; k < d; k++) {
                if (shape.get(k) > 2L * EDGE_ITEMS) {
                    String prefix = ":, ".repeat(k);
                    NDArray head = sub.get(new NDIndex(prefix + ":" + EDGE_ITEMS));
                    NDArray tail = sub.get(new NDIndex(prefix + "-" + EDGE_ITEMS + ":"));
                    sub = head.concat(tail, k);
                    cut[k] = true;
                    subShape[k] = 2L * EDGE_ITEMS;
                }
            }
        }
        Values shown = Values.of(sub);
        int[] all = new int[(int) sub.size()];
        for (int i = 0; i < all.length; i++) {
            all[i] = i;
        }
        return layout(shown.cells(all), subShape, cut);
    }

    /** The cells in nested brackets, right-aligned to one width, {@code ...} after the first items of cut axes. */
    static String layout(String[] cells, long[] subShape, boolean[] cut) {
        int d = subShape.length;
        int width = 0;
        for (String c : cells) {
            width = Math.max(width, c.length());
        }
        for (int i = 0; i < cells.length; i++) {
            cells[i] = " ".repeat(width - cells[i].length()) + cells[i];
        }
        if (d == 0) {
            return cells[0];
        }
        StringBuilder b = new StringBuilder();
        nest(b, cells, subShape, cut, 0, 0, 1);
        return b.toString();
    }

    private static void nest(StringBuilder b, String[] cells, long[] shape, boolean[] cut, int axis, int offset, int indent) {
        b.append('[');
        int n = (int) shape[axis];
        int stride = 1;
        for (int k = axis + 1; k < shape.length; k++) {
            stride *= (int) shape[k];
        }
        boolean last = axis == shape.length - 1;
        String rowBreak = "," + "\n".repeat(Math.max(1, shape.length - axis - 1)) + " ".repeat(indent);
        for (int i = 0; i < n; i++) {
            if (i > 0) {
                b.append(last ? ", " : rowBreak);
            }
            if (cut[axis] && i == EDGE_ITEMS) {
                b.append("...").append(last ? ", " : rowBreak);
            }
            if (last) {
                b.append(cells[offset + i]);
            } else {
                nest(b, cells, shape, cut, axis + 1, offset + i * stride, indent + 1);
            }
        }
        b.append(']');
    }

    /**
     * One format for all shown values, as PyTorch chooses it: whole numbers as {@code 3.}, scientific notation
     * when the magnitudes span more than 1000× or leave [1e-4, 1e8), otherwise four decimals.
     */
    static String[] formatFloats(double[] v) {
        double maxAbs = 0;
        double minAbs = Double.POSITIVE_INFINITY;
        boolean whole = true;
        for (double x : v) {
            if (!Double.isFinite(x)) {
                continue;
            }
            double ax = Math.abs(x);
            maxAbs = Math.max(maxAbs, ax);
            if (ax > 0) {
                minAbs = Math.min(minAbs, ax);
            }
            whole &= x == Math.rint(x);
        }
        String fmt;
        if (whole && maxAbs < 1e8) {
            fmt = "whole";
        } else if (maxAbs >= 1e8 || (minAbs < 1e-4) || (minAbs != Double.POSITIVE_INFINITY && maxAbs / minAbs > 1000)) {
            fmt = "%.4e";
        } else {
            fmt = "%.4f";
        }
        String[] out = new String[v.length];
        for (int i = 0; i < v.length; i++) {
            double x = v[i];
            if (Double.isNaN(x)) {
                out[i] = "nan";
            } else if (Double.isInfinite(x)) {
                out[i] = x > 0 ? "inf" : "-inf";
            } else if (fmt.equals("whole")) {
                out[i] = (x == 0 && 1 / x < 0 ? "-0" : Long.toString((long) x)) + ".";
            } else {
                out[i] = String.format(Locale.ROOT, fmt, x);
            }
        }
        return out;
    }

    // ---------------------------------------------------------------- plots

    private record Plot(byte[] png, String caption) {}

    /** A line plot (1-D) or heatmap (2-D) of the array with its size-1 dimensions dropped; null for other ranks. */
    private static Plot plot(NDArray a, Values copy, Stats stats) {
        if (stats.count() == 0) {
            return null;
        }
        long[] dims = java.util.Arrays.stream(a.getShape().getShape()).filter(n -> n != 1).toArray();
        if (dims.length != 1 && dims.length != 2) {
            return null;
        }
        if (copy != null) {
            return dims.length == 1 ? line(copy.doubles, stats) : heatmap(copy.doubles, (int) dims[0], (int) dims[1], stats);
        }
        NDArray x = a.getDataType() == DataType.FLOAT32 || a.getDataType() == DataType.FLOAT64
                ? a : a.toType(DataType.FLOAT32, false);
        return dims.length == 1 ? line(x.reshape(dims[0]), stats) : heatmap(x.reshape(dims[0], dims[1]), stats);
    }

    /** Line plot from values in Java: exact up to {@value #LINE_POINTS} points, else each bucket's range. */
    private static Plot line(double[] v, Stats stats) {
        int n = v.length;
        if (n <= LINE_POINTS) {
            return linePlot(v, v, n, 1, stats);
        }
        int k = (n + LINE_POINTS - 1) / LINE_POINTS;
        int m = (n + k - 1) / k;
        double[] lo = new double[m];
        double[] hi = new double[m];
        for (int b = 0; b < m; b++) {
            double l = v[b * k];
            double h = l;
            for (int i = b * k + 1; i < Math.min(n, (b + 1) * k); i++) {
                l = Double.isNaN(v[i]) ? v[i] : Math.min(l, v[i]);
                h = Double.isNaN(v[i]) ? v[i] : Math.max(h, v[i]);
            }
            lo[b] = l;
            hi[b] = h;
        }
        return linePlot(lo, hi, n, k, stats);
    }

    private static Plot linePlot(double[] lo, double[] hi, long n, long k, Stats stats) {
        String caption = k == 1 ? "values by index (" + n + ")"
                : String.format(Locale.ROOT, "values by index (%,d), each stroke the range of %,d values", n, k);
        return new Plot(Charts.linePng(lo, hi, n, stats.min(), stats.max(), Charts.WIDTH, Charts.HEIGHT), caption);
    }

    /** Heatmap from values in Java, pooled to at most {@value #GRID_ROWS} × {@value #GRID_COLS} cells. */
    private static Plot heatmap(double[] v, int rows, int cols, Stats stats) {
        int br = (rows + GRID_ROWS - 1) / GRID_ROWS;
        int bc = (cols + GRID_COLS - 1) / GRID_COLS;
        int gr = (rows + br - 1) / br;
        int gc = (cols + bc - 1) / bc;
        double[][] grid = new double[gr][gc];
        for (int i = 0; i < gr; i++) {
            for (int j = 0; j < gc; j++) {
                double best = 0;
                for (int r = i * br; r < Math.min(rows, (i + 1) * br); r++) {
                    for (int c = j * bc; c < Math.min(cols, (j + 1) * bc); c++) {
                        double x = v[r * cols + c];
                        if (Math.abs(x) > Math.abs(best) || Double.isNaN(x)) {
                            best = x;
                        }
                        if (Double.isNaN(best)) {
                            break;
                        }
                    }
                }
                grid[i][j] = best;
            }
        }
        return heatmapPlot(grid, rows, cols, br, bc, stats);
    }

    private static Plot heatmapPlot(double[][] grid, long rows, long cols, long br, long bc, Stats stats) {
        ColorScale scale = ColorScale.forRange(stats.min(), stats.max());
        byte[] png = Charts.heatmapPng(grid, rows, cols, scale, Charts.WIDTH, Charts.HEIGHT);
        String caption = String.format(Locale.ROOT, "rows 0–%d (top to bottom) × columns 0–%d; %s", rows - 1, cols - 1,
                scale.diverging() ? "blue < 0 < red, white at 0" : "viridis, min to max");
        if (br > 1 || bc > 1) {
            caption += String.format(Locale.ROOT, "; each cell the largest-magnitude value of a %d × %d block", br, bc);
        }
        return new Plot(png, caption);
    }

    /** Line plot of a large 1-D array: the engine reduces it to {@value #LINE_POINTS} buckets' ranges. */
    private static Plot line(NDArray x, Stats stats) {
        long n = x.size();
        long k = (n + LINE_POINTS - 1) / LINE_POINTS;
        long m = (n + k - 1) / k;
        NDArray padded = x;
        if (m * k > n) { // pad with the last value, which changes no bucket's range
            padded = x.concat(x.get(new NDIndex((n - 1) + ":")).repeat(m * k - n));
        }
        NDArray buckets = padded.reshape(m, k);
        double[] lo = buckets.min(new int[] {1}).toType(DataType.FLOAT64, false).toDoubleArray();
        double[] hi = buckets.max(new int[] {1}).toType(DataType.FLOAT64, false).toDoubleArray();
        return linePlot(lo, hi, n, k, stats);
    }

    /** Heatmap of a large 2-D array: the engine pools blocks (max and min by max-pooling, no copies for padding). */
    private static Plot heatmap(NDArray x, Stats stats) {
        long rows = x.getShape().get(0);
        long cols = x.getShape().get(1);
        long br = (rows + GRID_ROWS - 1) / GRID_ROWS;
        long bc = (cols + GRID_COLS - 1) / GRID_COLS;
        NDArray grid = x;
        if (br > 1 || bc > 1) {
            // Each cell shows its block's value of largest magnitude, sign kept: outliers stay visible.
            // Ceil mode pools the ragged last blocks too.
            NDArray image = x.reshape(1, 1, rows, cols);
            Shape kernel = new Shape(br, bc);
            NDArray mx = Pool.maxPool2d(image, kernel, kernel, new Shape(0, 0), true);
            NDArray mn = Pool.maxPool2d(image.neg(), kernel, kernel, new Shape(0, 0), true).neg();
            grid = NDArrays.where(mx.abs().gte(mn.abs()), mx, mn).squeeze(new int[] {0, 1});
        }
        int gr = (int) grid.getShape().get(0);
        int gc = (int) grid.getShape().get(1);
        double[] flat = grid.toType(DataType.FLOAT64, false).toDoubleArray();
        double[][] cells = new double[gr][gc];
        for (int i = 0; i < gr; i++) {
            System.arraycopy(flat, i * gc, cells[i], 0, gc);
        }
        return heatmapPlot(cells, rows, cols, br, bc, stats);
    }

    /** All values of a small array, copied out once: doubles (floats, booleans as 0/1) and, for integers, longs. */
    private static final class Values {
        final DataType dtype;
        final double[] doubles;
        final long[] longs;

        private Values(DataType dtype, double[] doubles, long[] longs) {
            this.dtype = dtype;
            this.doubles = doubles;
            this.longs = longs;
        }

        static Values of(NDArray a) {
            DataType dt = a.getDataType();
            try (NDScope scope = new NDScope()) {
                if (dt.isInteger()) {
                    long[] l = (dt == DataType.INT64 ? a : a.toType(DataType.INT64, false)).toLongArray();
                    double[] d = new double[l.length];
                    for (int i = 0; i < l.length; i++) {
                        d[i] = l[i];
                    }
                    return new Values(dt, d, l);
                }
                return new Values(dt, (dt == DataType.FLOAT64 ? a : a.toType(DataType.FLOAT64, false)).toDoubleArray(), null);
            }
        }

        Stats stats() {
            long nan = 0;
            double min = Double.POSITIVE_INFINITY;
            double max = Double.NEGATIVE_INFINITY;
            double sum = 0;
            for (double x : doubles) {
                if (Double.isNaN(x)) {
                    nan++;
                } else {
                    min = Math.min(min, x);
                    max = Math.max(max, x);
                    sum += x;
                }
            }
            long n = doubles.length - nan;
            if (longs != null) { // exact for integers beyond 2^53
                long lo = Long.MAX_VALUE;
                long hi = Long.MIN_VALUE;
                for (long x : longs) {
                    lo = Math.min(lo, x);
                    hi = Math.max(hi, x);
                }
                min = lo;
                max = hi;
            }
            return n == 0 ? new Stats(0, nan, Double.NaN, Double.NaN, Double.NaN) : new Stats(n, nan, min, max, sum / n);
        }

        /** The cells at these flat indices, formatted for the values text. */
        String[] cells(int[] at) {
            String[] out = new String[at.length];
            if (longs != null) {
                for (int i = 0; i < at.length; i++) {
                    out[i] = Long.toString(longs[at[i]]);
                }
            } else if (dtype.isBoolean()) {
                for (int i = 0; i < at.length; i++) {
                    out[i] = doubles[at[i]] != 0 ? "True" : "False";
                }
            } else {
                double[] v = new double[at.length];
                for (int i = 0; i < at.length; i++) {
                    v[i] = doubles[at[i]];
                }
                out = formatFloats(v);
            }
            return out;
        }

        /** The values text: every value, or for large arrays the first and last {@value #EDGE_ITEMS} of each axis. */
        String text(Shape shape) {
            int d = shape.dimension();
            long[] dims = shape.getShape();
            boolean summarize = shape.size() > SUMMARIZE_ABOVE;
            boolean[] cut = new boolean[d];
            long[] subShape = dims.clone();
            int[][] keep = new int[d][];
            for (int k = 0; k < d; k++) {
                int n = (int) dims[k];
                if (summarize && n > 2 * EDGE_ITEMS) {
                    cut[k] = true;
                    subShape[k] = 2L * EDGE_ITEMS;
                    keep[k] = new int[2 * EDGE_ITEMS];
                    for (int i = 0; i < EDGE_ITEMS; i++) {
                        keep[k][i] = i;
                        keep[k][EDGE_ITEMS + i] = n - EDGE_ITEMS + i;
                    }
                } else {
                    keep[k] = new int[n];
                    for (int i = 0; i < n; i++) {
                        keep[k][i] = i;
                    }
                }
            }
            int count = 1;
            for (long s : subShape) {
                count *= (int) s;
            }
            int[] at = new int[count];
            int[] idx = new int[d];
            long[] stride = new long[d];
            for (int k = d - 1, st = 1; k >= 0; k--) {
                stride[k] = st;
                st *= (int) dims[k];
            }
            for (int i = 0; i < count; i++) {
                long flat = 0;
                for (int k = 0; k < d; k++) {
                    flat += keep[k][idx[k]] * stride[k];
                }
                at[i] = (int) flat;
                for (int k = d - 1; k >= 0; k--) { // odometer
                    if (++idx[k] < keep[k].length) {
                        break;
                    }
                    idx[k] = 0;
                }
            }
            return layout(cells(at), subShape, cut);
        }
    }
}

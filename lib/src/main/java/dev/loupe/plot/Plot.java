package dev.loupe.plot;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import dev.loupe.model.ActivationCache;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntFunction;

import tech.tablesaw.api.NumericColumn;
import tech.tablesaw.columns.Column;

/**
 * Plots researchers read. Every method returns one {@link Figure}: a notebook shows its self-contained HTML
 * (interactive where it matters, no network), static viewers its PNG, and {@code save(Path)} writes .png, .svg or
 * .html.
 *
 * <pre>{@code
 * Plot.attention(cache, 5, tokens)              // layer 5's heads; hover a head to enlarge it
 * Plot.heatmap(logitDiffs, layerNames, posNames).title("logit diff").axes("layer", "position")
 * Plot.lines(Chart.Series.of("loss", losses)).logY()
 * Plot.coloredTokens(tokens, dla)
 * }</pre>
 */
public final class Plot {

    private Plot() {}

    // ---- attention ----

    /** Layer {@code layer}'s attention heads from the cache (its {@code pattern}, first batch entry). */
    public static AttentionView attention(ActivationCache cache, int layer, List<String> tokens) {
        return attention(cache.get("pattern", layer), tokens, new int[] {layer}, -1);
    }

    /** The heads of a pattern shaped [head, q, k] or [1, head, q, k]. */
    public static AttentionView attention(NDArray pattern, List<String> tokens) {
        return attention(pattern, tokens, new int[] {0}, -1);
    }

    /** One head, enlarged with token labels. */
    public static AttentionView attentionHead(ActivationCache cache, int layer, int head, List<String> tokens) {
        return attention(cache.get("pattern", layer), tokens, new int[] {layer}, head);
    }

    /** One head of a pattern shaped [head, q, k] or [1, head, q, k], or the pattern [q, k] (head 0). */
    public static AttentionView attentionHead(NDArray pattern, int head, List<String> tokens) {
        return attention(pattern, tokens, new int[] {0}, head);
    }

    /** Every layer's heads in one grid (rows: layers); the patterns travel once, 8-bit. */
    public static AttentionView attentionAllLayers(ActivationCache cache, List<String> tokens) {
        int nLayers = cache.model().config().nLayers();
        float[][] per = new float[nLayers][];
        long[] shape = null;
        for (int l = 0; l < nLayers; l++) {
            NDArray p = cache.get("pattern", l);
            shape = headShape(p);
            per[l] = p.toType(DataType.FLOAT32, false).toFloatArray();
        }
        int layerSize = per[0].length;
        float[] all = new float[nLayers * layerSize];
        int[] layers = new int[nLayers];
        for (int l = 0; l < nLayers; l++) {
            System.arraycopy(per[l], 0, all, l * layerSize, Math.min(layerSize, (int) (shape[0] * shape[1] * shape[2])));
            layers[l] = l;
        }
        return new AttentionView(all, layers, (int) shape[0], (int) shape[1], (int) shape[2], tokens, -1);
    }

    /** The same, from patterns already in hand: one [head, q, k] (or [1, head, q, k]) per layer. */
    public static AttentionView attentionAllLayers(List<NDArray> patterns, List<String> tokens) {
        long[] shape = headShape(patterns.get(0));
        int layerSize = (int) (shape[0] * shape[1] * shape[2]);
        float[] all = new float[patterns.size() * layerSize];
        int[] layers = new int[patterns.size()];
        for (int l = 0; l < patterns.size(); l++) {
            float[] v = patterns.get(l).toType(DataType.FLOAT32, false).toFloatArray();
            if (v.length < layerSize) {
                throw new IllegalArgumentException("layer " + l + "'s pattern has " + v.length + " values, not " + layerSize);
            }
            System.arraycopy(v, 0, all, l * layerSize, layerSize);
            layers[l] = l;
        }
        return new AttentionView(all, layers, (int) shape[0], (int) shape[1], (int) shape[2], tokens, -1);
    }

    /** [head, q, k] of a pattern shaped [q, k], [head, q, k] or [batch, head, q, k] (batch entry 0 is shown). */
    private static long[] headShape(NDArray p) {
        long[] s = p.getShape().getShape();
        return switch (s.length) {
            case 2 -> new long[] {1, s[0], s[1]};
            case 3 -> s;
            case 4 -> new long[] {s[1], s[2], s[3]};
            default -> throw new IllegalArgumentException("an attention pattern is [head, q, k] or [batch, head, q, k]; got "
                    + p.getShape());
        };
    }

    private static AttentionView attention(NDArray pattern, List<String> tokens, int[] layers, int head) {
        long[] s = headShape(pattern);
        int n = (int) (s[0] * s[1] * s[2]);
        float[] all = pattern.toType(DataType.FLOAT32, false).toFloatArray();
        float[] v = all.length == n ? all : Arrays.copyOf(all, n); // batch entry 0
        if (head >= s[0]) {
            throw new IllegalArgumentException("head " + head + " of " + s[0]);
        }
        return new AttentionView(v, layers, (int) s[0], (int) s[1], (int) s[2], tokens, head);
    }

    // ---- heatmaps ----

    /** A heatmap of a [rows, cols] array. */
    public static Heatmap heatmap(NDArray values, List<String> rowLabels, List<String> colLabels) {
        long[] s = values.getShape().getShape();
        if (s.length != 2) {
            throw new IllegalArgumentException("heatmap needs [rows, cols]; got " + values.getShape());
        }
        return heatmap(grid(values.toType(DataType.FLOAT64, false).toDoubleArray(), (int) s[0], (int) s[1]), rowLabels,
                colLabels);
    }

    /** A heatmap of a [rows, cols] array with rows and columns numbered from 0. */
    public static Heatmap heatmap(NDArray values) {
        long[] s = values.getShape().getShape();
        if (s.length != 2) {
            throw new IllegalArgumentException("heatmap needs [rows, cols]; got " + values.getShape());
        }
        return heatmap(values, numbers("", (int) s[0]), numbers("", (int) s[1]));
    }

    public static Heatmap heatmap(double[][] values, List<String> rowLabels, List<String> colLabels) {
        return new Heatmap(values, rowLabels, colLabels);
    }

    /** A result that knows its heatmap: a patching sweep over [layer, pos], scores per head or per pair of heads. */
    public static Heatmap heatmap(AsHeatmap result) {
        return result.heatmap();
    }

    /** Heatmaps side by side; with {@code sharedScale} they use one colour scale and one colour bar. */
    public static Heatmap.Facets facets(List<Heatmap> panels, boolean sharedScale) {
        return new Heatmap.Facets(panels, sharedScale);
    }

    private static double[][] grid(double[] v, int rows, int cols) {
        double[][] g = new double[rows][cols];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(v, r * cols, g[r], 0, cols);
        }
        return g;
    }

    /** {@code prefix + 0, prefix + 1, ...}: labels for numbered rows or columns ("H0", "H1", ...). */
    public static List<String> numbers(String prefix, int n) {
        List<String> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(prefix + i);
        }
        return out;
    }

    // ---- lines, scatter, bar ----

    public static Chart lines(Chart.Series... series) {
        return new Chart(Chart.Kind.LINES, List.of(series), null);
    }

    public static Chart lines(List<Chart.Series> series) {
        return new Chart(Chart.Kind.LINES, series, null);
    }

    /** One line of y against 0, 1, 2, ... */
    public static Chart lines(double[] y) {
        return lines(Chart.Series.of("y", y));
    }

    /** One line of y (a 1-D array of any numeric type) against 0, 1, 2, ... */
    public static Chart lines(NDArray y) {
        return lines(Values.doubles(y, "Plot.lines"));
    }

    /** One line of a Tablesaw column against 0, 1, 2, ... */
    public static Chart lines(NumericColumn<?> y) {
        return lines(Chart.Series.of(y.name(), y));
    }

    public static Chart scatter(double[] x, double[] y) {
        return scatter(new Chart.Series("points", x, y));
    }

    public static Chart scatter(NDArray x, NDArray y) {
        return scatter(Chart.Series.of("points", x, y));
    }

    public static Chart scatter(NumericColumn<?> x, NumericColumn<?> y) {
        return scatter(new Chart.Series(y.name(), x.asDoubleArray(), y.asDoubleArray())).axes(x.name(), y.name());
    }

    public static Chart scatter(Chart.Series... series) {
        return new Chart(Chart.Kind.SCATTER, List.of(series), null);
    }

    /** Bars with labels; negative bars blue, positive red. */
    public static Chart bar(List<String> labels, double[] values) {
        if (labels.size() != values.length) {
            throw new IllegalArgumentException(labels.size() + " labels but " + values.length + " values");
        }
        return new Chart(Chart.Kind.BAR, List.of(Chart.Series.of("values", values)), List.copyOf(labels));
    }

    /** Bars with labels from a 1-D array of any numeric type. */
    public static Chart bar(List<String> labels, NDArray values) {
        return bar(labels, Values.doubles(values, "Plot.bar"));
    }

    /** Bars from a Tablesaw table's label and value columns. */
    public static Chart bar(Column<?> labels, NumericColumn<?> values) {
        List<String> text = new ArrayList<>();
        for (int i = 0; i < labels.size(); i++) {
            text.add(labels.getString(i));
        }
        return bar(text, values.asDoubleArray()).axes(labels.name(), values.name());
    }

    // ---- vectors and categories ----

    /** 2-D vectors from the origin, a square panel per set, on one scale (see {@link VectorPlot}). */
    public static VectorPlot vectors(List<VectorPlot.Panel> panels) {
        return new VectorPlot(panels);
    }

    /** The columns of a [2, n] matrix as 2-D vectors, labelled 0, 1, ...: a model's features in a 2-D hidden space. */
    public static VectorPlot vectors(double[][] w) {
        return vectors(List.of(VectorPlot.Panel.ofColumns("", w)));
    }

    /** A grid of categories (0, 1, ... naming {@code categories}' entries): a phase diagram. */
    public static CategoryMap categories(int[][] grid, List<String> rowLabels, List<String> colLabels, List<String> categories) {
        return new CategoryMap(grid, rowLabels, colLabels, categories);
    }

    // ---- tokens ----

    public static Tokens coloredTokens(List<String> tokens, double[] values) {
        return new Tokens(tokens, values);
    }

    /** Rows of coloured tokens on one colour scale, each with a label and optionally a token outlined. */
    public static Tokens coloredTokens(List<Tokens.Row> rows) {
        return new Tokens(rows);
    }

    /**
     * Figures and text in rows, drawn as one figure: {@code Plot.panels("title").row(a, b).note("...").row(c)}.
     */
    public static Panels panels(String title) {
        return new Panels(title);
    }

    /** Tokens coloured by a 1-D array of any numeric type (one value per token). */
    public static Tokens coloredTokens(List<String> tokens, NDArray values) {
        return coloredTokens(tokens, Values.doubles(values, "Plot.coloredTokens"));
    }

    /**
     * The k most likely next tokens from one position's logits [vocab] (or [1, vocab]), as a bar chart of their
     * probabilities; {@code decode} turns a token id into its text.
     */
    public static Chart topTokens(NDArray logits, int k, IntFunction<String> decode) {
        double[] l = logits.toType(DataType.FLOAT64, false).toDoubleArray();
        double max = Double.NEGATIVE_INFINITY;
        for (double v : l) {
            max = Math.max(max, v);
        }
        double sum = 0;
        for (double v : l) {
            sum += Math.exp(v - max);
        }
        Integer[] ids = new Integer[l.length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = i;
        }
        Arrays.sort(ids, (x, y) -> Double.compare(l[y], l[x]));
        int n = Math.min(k, l.length);
        List<String> labels = new ArrayList<>(n);
        double[] probs = new double[n];
        for (int i = 0; i < n; i++) {
            labels.add(Tokens.shown(decode.apply(ids[i])) + " (" + ids[i] + ")");
            probs[i] = Math.exp(l[ids[i]] - max) / sum;
        }
        return bar(labels, probs).title("top " + n + " next tokens").axes("token", "probability");
    }
}

package dev.loupe.sae;

import dev.loupe.display.Displayable;
import dev.loupe.display.Html;
import dev.loupe.display.MimeBundle;
import dev.loupe.model.HookedTransformer;
import dev.loupe.plot.Chart;
import dev.loupe.plot.Panels;
import dev.loupe.plot.Plot;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

import tech.tablesaw.api.Table;

/**
 * What {@link FeatureActivations#maxActivating} found, by unit (SAE feature, neuron or direction): its top-k tokens
 * (window, position, activation, and the context around each), density (the fraction of tokens it fired on,
 * activation &gt; 0), largest positive activation and a histogram of its positive activations. {@link #feature(int)}
 * shows one unit, {@link #dashboard(int...)} several, {@link #densityHistogram()} all, {@link #toTable()} lists every
 * top context. A scan made elsewhere (merged from a cluster's partitions) becomes one with {@link #of}.
 */
public final class FeatureStats implements Displayable {

    /** One of a feature's top tokens: position {@code position} of window {@code window}. */
    public record Example(int window, int position, double activation) {}

    /**
     * A feature's positive activations in {@code counts.length} bins of {@code binWidth} from 0: bin i counts
     * activations in [i·binWidth, (i+1)·binWidth). The last bin holds the maximum.
     */
    public record Histogram(double binWidth, long[] counts) {
        public long total() {
            return Arrays.stream(counts).sum();
        }
    }

    private final HookedTransformer model;
    private final Units units;
    private final FeatureScan scan;

    FeatureStats(HookedTransformer model, Units units, FeatureScan scan) {
        if (scan.units != units.count() || scan.positiveOnly != units.positiveOnly()) {
            throw new IllegalArgumentException("The scan has " + scan.units + " units; " + units + " are " + units.count());
        }
        this.model = model;
        this.units = units;
        this.scan = scan;
    }

    /** The statistics of a scan of {@code units} of {@code model} made elsewhere (parts merged). */
    public static FeatureStats of(HookedTransformer model, Units units, FeatureScan scan) {
        return new FeatureStats(model, units, scan);
    }

    public HookedTransformer model() { return model; }

    public Units units() { return units; }

    /** The SAE whose features these are; null for neurons or directions. */
    public Sae sae() { return units.sae(); }

    /** What the units read: the SAE's hook point, or the neurons' or directions'. */
    public String hookName() { return units.hookName(); }

    /** Tokens read. */
    public long tokens() { return scan.tokens; }

    /** Contexts kept per feature at most. */
    public int k() { return scan.k; }

    /** How many units (an SAE's d_sae). */
    public int dSae() { return scan.units; }

    /** The feature's top tokens, highest activation first; fewer than k if it fired on fewer tokens. */
    public List<Example> top(int feature) {
        check(feature);
        int at = feature * scan.k;
        List<Example> out = new ArrayList<>();
        for (int i = scan.kept[feature] - 1; i >= 0; i--) {
            out.add(new Example(scan.topWindows[at + i], scan.topPositions[at + i], scan.topValues[at + i]));
        }
        return out;
    }

    /**
     * The contexts of its top tokens, highest first: up to {@value FeatureScan#BEFORE} tokens before the top one and
     * {@value FeatureScan#AFTER} after, with the unit's activation on each, as the pass over the corpus saw them.
     */
    public List<FeatureView.Context> contexts(int feature) {
        check(feature);
        int at = feature * scan.k;
        List<FeatureView.Context> out = new ArrayList<>();
        for (int i = scan.kept[feature] - 1; i >= 0; i--) {
            int slot = at + i;
            int from = slot * FeatureScan.CONTEXT;
            int n = scan.contextLength[slot];
            long[] tokens = new long[n];
            double[] acts = new double[n];
            for (int j = 0; j < n; j++) {
                tokens[j] = scan.contextTokens[from + j];
                acts[j] = scan.contextActivations[from + j];
            }
            out.add(new FeatureView.Context(new Example(scan.topWindows[slot], scan.topPositions[slot], scan.topValues[slot]),
                    tokens, acts, scan.contextTop[slot]));
        }
        return out;
    }

    /** Every unit's top contexts, one row each: unit, rank, activation, window, position, token, context. */
    public Table toTable() {
        return TopContextsTable.of(this);
    }

    /** Tokens on which the feature fired (activation &gt; 0). */
    public long firings(int feature) {
        check(feature);
        return scan.counts[feature];
    }

    /** The fraction of tokens on which it fired. */
    public double density(int feature) {
        return (double) firings(feature) / scan.tokens;
    }

    /** Every feature's density, by feature. */
    public double[] densities() {
        double[] d = new double[scan.units];
        for (int f = 0; f < d.length; f++) {
            d[f] = (double) scan.counts[f] / scan.tokens;
        }
        return d;
    }

    /** Features that never fired on the corpus. */
    public int deadFeatures() {
        return (int) Arrays.stream(scan.counts).filter(c -> c == 0).count();
    }

    /** Its largest activation; 0 if it never fired. */
    public double max(int feature) {
        check(feature);
        return scan.max[feature];
    }

    /** Its positive activations binned from 0 to just above its maximum (no bins if it never fired). */
    public Histogram histogram(int feature) {
        check(feature);
        int at = feature * FeatureScan.BINS;
        int last = -1;
        for (int b = 0; b < FeatureScan.BINS; b++) {
            if (scan.hist[at + b] > 0) {
                last = b;
            }
        }
        return new Histogram(scan.histTop[feature] / FeatureScan.BINS, Arrays.copyOfRange(scan.hist, at, at + last + 1));
    }

    /** One feature: its top contexts, activation histogram, the tokens it promotes and suppresses, its density. */
    public FeatureView feature(int feature) {
        return FeatureView.of(this, feature);
    }

    /** Several features, compactly: each one's density, top contexts and promoted tokens. */
    public Panels dashboard(int... features) {
        return FeatureView.dashboard(this, features);
    }

    /**
     * How many features have each density, on a log10 scale as SAELens and SAE-Vis show it, in bins of a quarter
     * decade; features that never fired (log10 0 = −∞) get a bar of their own at the left.
     */
    public Chart densityHistogram() {
        double[] d = densities();
        double lowest = Arrays.stream(d).filter(v -> v > 0).min().orElse(1);
        int first = (int) Math.floor(Math.log10(lowest) * 4);
        int bins = Math.max(1, -first);
        long[] counts = new long[bins + 1];
        for (double v : d) {
            counts[v == 0 ? 0 : 1 + Math.min(bins - 1, (int) Math.floor(Math.log10(v) * 4) - first)]++;
        }
        List<String> labels = new ArrayList<>();
        labels.add("dead");
        for (int b = 0; b < bins; b++) {
            labels.add(String.format(Locale.ROOT, "%.2f", (first + b) / 4.0));
        }
        double[] values = Arrays.stream(counts).asDoubleStream().toArray();
        return Plot.bar(labels, values).title(String.format(Locale.ROOT,
                "log10 density over %,d tokens (%d of %d %s dead)", scan.tokens, deadFeatures(), scan.units,
                units.name(0).split(" ")[0] + "s"))
                .axes("log10 density (bin start)", "features");
    }

    void check(int feature) {
        if (feature < 0 || feature >= scan.units) {
            throw new IndexOutOfBoundsException("Unit " + feature + " is not among these " + units + ": they are 0.."
                    + (scan.units - 1));
        }
    }

    @Override
    public MimeBundle mimeBundle() {
        Chart chart = densityHistogram();
        MimeBundle figure = chart.mimeBundle();
        return MimeBundle.text(toString()).withHtml("<div style=\"" + Html.FONT + "\">" + Html.escape(toString()) + "</div>"
                + figure.data().get(MimeBundle.HTML)).with(MimeBundle.PNG, figure.data().get(MimeBundle.PNG));
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "FeatureStats(%s over %,d tokens, top %d each, %d of %d never above 0)",
                units, scan.tokens, scan.k, deadFeatures(), scan.units);
    }
}

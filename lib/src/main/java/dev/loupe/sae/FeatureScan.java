package dev.loupe.sae;

import java.io.Serializable;
import java.util.stream.IntStream;

/**
 * What one pass over a corpus keeps per unit (SAE feature, neuron, direction), batch by batch, without keeping the
 * activations: the k largest activations with their (window, position) and the context around each (the tokens and
 * the unit's activation on them), how many tokens it fired on (activation &gt; 0), its largest positive activation, and
 * a histogram of its positive activations.
 *
 * <p>Top tokens rank by activation, then earlier window, then earlier position, so that ties break the same way
 * whatever order the windows were read in: scans of parts of a corpus {@link #merge merge} into exactly the scan of the
 * whole (the top k of the parts' top k; counts added; histograms brought to the larger top). Window numbers are the
 * corpus's, not the part's.
 *
 * <p>The histogram has {@value #BINS} bins over [0, top), top the least power of two above the unit's maximum: when a
 * larger activation arrives, top doubles and neighbouring bins merge, so the counts stay exact (every old edge is a new
 * edge or vanishes) and the maximum always lies in the upper half of the bins. Top depends on the maximum alone, which
 * is what makes two histograms mergeable.
 */
public final class FeatureScan implements Serializable {

    private static final long serialVersionUID = 1L;

    static final int BINS = 32;
    /** Tokens kept before and after each top token, as SAE-Vis's default window. */
    static final int BEFORE = 12;
    static final int AFTER = 4;
    static final int CONTEXT = BEFORE + AFTER + 1;
    /** Units per parallel task: the scan's work splits by unit, each task striding the rows it owns. */
    private static final int UNITS_PER_TASK = 256;

    final int units;
    final int k;
    /** Whether only activations &gt; 0 are top tokens (SAE features: one that did not fire has no context). */
    final boolean positiveOnly;
    final long[] counts;
    final float[] max;
    /** Per unit, k slots in ascending order of rank: the lowest kept is at [u·k]. */
    final float[] topValues;
    final int[] topWindows;
    final int[] topPositions;
    /** Per slot, {@value #CONTEXT} token ids and activations from the window around the top token, and how many. */
    final int[] contextTokens;
    final float[] contextActivations;
    final int[] contextLength;
    /** Per slot, the top token's index in its context. */
    final int[] contextTop;
    final int[] kept;
    final double[] histTop;
    final long[] hist;
    long tokens;

    FeatureScan(int units, int k, boolean positiveOnly) {
        if (k < 1) {
            throw new IllegalArgumentException("k, the contexts kept per unit, must be at least 1; got " + k);
        }
        this.units = units;
        this.k = k;
        this.positiveOnly = positiveOnly;
        int slots = Math.multiplyExact(units, k);
        counts = new long[units];
        max = new float[units];
        topValues = new float[slots];
        topWindows = new int[slots];
        topPositions = new int[slots];
        contextTokens = new int[Math.multiplyExact(slots, CONTEXT)];
        contextActivations = new float[slots * CONTEXT];
        contextLength = new int[slots];
        contextTop = new int[slots];
        kept = new int[units];
        histTop = new double[units];
        hist = new long[units * BINS];
    }

    /** Units scanned. */
    public int units() { return units; }

    /** Tokens read. */
    public long tokens() { return tokens; }

    /**
     * Adds activations [windows, length, units] (row-major) of windows {@code firstWindow..} of one length, whose
     * token ids are {@code ids} [windows, length].
     */
    void add(float[] acts, long[] ids, int firstWindow, int length) {
        int rows = acts.length / units;
        int tasks = (units + UNITS_PER_TASK - 1) / UNITS_PER_TASK;
        IntStream.range(0, tasks).parallel().forEach(t -> {
            int from = t * UNITS_PER_TASK;
            int to = Math.min(units, from + UNITS_PER_TASK);
            for (int r = 0; r < rows; r++) {
                int base = r * units;
                for (int u = from; u < to; u++) {
                    float v = acts[base + u];
                    if (v > 0) {
                        fired(u, v);
                    }
                    // NaN never ranks: it compares false with everything and would break the order.
                    if (positiveOnly ? v > 0 : v == v) {
                        rank(u, v, r, acts, ids, firstWindow, length);
                    }
                }
            }
        });
        tokens += rows;
    }

    private void fired(int u, float v) {
        counts[u]++;
        if (v > max[u]) {
            max[u] = v;
        }
        // The first top is the least power of two above v, exactly; later ones double past larger activations.
        double top = histTop[u] == 0 ? Math.scalb(1.0, Math.getExponent(v) + 1) : growHistogram(u, histTop[u], v);
        histTop[u] = top;
        hist[u * BINS + Math.min(BINS - 1, (int) (v / top * BINS))]++;
    }

    /** Doubles unit u's histogram top from {@code top} until it is above {@code atLeast}; the new top. */
    private double growHistogram(int u, double top, double atLeast) {
        for (; atLeast >= top; top *= 2) {
            fold(hist, u * BINS);
        }
        return top;
    }

    /** The bins at {@code at} for twice the top: [i·w, (i+1)·w) lies in bin i / 2 of width 2w, so counts stay exact. */
    private static void fold(long[] bins, int at) {
        for (int b = 0; b < BINS / 2; b++) {
            bins[at + b] = bins[at + 2 * b] + bins[at + 2 * b + 1];
        }
        java.util.Arrays.fill(bins, at + BINS / 2, at + BINS, 0);
    }

    /** Row r of the batch, activation v, into unit u's top k if it ranks there (rows come in corpus order). */
    private void rank(int u, float v, int r, float[] acts, long[] ids, int firstWindow, int length) {
        int at = u * k;
        int n = kept[u];
        if (n == k && v <= topValues[at]) {
            return;
        }
        // Ascending slots; an activation equal to one kept ranks below it, so ties keep the earlier token first.
        int i;
        if (n < k) {
            kept[u] = n + 1;
            for (i = n; i > 0 && topValues[at + i - 1] >= v; i--) {
                copy(this, at + i - 1, at + i);
            }
        } else {
            for (i = 0; i + 1 < k && topValues[at + i + 1] < v; i++) {
                copy(this, at + i + 1, at + i);
            }
        }
        int slot = at + i;
        int position = r % length;
        int rowStart = r - position;
        int from = Math.max(0, position - BEFORE);
        int to = Math.min(length, position + AFTER + 1);
        topValues[slot] = v;
        topWindows[slot] = firstWindow + r / length;
        topPositions[slot] = position;
        contextLength[slot] = to - from;
        contextTop[slot] = position - from;
        for (int j = from; j < to; j++) {
            contextTokens[slot * CONTEXT + j - from] = (int) ids[rowStart + j];
            contextActivations[slot * CONTEXT + j - from] = acts[(rowStart + j) * units + u];
        }
    }

    /** Copies slot {@code from} of {@code source} to slot {@code to} of this scan. */
    private void copy(FeatureScan source, int from, int to) {
        topValues[to] = source.topValues[from];
        topWindows[to] = source.topWindows[from];
        topPositions[to] = source.topPositions[from];
        contextLength[to] = source.contextLength[from];
        contextTop[to] = source.contextTop[from];
        System.arraycopy(source.contextTokens, from * CONTEXT, contextTokens, to * CONTEXT, CONTEXT);
        System.arraycopy(source.contextActivations, from * CONTEXT, contextActivations, to * CONTEXT, CONTEXT);
    }

    /**
     * The scan of both parts' windows together, exactly: what one scan over all of them gives, in whatever order the
     * parts were read. Neither part changes.
     */
    public static FeatureScan merge(FeatureScan a, FeatureScan b) {
        if (a.units != b.units || a.k != b.k || a.positiveOnly != b.positiveOnly) {
            throw new IllegalArgumentException("Cannot merge a scan of " + a.units + " units, top " + a.k
                    + " with one of " + b.units + " units, top " + b.k + ": they were not scans of the same units");
        }
        FeatureScan m = new FeatureScan(a.units, a.k, a.positiveOnly);
        m.tokens = a.tokens + b.tokens;
        for (int u = 0; u < m.units; u++) {
            m.counts[u] = a.counts[u] + b.counts[u];
            m.max[u] = Math.max(a.max[u], b.max[u]);
            m.mergeHistograms(u, a, b);
            m.mergeTop(u, a, b);
        }
        return m;
    }

    private void mergeHistograms(int u, FeatureScan a, FeatureScan b) {
        histTop[u] = Math.max(a.histTop[u], b.histTop[u]);
        for (FeatureScan part : new FeatureScan[] {a, b}) {
            if (part.histTop[u] == 0) {
                continue;
            }
            long[] bins = java.util.Arrays.copyOfRange(part.hist, u * BINS, (u + 1) * BINS);
            for (double top = part.histTop[u]; top < histTop[u]; top *= 2) {
                fold(bins, 0);
            }
            for (int i = 0; i < BINS; i++) {
                hist[u * BINS + i] += bins[i];
            }
        }
    }

    private void mergeTop(int u, FeatureScan a, FeatureScan b) {
        int at = u * k;
        int i = a.kept[u] - 1;
        int j = b.kept[u] - 1;
        int n = Math.min(k, a.kept[u] + b.kept[u]);
        kept[u] = n;
        // Highest first into slots n-1 down to 0, so the slots stay ascending.
        for (int slot = n - 1; slot >= 0; slot--) {
            boolean fromA = j < 0 || (i >= 0 && ranksAbove(a, at + i, b, at + j));
            if (fromA) {
                copy(a, at + i--, at + slot);
            } else {
                copy(b, at + j--, at + slot);
            }
        }
    }

    /** Higher activation first; among equal ones the earlier window, then the earlier position. */
    private static boolean ranksAbove(FeatureScan a, int i, FeatureScan b, int j) {
        float x = a.topValues[i];
        float y = b.topValues[j];
        if (x != y) {
            return x > y;
        }
        if (a.topWindows[i] != b.topWindows[j]) {
            return a.topWindows[i] < b.topWindows[j];
        }
        return a.topPositions[i] < b.topPositions[j];
    }
}

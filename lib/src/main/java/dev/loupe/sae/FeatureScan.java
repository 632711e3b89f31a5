package dev.loupe.sae;

import java.util.stream.IntStream;

/**
 * What one pass over a corpus keeps per feature, batch by batch, without keeping the activations: the k largest
 * positive activations with their (window, position), how many tokens it fired on (activation &gt; 0), its maximum, and a
 * histogram of its positive activations.
 *
 * <p>The histogram has {@value #BINS} bins over [0, top), top a power of two at least the feature's maximum: when a
 * larger activation arrives, top doubles and neighbouring bins merge, so the counts stay exact (every old edge is a
 * new edge or vanishes) and the maximum always lies in the upper half of the bins.
 */
final class FeatureScan {

    static final int BINS = 32;
    /** Features per parallel task: the scan's work splits by feature, each task striding the rows it owns. */
    private static final int FEATURES_PER_TASK = 256;

    final int dSae;
    final int k;
    final long[] counts;
    final float[] max;
    /** Per feature, k slots in ascending order of activation: the smallest kept is at [f·k]. */
    final float[] topValues;
    final int[] topWindows;
    final int[] topPositions;
    final int[] kept;
    final double[] histTop;
    final long[] hist;
    long tokens;

    FeatureScan(int dSae, int k) {
        this.dSae = dSae;
        this.k = k;
        counts = new long[dSae];
        max = new float[dSae];
        topValues = new float[dSae * k];
        topWindows = new int[dSae * k];
        topPositions = new int[dSae * k];
        kept = new int[dSae];
        histTop = new double[dSae];
        hist = new long[dSae * BINS];
    }

    /**
     * Adds activations [windows, length, d_sae] (row-major) of windows {@code firstWindow..} of one length.
     */
    void add(float[] acts, int firstWindow, int length) {
        int rows = acts.length / dSae;
        int tasks = (dSae + FEATURES_PER_TASK - 1) / FEATURES_PER_TASK;
        IntStream.range(0, tasks).parallel().forEach(t -> {
            int from = t * FEATURES_PER_TASK;
            int to = Math.min(dSae, from + FEATURES_PER_TASK);
            for (int r = 0; r < rows; r++) {
                int base = r * dSae;
                for (int f = from; f < to; f++) {
                    float v = acts[base + f];
                    if (v > 0) {
                        record(f, v, firstWindow + r / length, r % length);
                    }
                }
            }
        });
        tokens += rows;
    }

    private void record(int f, float v, int window, int position) {
        counts[f]++;
        if (v > max[f]) {
            max[f] = v;
        }
        addToHistogram(f, v);
        int at = f * k;
        int n = kept[f];
        if (n == k && v <= topValues[at]) {
            return;
        }
        // Ascending slots; an activation equal to one kept ranks below it, so ties keep the earlier token first.
        int i;
        if (n < k) {
            kept[f] = n + 1;
            for (i = n; i > 0 && topValues[at + i - 1] >= v; i--) {
                move(at + i - 1, at + i);
            }
        } else {
            for (i = 0; i + 1 < k && topValues[at + i + 1] < v; i++) {
                move(at + i + 1, at + i);
            }
        }
        topValues[at + i] = v;
        topWindows[at + i] = window;
        topPositions[at + i] = position;
    }

    private void move(int from, int to) {
        topValues[to] = topValues[from];
        topWindows[to] = topWindows[from];
        topPositions[to] = topPositions[from];
    }

    private void addToHistogram(int f, float v) {
        double top = histTop[f];
        if (top == 0) {
            top = Math.pow(2, Math.floor(Math.log(v) / Math.log(2)) + 1);
        }
        int at = f * BINS;
        while (v >= top) {
            for (int b = 0; b < BINS / 2; b++) {
                hist[at + b] = hist[at + 2 * b] + hist[at + 2 * b + 1];
            }
            for (int b = BINS / 2; b < BINS; b++) {
                hist[at + b] = 0;
            }
            top *= 2;
        }
        histTop[f] = top;
        hist[at + Math.min(BINS - 1, (int) (v / top * BINS))]++;
    }
}

package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;

import dev.loupe.display.ProgressBar;
import dev.loupe.model.HookedTransformer;
import dev.loupe.train.TokenWindows;

import java.util.List;
import java.util.function.LongConsumer;

/**
 * Max-activating contexts over a corpus, SAE-Vis's first step: which tokens make each SAE feature (or neuron, or
 * direction: {@link Units}) fire most, how often it fires, and how strongly.
 *
 * <pre>{@code
 * var stats = maxActivating(model, sae, tokens, 20);   // tokens [n, ctx]; or a List<int[]>, or TokenWindows
 * stats.feature(42)                                    // its view: top contexts, histogram, promoted tokens
 * stats.densityHistogram()                             // log10 density of every feature, dead ones counted
 * maxActivating(model, Units.neurons(model, "blocks.1.mlp.hook_post"), windows, 20)
 * }</pre>
 *
 * The model runs only up to the units' hook (the rest of it cannot change them). Windows run in batches of at most
 * {@value #BATCH_ACTIVATIONS} unit activations; each batch's activations are folded into per-unit top-k, counts and
 * histograms and then dropped, so memory does not grow with the corpus.
 *
 * <p>Batches start at multiples of a fixed number of windows counted from the corpus's first window (and where the
 * window length changes), so a part of the corpus that starts at such a multiple runs exactly the batches the whole
 * corpus runs there: {@link #scan} on parts, then {@link FeatureScan#merge}, gives bit for bit what one pass gives.
 */
public final class FeatureActivations {

    /** Unit activations held at once (64 MB of float32): above a few thousand tokens a batch is no faster. */
    public static final long BATCH_ACTIVATIONS = 1L << 24;

    private FeatureActivations() {}

    /** Top-{@code k} tokens of every feature, and its density, maximum and histogram, over windows [n, ctx]. */
    public static FeatureStats maxActivating(HookedTransformer model, Sae sae, NDArray tokens, int k) {
        return maxActivating(model, Units.features(sae), TokenCorpus.of(tokens), k);
    }

    /** The same over token windows of any lengths (windows of one length next to each other run as one batch). */
    public static FeatureStats maxActivating(HookedTransformer model, Sae sae, List<int[]> windows, int k) {
        return maxActivating(model, Units.features(sae), TokenCorpus.of(windows), k);
    }

    /** The same over a training corpus's whole token stream, cut into consecutive windows of its context length. */
    public static FeatureStats maxActivating(HookedTransformer model, Sae sae, TokenWindows corpus, int k) {
        return maxActivating(model, Units.features(sae), TokenCorpus.of(corpus.consecutive()), k);
    }

    /** Top-{@code k} contexts of any units over windows [n, ctx]. */
    public static FeatureStats maxActivating(HookedTransformer model, Units units, NDArray tokens, int k) {
        return maxActivating(model, units, TokenCorpus.of(tokens), k);
    }

    /** Top-{@code k} contexts of any units over token windows of any lengths. */
    public static FeatureStats maxActivating(HookedTransformer model, Units units, List<int[]> windows, int k) {
        return maxActivating(model, units, TokenCorpus.of(windows), k);
    }

    private static FeatureStats maxActivating(HookedTransformer model, Units units, TokenCorpus corpus, int k) {
        int batch = windowsPerBatch(corpus.longest(), units.count());
        FeatureScan scan;
        try (ProgressBar bar = ProgressBar.start(units.toString(), corpus.tokens())) {
            scan = scan(model, units, corpus, 0, batch, k, bar::advance);
            bar.done();
        }
        return new FeatureStats(model, units, scan);
    }

    /**
     * How many windows a batch holds when the longest is {@code longestWindow} tokens: as many as keep a batch's
     * activations within {@value #BATCH_ACTIVATIONS}. Parts of one corpus must use the same number to merge exactly.
     */
    public static int windowsPerBatch(int longestWindow, int units) {
        return (int) Math.max(1, BATCH_ACTIVATIONS / ((long) longestWindow * units));
    }

    /**
     * The scan of windows that are the corpus's windows {@code firstWindow, firstWindow + 1, ...}, in batches that
     * start at multiples of {@code windowsPerBatch} (counted from the corpus's window 0). {@code progress} hears the
     * tokens of each batch done.
     */
    public static FeatureScan scan(HookedTransformer model, Units units, List<int[]> windows, int firstWindow,
                                   int windowsPerBatch, int k, LongConsumer progress) {
        return scan(model, units, TokenCorpus.of(windows), firstWindow, windowsPerBatch, k, progress);
    }

    private static FeatureScan scan(HookedTransformer model, Units units, TokenCorpus corpus, int firstWindow,
                                    int windowsPerBatch, int k, LongConsumer progress) {
        if (k < 1) {
            throw new IllegalArgumentException("k, the contexts kept per unit, must be at least 1; got " + k);
        }
        if (firstWindow < 0 || windowsPerBatch < 1) {
            throw new IllegalArgumentException("Windows are numbered from 0 and batches hold at least one; got first window "
                    + firstWindow + ", " + windowsPerBatch + " a batch");
        }
        if (corpus.longest() > model.config().nCtx()) {
            throw new IllegalArgumentException("A window of the corpus has " + corpus.longest() + " tokens, more than the"
                    + " model's context of " + model.config().nCtx() + " (n_ctx): cut it into shorter windows");
        }
        model.hookPoint(units.hookName()); // an unknown hook fails here, with the closest names
        FeatureScan scan = new FeatureScan(units.count(), k, units.positiveOnly());
        int count;
        for (int first = 0; first < corpus.windows(); first += count) {
            int length = corpus.length(first);
            int toBoundary = windowsPerBatch - (firstWindow + first) % windowsPerBatch;
            count = corpus.runFrom(first, toBoundary);
            try (NDScope scope = new NDScope()) {
                NDArray tokens = corpus.batch(first, count);
                NDArray f = units.of(model, tokens);
                scan.add(f.toType(DataType.FLOAT32, false).toFloatArray(), tokens.toLongArray(),
                        Math.addExact(firstWindow, first), length);
            }
            progress.accept((long) count * length);
        }
        return scan;
    }

    /**
     * Feature activations [batch, pos, d_sae] for tokens [batch, pos]: what {@code hook_sae_acts_post} holds with the
     * SAE spliced, from a run that stops at the block that makes the SAE's hook ({@link HookedTransformer#runWithCacheUpTo}).
     */
    public static NDArray of(HookedTransformer model, Sae sae, NDArray tokens) {
        return Units.features(sae).of(model, tokens);
    }
}

package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.display.ProgressBar;
import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.train.TokenWindows;

import java.util.List;

/**
 * SAE features over a corpus, SAE-Vis's first step: which tokens make each feature fire most, how often it fires, and
 * how strongly.
 *
 * <pre>{@code
 * var stats = maxActivating(model, sae, tokens, 20);   // tokens [n, ctx]; or a List<int[]>, or TokenWindows
 * stats.feature(42)                                    // its view: top contexts, histogram, promoted tokens
 * stats.densityHistogram()                             // log10 density of every feature, dead ones counted
 * }</pre>
 *
 * The model runs only up to the SAE's hook (the rest of it cannot change the features), and the SAE encodes what it
 * reads there: the same activations as {@code hook_sae_acts_post} with the SAE spliced. Windows run in batches of at
 * most {@value #BATCH_ACTIVATIONS} feature activations; each batch's activations are folded into per-feature top-k,
 * counts and histograms and then dropped, so memory does not grow with the corpus.
 */
public final class FeatureActivations {

    /** Feature activations held at once (64 MB of float32): above a few thousand tokens a batch is no faster. */
    public static final long BATCH_ACTIVATIONS = 1L << 24;

    private FeatureActivations() {}

    /** Top-{@code k} tokens of every feature, and its density, maximum and histogram, over windows [n, ctx]. */
    public static FeatureStats maxActivating(HookedTransformer model, Sae sae, NDArray tokens, int k) {
        return maxActivating(model, sae, TokenCorpus.of(tokens), k);
    }

    /** The same over token windows of any lengths (windows of one length next to each other run as one batch). */
    public static FeatureStats maxActivating(HookedTransformer model, Sae sae, List<int[]> windows, int k) {
        return maxActivating(model, sae, TokenCorpus.of(windows), k);
    }

    /** The same over a training corpus's whole token stream, cut into consecutive windows of its context length. */
    public static FeatureStats maxActivating(HookedTransformer model, Sae sae, TokenWindows corpus, int k) {
        return maxActivating(model, sae, TokenCorpus.of(corpus.consecutive()), k);
    }

    private static FeatureStats maxActivating(HookedTransformer model, Sae sae, TokenCorpus corpus, int k) {
        if (k < 1) {
            throw new IllegalArgumentException("k, the contexts kept per feature, must be at least 1; got " + k);
        }
        FeatureScan scan = new FeatureScan(sae.dSae(), k);
        try (ProgressBar bar = ProgressBar.start("features of " + sae.hookName(), corpus.tokens())) {
            int count;
            for (int first = 0; first < corpus.windows(); first += count) {
                int length = corpus.length(first);
                count = corpus.runFrom(first, (int) Math.max(1, BATCH_ACTIVATIONS / ((long) length * sae.dSae())));
                try (NDScope scope = new NDScope()) {
                    NDArray f = of(model, sae, corpus.batch(first, count));
                    scan.add(f.toType(DataType.FLOAT32, false).toFloatArray(), first, length);
                }
                bar.advance((long) count * length);
            }
            bar.done();
        }
        return new FeatureStats(model, sae, corpus, scan);
    }

    /**
     * Feature activations [batch, pos, d_sae] for tokens [batch, pos]: what {@code hook_sae_acts_post} holds with the
     * SAE spliced, from a run that stops at the block that makes the SAE's hook ({@link HookedTransformer#runWithCacheUpTo}).
     */
    public static NDArray of(HookedTransformer model, Sae sae, NDArray tokens) {
        try (ActivationCache cache = model.runWithCacheUpTo(tokens, sae.hookName()::equals)) {
            NDArray x = cache.get(sae.hookName());
            Shape s = x.getShape();
            // hook_z [batch, pos, head, d_head] is read as [batch, pos, head × d_head], as the splice reads it.
            if (s.dimension() == 4 && s.get(2) * s.get(3) == sae.dIn()) {
                x = x.reshape(s.get(0), s.get(1), s.get(2) * s.get(3));
            }
            return sae.encode(x);
        }
    }
}

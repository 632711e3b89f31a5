package dev.loupe.patching;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;

import dev.loupe.hook.ActNames;
import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;

import java.util.List;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * Attribution patching (Nanda, 2023): the first-order estimate of what patching each activation from the clean
 * run into the corrupted run would do to the metric, (clean − corrupted) · ∂metric/∂activation at the corrupted
 * run, for every activation at once from one clean forward pass, one corrupted forward pass and one backward
 * pass. The clean pass stops after the last block it reads, and a metric that reads one position per prompt
 * ({@link Metrics.AtPositions}) has the corrupted pass unembed those positions alone. Exact where the metric is
 * linear in the activation (e.g. the last layer's outputs without a final layer norm); elsewhere an approximation
 * that is good for small changes and can be badly wrong for large ones (attention patterns that flip, saturated
 * softmaxes): check the heads it ranks highest with exact patching.
 */
public final class AttributionPatching {

    private AttributionPatching() {}

    /** The estimates: residual stream [layer, pos], head outputs [layer, pos, head], MLP neurons [layer, pos, neuron]. */
    public record Estimates(PatchingResult residPre, PatchingResult headOut, PatchingResult neurons) {}

    public static Estimates run(HookedTransformer model, NDArray cleanTokens, NDArray corruptedTokens,
                                Function<NDArray, NDArray> metric) {
        ModelConfig cfg = model.config();
        Predicate<String> wanted = n -> n.endsWith("hook_resid_pre") || n.endsWith("attn.hook_z") || n.endsWith("mlp.hook_post");
        return withRuns(model, cleanTokens, corruptedTokens, metric, wanted, (clean, corrupted) -> {
            int layers = cfg.nLayers();
            NDList resid = new NDList();
            NDList heads = new NDList();
            NDList neurons = new NDList();
            for (int l = 0; l < layers; l++) {
                resid.add(estimate(clean, corrupted, ActNames.actName("resid_pre", l), true));
                heads.add(estimate(clean, corrupted, ActNames.actName("z", l), true));
                if (!cfg.attnOnly()) {
                    neurons.add(estimate(clean, corrupted, ActNames.actName("post", l), false));
                }
            }
            int pos = (int) cleanTokens.getShape().get(cleanTokens.getShape().dimension() - 1);
            List<String> layerLabels = Patching.numbered("", layers);
            List<String> posLabels = Patching.numbered("", pos);
            PatchingResult residResult = new PatchingResult("Attribution patching resid_pre", NDArrays.stack(resid),
                    List.of("layer", "pos"), List.of(layerLabels, posLabels));
            PatchingResult headResult = new PatchingResult("Attribution patching head outputs", NDArrays.stack(heads),
                    List.of("layer", "pos", "head"), List.of(layerLabels, posLabels, Patching.numbered("H", cfg.nHeads())));
            PatchingResult neuronResult = cfg.attnOnly() ? null : new PatchingResult("Attribution patching MLP neurons",
                    NDArrays.stack(neurons), List.of("layer", "pos", "neuron"),
                    List.of(layerLabels, posLabels, Patching.numbered("N", cfg.dMlp())));
            return new Estimates(residResult, headResult, neuronResult);
        });
    }

    /**
     * The estimate for each entry of an activation [batch, pos, n] whose entries are components of their own (an SAE's
     * {@code <hook>.hook_sae_acts_post} features, MLP neurons), by [pos, feature]: (clean − corrupted) × the
     * gradient at the corrupted run, summed over the batch. With an SAE spliced with its error term, this is the
     * first-order effect of patching each feature from the clean run, exact where the metric is linear in it.
     */
    public static PatchingResult features(HookedTransformer model, NDArray cleanTokens, NDArray corruptedTokens,
                                          Function<NDArray, NDArray> metric, String hookName) {
        return withRuns(model, cleanTokens, corruptedTokens, metric, hookName::equals, (clean, corrupted) -> {
            Shape s = clean.get(hookName).getShape();
            if (s.dimension() != 3) {
                throw new IllegalArgumentException("Features are the last axis of an activation [batch, pos, n]; "
                        + hookName + " has shape " + s);
            }
            return new PatchingResult("Attribution patching features of " + hookName, estimate(clean, corrupted, hookName, false),
                    List.of("pos", "feature"), List.of(Patching.numbered("", (int) s.get(1)), Patching.numbered("F", (int) s.get(2))));
        });
    }

    /**
     * {@code body} of the clean run's activations and the corrupted run's with their gradients. Neither pass computes
     * what no estimate reads: the clean one stops after the block that makes the last wanted activation, and the
     * corrupted one unembeds only the positions the metric reads, where it says which.
     */
    private static <T> T withRuns(HookedTransformer model, NDArray cleanTokens, NDArray corruptedTokens,
                                  Function<NDArray, NDArray> metric, Predicate<String> wanted,
                                  BiFunction<ActivationCache, ActivationCache, T> body) {
        if (!cleanTokens.getShape().equals(corruptedTokens.getShape())) {
            throw new IllegalArgumentException("Clean tokens " + cleanTokens.getShape() + " and corrupted tokens "
                    + corruptedTokens.getShape() + " must have the same shape.");
        }
        long[] unembedAt = Metrics.positionsRead(metric, corruptedTokens.getShape());
        try (ActivationCache clean = model.runWithCacheUpTo(cleanTokens, wanted);
             ActivationCache corrupted = model.runWithGradCache(corruptedTokens, wanted, metric, unembedAt)) {
            return body.apply(clean, corrupted);
        }
    }

    /**
     * (clean − corrupted) · gradient, summed over the batch and, where {@code sumLastAxis}, the activation's last axis
     * (d_model or d_head; neurons and features are each their own component): [pos] or [pos, head] or [pos, neuron].
     */
    private static NDArray estimate(ActivationCache clean, ActivationCache corrupted, String name, boolean sumLastAxis) {
        NDArray product = clean.get(name).sub(corrupted.get(name)).mul(corrupted.grad(name)).sum(new int[] {0});
        return sumLastAxis ? product.sum(new int[] {-1}) : product;
    }
}

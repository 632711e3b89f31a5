package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;

/**
 * What max-activating contexts are found for: a model's run read as one number per unit per token. The units are an
 * SAE's features, neurons (the columns of a hook point's activation, such as {@code blocks.1.mlp.hook_post}), or
 * directions (the dot product of a hook point's activation with a vector: a probe, a steering vector, a feature's
 * encoder row).
 *
 * <pre>{@code
 * maxActivating(model, Units.features(sae), windows, 20)
 * maxActivating(model, Units.neurons(model, "blocks.1.mlp.hook_post"), windows, 20)        // every neuron
 * maxActivating(model, Units.neurons(model, "blocks.1.mlp.hook_post", 7, 42), windows, 20) // two of them
 * maxActivating(model, Units.direction(model, "blocks.2.hook_resid_pre", v), windows, 20)
 * }</pre>
 */
public interface Units {

    /** The hook point whose activation they read. */
    String hookName();

    /** How many units. */
    int count();

    /** Unit {@code i} as a researcher names it: "feature 7", "neuron 42" (its column), "direction 0". */
    String name(int i);

    /** Whether only activations &gt; 0 count as top contexts: a feature that did not fire has none. */
    boolean positiveOnly();

    /** The SAE whose features these are, or null (its decoder gives a view its logit effects). */
    default Sae sae() {
        return null;
    }

    /** The units' values [batch, pos, count] from the activation at {@link #hookName()} [batch, pos, ...]. */
    NDArray read(NDArray activation);

    /** The units' values [batch, pos, count] for tokens [batch, pos], from a run that stops after the hook point. */
    default NDArray of(HookedTransformer model, NDArray tokens) {
        try (ActivationCache cache = model.runWithCacheUpTo(tokens, hookName()::equals)) {
            return read(cache.get(hookName()));
        }
    }

    /** An SAE's features (what {@code hook_sae_acts_post} holds with the SAE spliced). */
    static Units features(Sae sae) {
        return new SaeFeatures(sae);
    }

    /** Neurons of a hook point: the columns given, or every column (heads' outputs flattened, as an SAE reads hook_z). */
    static Units neurons(HookedTransformer model, String hookName, int... neurons) {
        return Neurons.of(model, hookName, neurons);
    }

    /** One direction: the dot product of the hook point's activation with {@code vector}. */
    static Units direction(HookedTransformer model, String hookName, float[] vector) {
        return Directions.of(model, hookName, new float[][] {vector});
    }

    /** Several directions at once, one per row of {@code vectors}. */
    static Units directions(HookedTransformer model, String hookName, float[][] vectors) {
        return Directions.of(model, hookName, vectors);
    }

    /** [batch, pos, ...] as [batch, pos, width]: hook_z's heads side by side. */
    static NDArray flat(NDArray activation) {
        Shape s = activation.getShape();
        return activation.reshape(s.get(0), s.get(1), -1);
    }

    /** The width of the hook point's activation, flattened, from a one-token run; an unknown hook fails naming it. */
    static int width(HookedTransformer model, String hookName) {
        if (!model.hookNames().contains(hookName)) {
            model.hookPoint(hookName); // fails with the closest names
        }
        if (hookName.endsWith("hook_pattern") || hookName.endsWith("hook_attn_scores")) {
            throw new IllegalArgumentException(hookName + " is [batch, head, query, key], not one vector per token:"
                    + " read hook_z, hook_result or the residual stream instead");
        }
        try (NDArray one = model.toTokens(new int[] {0}); ActivationCache cache = model.runWithCacheUpTo(one, hookName::equals)) {
            return (int) flat(cache.get(hookName)).getShape().get(2);
        }
    }
}

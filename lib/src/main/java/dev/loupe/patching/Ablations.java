package dev.loupe.patching;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;

import dev.loupe.hook.ActNames;
import dev.loupe.hook.Hook;
import dev.loupe.model.ActivationCache;

import java.util.function.Function;

/**
 * Ablations as hooks, to pass to {@code runWithHooks} or {@code hooks(...)} and combine freely: zero (the
 * component is gone), mean (replaced by its average over a reference batch: removes what varies, keeps the
 * constant part), and resample (replaced by its value on another input).
 */
public final class Ablations {

    private Ablations() {}

    /** Head {@code head}'s output at layer {@code layer} (its hook_z slice) set to zero at every position. */
    public static Hook zeroHead(int layer, int head) {
        return replace(ActNames.actName("z", layer), headSlice(head), slice -> slice.zerosLike());
    }

    /** The head's output replaced by its mean over the reference run's batch (position by position). */
    public static Hook meanHead(int layer, int head, ActivationCache reference) {
        String name = ActNames.actName("z", layer);
        NDArray mean = batchMean(reference.get(name)).get(headSlice(head));
        return replace(name, headSlice(head), slice -> mean.broadcast(slice.getShape()));
    }

    /** The head's output replaced by its value in another run of the same shape (resample ablation). */
    public static Hook resampleHead(int layer, int head, ActivationCache other) {
        String name = ActNames.actName("z", layer);
        NDArray source = other.get(name).get(headSlice(head));
        return replace(name, headSlice(head), slice -> source);
    }

    /** MLP neuron {@code neuron} of {@code layer} (its hook_post) set to zero. */
    public static Hook zeroNeuron(int layer, int neuron) {
        return zeroFeature(ActNames.actName("post", layer), neuron);
    }

    /** The neuron replaced by its mean over the reference run's batch. */
    public static Hook meanNeuron(int layer, int neuron, ActivationCache reference) {
        return meanFeature(ActNames.actName("post", layer), neuron, reference);
    }

    /**
     * Entry {@code feature} of the last axis of {@code hookName}'s activation set to zero at every position: an SAE
     * feature ({@code "blocks.8.hook_resid_pre.hook_sae_acts_post"}, spliced with its error term to remove just that
     * feature's write) or an MLP neuron.
     */
    public static Hook zeroFeature(String hookName, int feature) {
        return replace(hookName, "..., " + feature, slice -> slice.zerosLike());
    }

    /** The feature replaced by its mean over the reference run's batch (position by position). */
    public static Hook meanFeature(String hookName, int feature, ActivationCache reference) {
        NDArray mean = batchMean(reference.get(hookName)).get("..., " + feature);
        return replace(hookName, "..., " + feature, slice -> mean.broadcast(slice.getShape()));
    }

    /** A whole layer's attention ("attn_out") or MLP ("mlp_out") output set to zero. */
    public static Hook zeroLayer(String component, int layer) {
        if (!component.equals("attn_out") && !component.equals("mlp_out")) {
            throw new IllegalArgumentException("A layer's output is attn_out or mlp_out, got '" + component + "'");
        }
        return replace(ActNames.actName(component, layer), "...", slice -> slice.zerosLike());
    }

    /** Any activation at one position (its axis 1) set to zero, e.g. ("blocks.3.hook_resid_post", 5). */
    public static Hook zeroPosition(String hookName, int pos) {
        return replace(hookName, ":, " + pos, slice -> slice.zerosLike());
    }

    /** The activation with {@code slice} replaced by {@code value(current slice)}; the original is not changed. */
    private static Hook replace(String name, String slice, Function<NDArray, NDArray> value) {
        return Hook.of(name, (activation, hook) -> {
            NDArray copy = activation.duplicate();
            copy.set(new NDIndex(slice), value.apply(activation.get(slice)));
            return copy;
        });
    }

    private static String headSlice(int head) {
        return ":, :, " + head; // [batch, pos, head, d_head]
    }

    /** Mean over the batch, kept as a batch of one so it broadcasts over any batch. */
    private static NDArray batchMean(NDArray activation) {
        return activation.mean(new int[] {0}, true);
    }
}

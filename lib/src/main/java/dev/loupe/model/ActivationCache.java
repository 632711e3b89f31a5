package dev.loupe.model;

import ai.djl.ndarray.NDArray;

import dev.loupe.cache.LabelledStack;
import dev.loupe.display.Displayable;
import dev.loupe.display.MimeBundle;
import dev.loupe.hook.ActNames;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;

/**
 * The activations of one run, by hook name, in the order the model made them, plus that run's logits (none for a run
 * stopped at a layer) and, from {@code runWithGradCache}, the gradient of a metric with respect to each activation.
 * The arrays are the model's own activations, not copies. {@link #close()} frees them at once; a cache
 * nobody references is freed by the garbage collector.
 */
public final class ActivationCache implements AutoCloseable, Displayable {

    private final Map<String, NDArray> activations;
    private final Map<String, NDArray> gradients;
    private final NDArray logits;
    private final Integer stopAtLayer; // null: a whole forward pass
    private final HookedTransformer model;
    private final List<String> modelHookNames;
    private volatile boolean closed;

    public ActivationCache(HookedTransformer model, Map<String, NDArray> activations, NDArray logits,
                           Map<String, NDArray> gradients) {
        this(model, activations, logits, gradients, null);
    }

    ActivationCache(HookedTransformer model, Map<String, NDArray> activations, NDArray logits,
                    Map<String, NDArray> gradients, Integer stopAtLayer) {
        this.model = model;
        this.activations = Collections.unmodifiableMap(new LinkedHashMap<>(activations));
        this.logits = logits;
        this.stopAtLayer = stopAtLayer;
        this.gradients = gradients == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(gradients));
        this.modelHookNames = model.hookNames();
    }

    /** The model whose run this is. */
    public HookedTransformer model() {
        return model;
    }

    // ---------------------------------------------------------------- residual stream analysis (CacheAnalysis)

    /**
     * The residual stream as it accumulates: resid_pre of each layer below {@code layer} (and resid_mid with
     * {@code inclMid}), then, when {@code layer} is n_layers, the final resid_post. Labels "0_pre", "0_mid", …,
     * "final_post". {@code pos} null keeps every position; otherwise [component, batch, d_model] at that position.
     */
    public LabelledStack accumulatedResid(int layer, boolean inclMid, Integer pos) {
        return CacheAnalysis.accumulatedResid(this, layer, inclMid, pos);
    }

    /**
     * What the residual stream at {@code layer} is the sum of: "embed", "pos_embed", then each earlier layer's
     * "{l}_attn_out" and "{l}_mlp_out" (with {@code mlpInput}, layer's own attention output too).
     */
    public LabelledStack decomposeResid(int layer, boolean mlpInput, Integer pos) {
        return CacheAnalysis.decomposeResid(this, layer, mlpInput, pos);
    }

    /** Each head's output ("L{l}H{h}", without b_O) for the layers below {@code layer}. */
    public LabelledStack stackHeadResults(int layer, Integer pos) {
        return CacheAnalysis.stackHeadResults(this, layer, pos);
    }

    /**
     * A stack of residual-stream components as the layer norm before {@code layer} sees them (n_layers: the final
     * one): centred, and divided by the scale cached for the whole residual stream, so the parts still add up.
     */
    public LabelledStack applyLnToStack(LabelledStack stack, int layer, Integer pos) {
        return CacheAnalysis.applyLnToStack(this, stack, layer, pos);
    }

    /** Each component's direct contribution to the logit of {@code tokens[b]} (minus {@code incorrect[b]}'s, if given). */
    public NDArray logitAttrs(LabelledStack stack, int[] tokens, int[] incorrect) {
        return CacheAnalysis.logitAttrs(this, stack, tokens, incorrect);
    }

    /** The activation at a hook point: a full name, or a short one as {@code get_act_name} takes ("embed", "pre5"). */
    public NDArray get(String name) {
        checkOpen();
        NDArray a = activations.get(name);
        return a != null ? a : lookup(activations, ActNames.actName(name), "activation");
    }

    /** The activation by short name and layer, as TransformerLens's {@code cache["pattern", 1]}. */
    public NDArray get(String shortName, int layer) {
        return lookup(activations, ActNames.actName(shortName, layer), "activation");
    }

    /** As TransformerLens's {@code get_act_name(name, layer, layer_type)}: {@code get("scale", 3, "ln1")}. */
    public NDArray get(String shortName, int layer, String layerType) {
        return lookup(activations, ActNames.actName(shortName, layer, layerType), "activation");
    }

    /** The gradient of the metric with respect to this activation (caches from {@code runWithGradCache} only). */
    public NDArray grad(String name) {
        NDArray g = gradients.get(name);
        return g != null ? g : lookup(gradients, ActNames.actName(name), "gradient");
    }

    public NDArray grad(String shortName, int layer) {
        return lookup(gradients, ActNames.actName(shortName, layer), "gradient");
    }

    private NDArray lookup(Map<String, NDArray> map, String name, String what) {
        checkOpen();
        NDArray a = map.get(name);
        if (a != null) {
            return a;
        }
        if (map.isEmpty() && what.equals("gradient")) {
            throw new IllegalArgumentException("This cache has no gradients; make it with runWithGradCache(tokens, filter, metric).");
        }
        if (modelHookNames.contains(name) && stopAtLayer != null && !HookedTransformer.reaches(stopAtLayer, name)) {
            throw new IllegalArgumentException("'" + name + "' was not cached: the run stopped at layer " + stopAtLayer
                    + " (runWithCache(tokens, filter, stopAtLayer)), before it; it needs "
                    + HookedTransformer.runReaching(name) + ".");
        }
        if (modelHookNames.contains(name) && name.endsWith("hook_result") && what.equals("activation")) {
            throw new IllegalArgumentException("'" + name + "' was not cached: runWithCache(tokens) leaves out per-head"
                    + " results (n_heads times the size of hook_z). Keep them with runWithCache(tokens, name -> true).");
        }
        if (modelHookNames.contains(name)) {
            throw new IllegalArgumentException("'" + name + "' is a hook point of the model but this cache holds no "
                    + what + " for it: the names filter given to the run excluded it (" + map.size()
                    + " cached, e.g. " + String.join(", ", ActNames.closest(name, map.keySet(), 3)) + ").");
        }
        throw new IllegalArgumentException("No hook point named '" + name + "'." + ActNames.layerHint(name, modelHookNames)
                + " Closest cached: " + String.join(", ", ActNames.closest(name, map.keySet(), 3)));
    }

    /** The logits of the run that made this cache, [batch, pos, d_vocab_out]; a run stopped at a layer made none. */
    public NDArray logits() {
        checkOpen();
        if (stopAtLayer != null) {
            throw new IllegalStateException("This cache has no logits: its run stopped at layer " + stopAtLayer
                    + " (runWithCache(tokens, filter, stopAtLayer)), before the unembedding. Run without stopAtLayer for them.");
        }
        return logits;
    }

    /** The layer the run that made this cache stopped at ({@code runWithCache(tokens, filter, stopAtLayer)}), if it did. */
    public OptionalInt stopAtLayer() {
        return stopAtLayer == null ? OptionalInt.empty() : OptionalInt.of(stopAtLayer);
    }

    /** Whether {@link #close()} has freed this cache's arrays. */
    public boolean isClosed() {
        return closed;
    }

    /** A closed cache's arrays are freed: say so, rather than let libtorch report a released resource. */
    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("This ActivationCache (" + activations.size() + " activations of a run of "
                    + model.config().modelName() + ") was closed, so its arrays are freed; run the model again for a new"
                    + " one, or close it only when done (a try-with-resources block closes it at its end).");
        }
    }

    public boolean contains(String name) {
        return activations.containsKey(name);
    }

    /** Hook names cached, in execution order. */
    public Set<String> keys() {
        return activations.keySet();
    }

    public int size() {
        return activations.size();
    }

    public boolean hasGradients() {
        return !gradients.isEmpty();
    }

    /** Native bytes held by the cached activations and gradients (the logits not counted). */
    public long memoryBytes() {
        long total = 0;
        for (NDArray a : activations.values()) {
            total += bytes(a);
        }
        for (NDArray g : gradients.values()) {
            total += bytes(g);
        }
        return total;
    }

    private static long bytes(NDArray a) {
        return a.isReleased() ? 0 : a.getShape().size() * a.getDataType().getNumOfBytes();
    }

    /** Frees every cached activation, gradient and the logits now. */
    @Override
    public void close() {
        closed = true;
        activations.values().forEach(NDArray::close);
        gradients.values().forEach(NDArray::close);
        if (logits != null) {
            logits.close();
        }
    }

    /** In a notebook: the keys grouped by layer with shapes and memory; the text is {@link #toString()}. */
    @Override
    public MimeBundle mimeBundle() {
        return CacheView.bundle(this);
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder(String.format("ActivationCache: %d activations%s%s, %.1f MB%n",
                activations.size(), gradients.isEmpty() ? "" : " with gradients",
                stopAtLayer == null ? "" : " of a run stopped at layer " + stopAtLayer, memoryBytes() / 1e6));
        activations.forEach((name, a) -> s.append(String.format("  %-36s %s%n", name,
                a.isReleased() ? "(closed)" : a.getShape())));
        return s.toString();
    }
}

package dev.loupe.hook;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A named place in the forward pass where an activation is made, e.g. {@code blocks.1.attn.hook_pattern}.
 * Components pass each activation through {@link #apply}; with nothing attached that is the identity and
 * costs nothing. Attached hooks may read or replace it; a cache records it; a gradient probe makes its
 * gradient available after a backward pass.
 */
public final class HookPoint {

    private final String name;
    private final int layer;
    private final List<HookFn> hooks = new ArrayList<>();
    private Map<String, NDArray> cacheSink;
    private Map<String, NDArray> gradProbes;

    public HookPoint(String name) {
        this.name = name;
        this.layer = ActNames.layerOf(name);
    }

    /** The full name, as TransformerLens's {@code hook.name}. */
    public String name() {
        return name;
    }

    /** The block index this point is in, or -1 outside the blocks (embeddings, final layer norm). */
    public int layer() {
        return layer;
    }

    /** Whether anything will see the activation; components skip optional work (e.g. per-head results) if not. */
    public boolean isActive() {
        return !hooks.isEmpty() || cacheSink != null || gradProbes != null;
    }

    /** Runs the attached hooks on the activation, records it where asked, and returns what the model uses next. */
    public NDArray apply(NDArray activation) {
        if (!isActive()) {
            return activation;
        }
        NDArray current = keep(activation);
        for (HookFn fn : hooks) {
            NDArray input = current;
            NDArray replaced = Scopes.outside(() -> fn.apply(input, this));
            if (replaced != null && replaced != current) {
                checkReplacement(current, replaced);
                current = keep(replaced);
            }
        }
        if (cacheSink != null) {
            cacheSink.put(name, current);
        }
        if (gradProbes != null) {
            // Adding a zero leaf leaves the value exactly as it was, and its gradient is the activation's.
            NDArray probe = keep(current.zerosLike());
            probe.setRequiresGradient(true);
            gradProbes.put(name, probe);
            current = current.add(probe);
        }
        return current;
    }

    /** A forward pass frees its temporaries when it ends; what hooks or caches have seen must outlive it. */
    private static NDArray keep(NDArray array) {
        NDScope.unregister(array);
        return array;
    }

    private void checkReplacement(NDArray original, NDArray replaced) {
        if (!replaced.getShape().equals(original.getShape())) {
            throw new HookShapeException(name, original.getShape(), replaced.getShape());
        }
        if (replaced.getDataType() != original.getDataType()) {
            throw new IllegalStateException("The hook at " + name + " returned " + replaced.getDataType()
                    + " but the model computes in " + original.getDataType()
                    + ". Convert it with .toType(DataType." + original.getDataType().name() + ", false).");
        }
    }

    public void add(HookFn fn) {
        hooks.add(fn);
    }

    public boolean remove(HookFn fn) {
        return hooks.remove(fn);
    }

    public void clearHooks() {
        hooks.clear();
    }

    public int hookCount() {
        return hooks.size();
    }

    /** Records every activation passing through into {@code sink} until {@link #stopRecording()}. */
    public void recordInto(Map<String, NDArray> sink) {
        this.cacheSink = sink;
    }

    /** Adds a gradient probe on each pass, into {@code probes}, until {@link #stopRecording()}. */
    public void probeGradientsInto(Map<String, NDArray> probes) {
        this.gradProbes = probes;
    }

    public void stopRecording() {
        this.cacheSink = null;
        this.gradProbes = null;
    }

    @Override
    public String toString() {
        return "HookPoint(" + name + ", " + hooks.size() + " hooks)";
    }
}

package dev.loupe.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.training.GradientCollector;

import dev.loupe.hook.HookPoint;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The runs that keep activations: {@code runWithCache} records the chosen hook points during one forward pass (or the
 * part of it up to a layer), and {@code runWithGradCache} also their gradients of a scalar metric. Recording stops when
 * the run ends or fails.
 */
final class Recording {

    private Recording() {}

    /** The activations at {@code recorded} during {@code run}, and its logits. */
    static ActivationCache cache(HookedTransformer model, List<HookPoint> recorded, Supplier<NDArray> run) {
        return cache(model, recorded, run, false);
    }

    /** As {@link #cache}, or with each point's activation as it arrived there, before the hooks there acted. */
    static ActivationCache cache(HookedTransformer model, List<HookPoint> recorded, Supplier<NDArray> run, boolean inputs) {
        return cache(model, recorded, run, inputs, null);
    }

    /** As {@link #cache}, of a run stopped at {@code stopAtLayer} (null: a whole forward pass), which makes no logits. */
    static ActivationCache cache(HookedTransformer model, List<HookPoint> recorded, Supplier<NDArray> run, boolean inputs,
                                 Integer stopAtLayer) {
        Map<String, NDArray> activations = new LinkedHashMap<>();
        try {
            recorded.forEach(p -> {
                if (inputs) {
                    p.recordInputsInto(activations);
                } else {
                    p.recordInto(activations);
                }
            });
            NDArray logits = run.get();
            return new ActivationCache(model, activations, logits, null, stopAtLayer);
        } finally {
            recorded.forEach(HookPoint::stopRecording);
        }
    }

    /** As {@link #cache}, with the gradient of {@code metric(logits)} (a scalar) at each recorded hook point. */
    static ActivationCache gradCache(HookedTransformer model, List<HookPoint> recorded, Supplier<NDArray> run,
            Function<NDArray, NDArray> metric) {
        Map<String, NDArray> activations = new LinkedHashMap<>();
        Map<String, NDArray> probes = new LinkedHashMap<>();
        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            recorded.forEach(p -> {
                p.recordInto(activations);
                p.probeGradientsInto(probes);
            });
            NDArray logits = run.get();
            NDArray value = metric.apply(logits);
            if (value == null || value.size() != 1) {
                throw new IllegalArgumentException("The metric must return a scalar; it returned "
                        + (value == null ? "null" : "shape " + value.getShape()));
            }
            collector.backward(value);
            // A leaf's gradient is its own array, which outlives the leaf: nothing to copy.
            Map<String, NDArray> gradients = new LinkedHashMap<>();
            probes.forEach((name, probe) -> gradients.put(name, probe.getGradient()));
            probes.values().forEach(NDArray::close);
            activations.replaceAll((name, a) -> detached(a));
            return new ActivationCache(model, activations, detached(logits), gradients);
        } finally {
            recorded.forEach(HookPoint::stopRecording);
        }
    }

    /** The same values without the autograd graph, so the graph's memory can go. */
    private static NDArray detached(NDArray a) {
        NDArray d = a.stopGradient();
        a.close();
        return d;
    }
}

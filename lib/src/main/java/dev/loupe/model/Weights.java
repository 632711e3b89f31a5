package dev.loupe.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import dev.loupe.hook.ActNames;
import dev.loupe.tensor.Tensors;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A model's parameters under TransformerLens's names: the components' declarations ({@link Params}), the arrays
 * (random, from a state dict, replaced one by one), lookups that name what is missing, and freeing them.
 */
final class Weights {

    private final ModelConfig cfg;
    private final Params declared = new Params();
    private final Map<String, NDArray> params = declared.values();
    private volatile boolean closed;

    Weights(ModelConfig cfg) {
        this.cfg = cfg;
    }

    /** Where the components declare their parameters. */
    Params declared() {
        return declared;
    }

    /** Random arrays from {@code seed}: normal(0, initializer_range) matrices, zero biases, unit norm weights. */
    void initialise(long seed) {
        Engine.getInstance().setRandomSeed((int) seed);
        NDManager m = Tensors.manager();
        declared.specs().forEach((name, spec) -> params.put(name, switch (spec.init()) {
            case NORMAL -> m.randomNormal(0f, (float) cfg.initRange(), spec.shape(), cfg.dtype());
            case ONES -> m.ones(spec.shape(), cfg.dtype());
            case ZEROS -> m.zeros(spec.shape(), cfg.dtype());
        }));
    }

    /** Every declared parameter from {@code stateDict}, which must hold each with its shape and nothing else. */
    void load(Map<String, NDArray> stateDict) {
        Map<String, Shape> expected = shapes();
        Inputs.stateDict(cfg, expected, stateDict);
        for (String name : expected.keySet()) { // in the components' order, converted to the config's type
            NDArray a = stateDict.get(name);
            params.put(name, a.getDataType() == cfg.dtype() ? a : a.toType(cfg.dtype(), false));
        }
    }

    /** Every parameter's name and shape, in state-dict order. */
    Map<String, Shape> shapes() {
        Map<String, Shape> s = new LinkedHashMap<>();
        declared.specs().forEach((name, spec) -> s.put(name, spec.shape()));
        return s;
    }

    /** The arrays by name, in state-dict order (the model's own map). */
    Map<String, NDArray> values() {
        return params;
    }

    NDArray get(String name) {
        checkOpen();
        NDArray p = params.get(name);
        if (p == null) {
            throw new IllegalArgumentException("No parameter '" + name + "'. Closest: " + ActNames.closest(name, params.keySet(), 3));
        }
        return p;
    }

    void set(String name, NDArray value) {
        NDArray old = get(name);
        if (!old.getShape().equals(value.getShape())) {
            throw new IllegalArgumentException("Parameter " + name + " has shape " + old.getShape() + ", got " + value.getShape());
        }
        params.put(name, value.getDataType() == cfg.dtype() ? value : value.toType(cfg.dtype(), false));
    }

    long count() {
        return params.values().stream().mapToLong(NDArray::size).sum();
    }

    /** {@code blocks.{layer}.attn.{name}}. */
    NDArray attn(int layer, String name) {
        Inputs.layer(cfg, layer);
        return get("blocks." + layer + ".attn." + name);
    }

    /** A key or value parameter [kv_head, ...] as [head, ...]; the stored array itself without grouped-query attention. */
    NDArray attnPerQueryHead(int layer, String name) {
        NDArray kv = attn(layer, name);
        long group = cfg.nHeads() / cfg.nKeyValueHeads();
        return group == 1 ? kv : kv.repeat(0, group);
    }

    /** {@code blocks.{layer}.mlp.{name}}; an attention-only model has none. */
    NDArray mlp(int layer, String name) {
        Inputs.layer(cfg, layer);
        if (cfg.attnOnly()) {
            throw new IllegalArgumentException(cfg.modelName() + " is attention-only: it has no " + name);
        }
        return get("blocks." + layer + ".mlp." + name);
    }

    void close() {
        closed = true;
        params.values().forEach(NDArray::close);
    }

    /** A closed model's weights are freed: say which model, rather than let libtorch report a released resource. */
    void checkOpen() {
        if (closed) {
            throw new IllegalStateException("The model " + cfg.modelName() + " was closed (model.close()), so its weights"
                    + " are freed; load or create it again.");
        }
    }
}

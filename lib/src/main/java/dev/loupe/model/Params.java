package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The parameters a model's components declare, by TransformerLens name, with their shapes and initialisation,
 * and the arrays behind them. Components declare when the model is built; the arrays come later (random
 * initialisation, a state dict) and may be replaced ({@code setParameter}), so a component reads its
 * {@link Param} at each use.
 */
final class Params {

    /** How {@code HookedTransformer.create} fills a parameter: normal(0, initializer_range), ones or zeros. */
    enum Init { NORMAL, ONES, ZEROS }

    record Spec(Shape shape, Init init) {}

    private final Map<String, Spec> specs = new LinkedHashMap<>();
    private final Map<String, NDArray> values = new LinkedHashMap<>();

    Param declare(String name, Init init, long... shape) {
        if (specs.putIfAbsent(name, new Spec(new Shape(shape), init)) != null) {
            throw new IllegalStateException("Duplicate parameter " + name);
        }
        return new Param(name, this);
    }

    /** Every declared parameter, in state-dict order. */
    Map<String, Spec> specs() {
        return specs;
    }

    /** The arrays, by name (the model's state dict). */
    Map<String, NDArray> values() {
        return values;
    }

    /** One declared parameter; {@link #get()} reads the model's current array. */
    static final class Param {
        private final String name;
        private final Params owner;

        private Param(String name, Params owner) {
            this.name = name;
            this.owner = owner;
        }

        NDArray get() {
            return owner.values.get(name);
        }

        String name() {
            return name;
        }
    }
}

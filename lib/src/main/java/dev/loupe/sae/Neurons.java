package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;

import dev.loupe.model.HookedTransformer;
import dev.loupe.tensor.Tensors;

import java.util.Arrays;

/** Columns of a hook point's activation as {@link Units}: neurons of {@code mlp.hook_post}, dimensions of a stream. */
final class Neurons implements Units {

    private final String hookName;
    private final int width;
    /** The columns read, or null for all of them. */
    private final int[] columns;

    private Neurons(String hookName, int width, int[] columns) {
        this.hookName = hookName;
        this.width = width;
        this.columns = columns;
    }

    static Neurons of(HookedTransformer model, String hookName, int... columns) {
        int width = Units.width(model, hookName);
        for (int c : columns) {
            if (c < 0 || c >= width) {
                throw new IndexOutOfBoundsException("Neuron " + c + " is not in " + hookName + ": it has " + width
                        + " (0.." + (width - 1) + ")");
            }
        }
        return new Neurons(hookName, width, columns.length == 0 ? null : columns.clone());
    }

    @Override
    public String hookName() { return hookName; }

    @Override
    public int count() { return columns == null ? width : columns.length; }

    @Override
    public String name(int i) { return "neuron " + (columns == null ? i : columns[i]); }

    @Override
    public boolean positiveOnly() { return false; }

    @Override
    public NDArray read(NDArray activation) {
        NDArray x = Units.flat(activation);
        if (columns == null) {
            return x.duplicate(); // the cache that holds the activation is closed after the read
        }
        NDArray index = Tensors.ofLongs(Arrays.stream(columns).asLongStream().toArray(), new ai.djl.ndarray.types.Shape(columns.length));
        return x.get(new NDIndex(":, :, {}", index));
    }

    @Override
    public String toString() {
        return (columns == null ? "neurons" : columns.length + " neurons") + " of " + hookName + " (width " + width + ")";
    }
}

package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

import dev.loupe.model.HookedTransformer;
import dev.loupe.tensor.Tensors;

/** Dot products of a hook point's activation with vectors, as {@link Units}: probes, steering vectors. */
final class Directions implements Units {

    private final String hookName;
    private final float[][] vectors;

    private Directions(String hookName, float[][] vectors) {
        this.hookName = hookName;
        this.vectors = vectors;
    }

    static Directions of(HookedTransformer model, String hookName, float[][] vectors) {
        int width = Units.width(model, hookName);
        if (vectors.length == 0) {
            throw new IllegalArgumentException("No directions given for " + hookName);
        }
        float[][] copy = new float[vectors.length][];
        for (int i = 0; i < vectors.length; i++) {
            if (vectors[i].length != width) {
                throw new IllegalArgumentException("Direction " + i + " has " + vectors[i].length + " entries; "
                        + hookName + " is " + width + " wide");
            }
            copy[i] = vectors[i].clone();
        }
        return new Directions(hookName, copy);
    }

    @Override
    public String hookName() { return hookName; }

    @Override
    public int count() { return vectors.length; }

    @Override
    public String name(int i) { return "direction " + i; }

    @Override
    public boolean positiveOnly() { return false; }

    @Override
    public NDArray read(NDArray activation) {
        NDArray x = Units.flat(activation);
        int width = vectors[0].length;
        float[] columns = new float[width * vectors.length];
        for (int i = 0; i < vectors.length; i++) {
            for (int d = 0; d < width; d++) {
                columns[d * vectors.length + i] = vectors[i][d];
            }
        }
        NDArray v = Tensors.ofFloats(columns, new Shape(width, vectors.length)).toType(x.getDataType(), false);
        return x.matMul(v);
    }

    @Override
    public String toString() {
        return (vectors.length == 1 ? "a direction" : vectors.length + " directions") + " in " + hookName;
    }
}

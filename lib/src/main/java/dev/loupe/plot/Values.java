package dev.loupe.plot;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/** Arrays as the plain values a one-dimensional plot draws. */
final class Values {

    private Values() {}

    /** A 1-D array, or one with a single non-unit axis ([1, n], [n, 1]), of any numeric type, as doubles. */
    static double[] doubles(NDArray a, String what) {
        Shape s = a.getShape();
        int axes = 0;
        for (long d : s.getShape()) {
            axes += d != 1 ? 1 : 0;
        }
        if (axes > 1) {
            throw new IllegalArgumentException(what + " takes one row of values: a 1-D array, got shape " + s
                    + ". Index one row first (x.get(0)), or use Plot.heatmap for a 2-D array.");
        }
        return a.toType(DataType.FLOAT64, false).toDoubleArray();
    }
}

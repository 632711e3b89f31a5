package dev.loupe.patching;

import ai.djl.ndarray.NDArray;

import java.util.List;

/**
 * The metric after each patch of a sweep: {@code values} has one axis per entry of {@code axes} (e.g.
 * [layer, pos]), and {@code labels.get(i)} names the entries along axis i ("3", " John", "H7").
 */
public record PatchingResult(String title, NDArray values, List<String> axes, List<List<String>> labels) {

    @Override
    public String toString() {
        return title + " " + values.getShape() + " over " + axes;
    }
}

package dev.loupe.display;

import ai.djl.ndarray.NDArray;

/** The renderers {@link Display} starts with, for types Loupe uses but does not own. */
final class Renderers {

    private Renderers() {}

    static void registerDefaults() {
        Display.register(NDArray.class, ArrayView::bundle);
    }
}

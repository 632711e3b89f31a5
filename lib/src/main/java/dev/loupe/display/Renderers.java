package dev.loupe.display;

import ai.djl.ndarray.NDArray;

import tech.tablesaw.api.Table;
import tech.tablesaw.columns.Column;

/** The renderers {@link Display} starts with, for types Loupe uses but does not own. */
final class Renderers {

    private Renderers() {}

    static void registerDefaults() {
        Display.register(NDArray.class, ArrayView::bundle);
        Display.register(Table.class, TableView::bundle);
        Display.register(Column.class, c -> TableView.bundle((Column<?>) c));
    }
}

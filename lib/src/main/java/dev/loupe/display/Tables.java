package dev.loupe.display;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;

/** Tablesaw tables from what interpretability code produces: named numbers, and arrays with labels. */
public final class Tables {

    private Tables() {}

    /** A table of names and values, in the map's order: columns {@code name} and {@code value}. */
    public static Table fromMap(Map<String, ? extends Number> values) {
        return fromMap(values, "name", "value");
    }

    /** A table of names and values, in the map's order, with these column names. */
    public static Table fromMap(Map<String, ? extends Number> values, String keyColumn, String valueColumn) {
        StringColumn keys = StringColumn.create(keyColumn);
        DoubleColumn vals = DoubleColumn.create(valueColumn);
        values.forEach((k, v) -> {
            keys.append(k);
            if (v == null) {
                vals.appendMissing();
            } else {
                vals.append(v.doubleValue());
            }
        });
        return Table.create(keys, vals);
    }

    /**
     * A table with a row per record and a column per record component, in declaration order: numbers (int, long,
     * double, ...) as numeric columns, anything else as text. In a notebook, {@code record Row(String head, double
     * effect) {}} and a list of rows make a table in two lines.
     */
    public static Table of(List<? extends Record> rows) {
        if (rows.isEmpty()) {
            throw new IllegalArgumentException("Tables.of needs at least one record, to know the columns; got an empty list");
        }
        java.lang.reflect.RecordComponent[] components = rows.get(0).getClass().getRecordComponents();
        Table table = Table.create(rows.get(0).getClass().getSimpleName());
        for (java.lang.reflect.RecordComponent c : components) {
            List<Object> values = new ArrayList<>();
            for (Record r : rows) {
                try {
                    values.add(c.getAccessor().invoke(r));
                } catch (ReflectiveOperationException e) {
                    throw new IllegalStateException("cannot read " + c.getName() + " of " + r, e);
                }
            }
            boolean numeric = values.stream().allMatch(v -> v == null || v instanceof Number);
            if (numeric) {
                DoubleColumn column = DoubleColumn.create(c.getName());
                values.forEach(v -> {
                    if (v == null) {
                        column.appendMissing();
                    } else {
                        column.append(((Number) v).doubleValue());
                    }
                });
                table.addColumns(column);
            } else {
                table.addColumns(StringColumn.create(c.getName(), values.stream().map(String::valueOf).toList()));
            }
        }
        return table;
    }

    /** A 1-D array [n] with a label per element: columns {@code label} and {@code value}. */
    public static Table fromArray(NDArray values, List<String> labels) {
        Shape s = values.getShape();
        if (s.dimension() != 1 || s.get(0) != labels.size()) {
            throw new IllegalArgumentException("Expected a 1-D array with one element per label (" + labels.size()
                    + " labels, so shape [" + labels.size() + "]); got shape " + ArrayView.shape(s)
                    + (s.dimension() == 2 ? ". For 2-D arrays give row and column labels." : "."));
        }
        return Table.create(StringColumn.create("label", labels), DoubleColumn.create("value", doubles(values)));
    }

    /**
     * A 2-D array [rows, cols] as a table: a column {@code row} of row labels, then one numeric column per
     * column label, e.g. a patching result [layer, pos] with layer names and token strings. Column names keep
     * their spaces visible: the token {@code " When"} names the column {@code "␣When"} (Tablesaw would trim it).
     */
    public static Table fromArray(NDArray values, List<String> rowLabels, List<String> columnLabels) {
        Shape s = values.getShape();
        if (s.dimension() != 2 || s.get(0) != rowLabels.size() || s.get(1) != columnLabels.size()) {
            throw new IllegalArgumentException("Expected a 2-D array of shape [" + rowLabels.size() + ", "
                    + columnLabels.size() + "] (row labels × column labels); got shape " + ArrayView.shape(s) + ".");
        }
        Set<String> seen = new HashSet<>();
        seen.add("row");
        List<String> names = new ArrayList<>();
        for (String c : columnLabels) {
            String name = visibleEnds(c);
            if (!seen.add(name)) {
                throw new IllegalArgumentException("Column labels must be distinct (and not \"row\"); \"" + c
                        + "\" appears twice. Make them unique, e.g. with the position: \"" + c + " (3)\".");
            }
            names.add(name);
        }
        int rows = rowLabels.size();
        int cols = columnLabels.size();
        double[] flat = doubles(values);
        Table t = Table.create(StringColumn.create("row", rowLabels));
        for (int c = 0; c < cols; c++) {
            double[] col = new double[rows];
            for (int r = 0; r < rows; r++) {
                col[r] = flat[r * cols + c];
            }
            t.addColumns(DoubleColumn.create(names.get(c), col));
        }
        return t;
    }

    /**
     * Tablesaw trims column names, which would make the tokens {@code " the"} and {@code "the"} one name: spaces
     * at either end are shown as {@code ␣} instead.
     */
    static String visibleEnds(String label) {
        int start = 0;
        int end = label.length();
        while (start < end && label.charAt(start) == ' ') {
            start++;
        }
        while (end > start && label.charAt(end - 1) == ' ') {
            end--;
        }
        if (start == end && !label.isEmpty()) {
            return "␣".repeat(label.length());
        }
        return "␣".repeat(start) + label.substring(start, end) + "␣".repeat(label.length() - end);
    }

    private static double[] doubles(NDArray a) {
        return a.toType(DataType.FLOAT64, false).toDoubleArray();
    }
}

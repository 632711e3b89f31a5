package dev.loupe.display;

import java.util.Locale;

import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.FloatColumn;
import tech.tablesaw.api.NumericColumn;
import tech.tablesaw.api.Table;
import tech.tablesaw.columns.Column;

/**
 * How a Tablesaw {@link Table} shows: an HTML table of its first {@value #MAX_ROWS} rows (and at most
 * {@value #MAX_COLUMNS} columns), every header and cell escaped, numbers right-aligned, then a line saying how
 * many rows were left out. The text is the table's own {@code print()}. A single {@link Column} shows as a
 * one-column table.
 */
public final class TableView {

    public static final int MAX_ROWS = 50;
    public static final int MAX_COLUMNS = 40;
    static final int MAX_CELL_CHARS = 200;

    private TableView() {}

    public static MimeBundle bundle(Table t) {
        return MimeBundle.text(t.print()).withHtml(html(t));
    }

    public static MimeBundle bundle(Column<?> c) {
        Table t = Table.create(c.name(), c);
        return MimeBundle.text(t.print()).withHtml(html(t));
    }

    static String html(Table t) {
        int rows = t.rowCount();
        int cols = t.columnCount();
        int shownRows = Math.min(rows, MAX_ROWS);
        int shownCols = Math.min(cols, MAX_COLUMNS);
        StringBuilder h = new StringBuilder("<div style=\"").append(Html.FONT).append("\">");
        h.append("<div><b>Table</b>");
        if (t.name() != null && !t.name().isEmpty()) {
            h.append(" ").append(Html.escape(t.name()));
        }
        h.append(" <span style=\"").append(Html.MUTED).append("\">")
                .append(String.format(Locale.ROOT, "%,d rows × %,d columns", rows, cols)).append("</span></div>");
        h.append("<table style=\"").append(Html.TABLE).append("\"><thead><tr>");
        for (int c = 0; c < shownCols; c++) {
            Column<?> col = t.column(c);
            boolean numeric = col instanceof NumericColumn<?>;
            h.append("<th style=\"").append(Html.TH).append(numeric ? "text-align:right;" : "").append("\" title=\"")
                    .append(Html.escape(col.type().name().toLowerCase(Locale.ROOT))).append("\">")
                    .append(Html.escape(col.name())).append("</th>");
        }
        if (shownCols < cols) {
            h.append("<th style=\"").append(Html.TH).append(Html.MUTED).append("\">…</th>");
        }
        h.append("</tr></thead><tbody>");
        for (int r = 0; r < shownRows; r++) {
            h.append("<tr>");
            for (int c = 0; c < shownCols; c++) {
                Column<?> col = t.column(c);
                boolean numeric = col instanceof NumericColumn<?>;
                String full = col.isMissing(r) ? "" : col.getString(r);
                String cell = fractional(col) && !col.isMissing(r) ? shortNumber(((NumericColumn<?>) col).getDouble(r)) : full;
                if (cell.length() > MAX_CELL_CHARS) {
                    cell = cell.substring(0, MAX_CELL_CHARS) + "…";
                }
                h.append("<td style=\"").append(numeric ? Html.TD_NUM : Html.TD).append("white-space:pre;\"")
                        .append(cell.equals(full) ? "" : " title=\"" + Html.escape(full) + "\"").append(">")
                        .append(Html.escape(cell)).append("</td>");
            }
            if (shownCols < cols) {
                h.append("<td style=\"").append(Html.TD).append("\"></td>");
            }
            h.append("</tr>");
        }
        h.append("</tbody></table>");
        if (shownRows < rows || shownCols < cols) {
            h.append("<div style=\"").append(Html.MUTED).append("\">");
            if (shownRows < rows) {
                h.append(String.format(Locale.ROOT, "… %,d more rows", rows - shownRows));
            }
            if (shownCols < cols) {
                h.append(shownRows < rows ? "; " : "… ")
                        .append(String.format(Locale.ROOT, "%,d more columns", cols - shownCols));
            }
            h.append("</div>");
        }
        return h.append("</div>").toString();
    }

    private static boolean fractional(Column<?> col) {
        return col instanceof DoubleColumn || col instanceof FloatColumn;
    }

    /** Four significant digits, as a reader compares them (0.1235, -3.2e-5, 1.235e6); the cell's title has them all. */
    static String shortNumber(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return Long.toString((long) v);
        }
        if (!Double.isFinite(v)) {
            return Double.toString(v);
        }
        String g = String.format(Locale.ROOT, "%.4g", v);
        int e = g.indexOf('e');
        String mantissa = e < 0 ? g : g.substring(0, e);
        if (mantissa.contains(".")) {
            mantissa = mantissa.replaceAll("0+$", "").replaceAll("\\.$", "");
        }
        return e < 0 ? mantissa : mantissa + g.substring(e).replace("e+0", "e").replace("e-0", "e-").replace("e+", "e");
    }
}

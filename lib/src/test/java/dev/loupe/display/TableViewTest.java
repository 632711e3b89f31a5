package dev.loupe.display;

import ai.djl.ndarray.types.Shape;

import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TableViewTest {

    private static int count(String s, String what) {
        Matcher m = Pattern.compile(Pattern.quote(what)).matcher(s);
        int n = 0;
        while (m.find()) {
            n++;
        }
        return n;
    }

    private static String body(String html) {
        return html.substring(html.indexOf("<tbody>"), html.indexOf("</tbody>"));
    }

    @Test
    void aLongTableShowsItsFirstFiftyRowsAndSaysHowManyMore() {
        int n = 120;
        String[] tokens = new String[n];
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            tokens[i] = i == 0 ? "<|endoftext|>" : "tok" + i;
            ids[i] = i;
        }
        Table t = Table.create("tokens & ids", StringColumn.create("token", tokens), IntColumn.create("id", ids));
        MimeBundle b = Display.bundleOf(t);
        assertEquals(t.print(), b.text());
        String html = b.data().get(MimeBundle.HTML);
        assertEquals(50, count(body(html), "<tr>"));
        assertEquals(100, count(body(html), "<td"));
        assertTrue(html.contains("… 70 more rows"), html);
        assertTrue(html.contains("&lt;|endoftext|&gt;"), html);
        assertTrue(html.contains("tokens &amp; ids"), html);
        assertFalse(html.contains("<|endoftext|>"), html);
        assertTrue(html.contains(">tok49<") && !html.contains(">tok50<"), "rows 0..49 only");
    }

    @Test
    void aShortTableShowsEveryRowAndNoMoreLine() {
        Table t = Table.create("t", DoubleColumn.create("x", 1.5, 2.5, 3.5));
        String html = Display.bundleOf(t).data().get(MimeBundle.HTML);
        assertEquals(3, count(body(html), "<tr>"));
        assertFalse(html.contains("more rows"));
        assertTrue(html.contains("text-align:right"), "numbers are right-aligned");
    }

    @Test
    void fractionsShowFourSignificantDigitsWithEveryDigitOnHover() {
        assertEquals("0.1235", TableView.shortNumber(0.12345678901234));
        assertEquals("-3.2e-5", TableView.shortNumber(-0.000032));
        assertEquals("1.235e6", TableView.shortNumber(1234567.8));
        assertEquals("0.5", TableView.shortNumber(0.5));
        assertEquals("3", TableView.shortNumber(3.0));
        assertEquals("NaN", TableView.shortNumber(Double.NaN));
        String html = TableView.bundle(Table.create("t", DoubleColumn.create("value", 0.12345678901234)))
                .data().get(MimeBundle.HTML);
        assertTrue(html.contains("title=\"0.12345678901234\">0.1235</td>"), html);
    }

    @Test
    void aColumnShowsAsAOneColumnTable() {
        MimeBundle b = Display.bundleOf(StringColumn.create("s", "a", "<b>"));
        String html = b.data().get(MimeBundle.HTML);
        assertEquals(2, count(body(html), "<tr>"));
        assertTrue(html.contains("&lt;b&gt;"));
        assertTrue(b.text().contains("<b>"));
    }

    @Test
    void tablesFromAMapAndFromLabelledArrays() {
        Map<String, Double> m = new LinkedHashMap<>();
        m.put(" Mary", 3.5);
        m.put(" John", -1.25);
        Table fromMap = Tables.fromMap(m);
        assertEquals(List.of("name", "value"), fromMap.columnNames());
        assertEquals(" John", fromMap.stringColumn("name").get(1));
        assertEquals(-1.25, fromMap.doubleColumn("value").get(1));

        record Row(String head, int layer, double effect) {}
        Table rows = Tables.of(List.of(new Row("1.3", 1, -0.899), new Row("2.1", 2, -0.053)));
        assertEquals(List.of("head", "layer", "effect"), rows.columnNames());
        assertEquals("2.1", rows.stringColumn("head").get(1));
        assertEquals(-0.899, rows.doubleColumn("effect").get(0));
        assertEquals(2.0, rows.doubleColumn("layer").get(1));
        Table oneD = Tables.fromArray(Tensors.ofFloats(new float[] {0.5f, 2f}, new Shape(2)), List.of("a", "b"));
        assertEquals(2.0, oneD.doubleColumn("value").get(1));

        // [layer, pos] with layer names and tokens
        Table twoD = Tables.fromArray(Tensors.ofFloats(new float[] {1, 2, 3, 4, 5, 6}, new Shape(2, 3)),
                List.of("L0", "L1"), List.of("<|endoftext|>", " When", " John"));
        // Tablesaw trims names; token spaces stay visible as ␣ so " the" and "the" stay apart
        assertEquals(List.of("row", "<|endoftext|>", "␣When", "␣John"), twoD.columnNames());
        assertEquals(6.0, twoD.doubleColumn("␣John").get(1));
        assertEquals(2.0, twoD.doubleColumn("␣When").get(0));
        assertEquals(List.of("row", "the", "␣the"), Tables.fromArray(Tensors.ofFloats(new float[] {1, 2}, new Shape(1, 2)),
                List.of("r"), List.of("the", " the")).columnNames());

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Tables.fromArray(Tensors.ofFloats(new float[] {1, 2, 3}, new Shape(3)), List.of("a", "b")));
        assertTrue(e.getMessage().contains("[2]") && e.getMessage().contains("[3]"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Tables.fromArray(
                Tensors.ofFloats(new float[] {1, 2}, new Shape(1, 2)), List.of("r"), List.of(" the", " the")));
        assertTrue(e.getMessage().contains("\" the\" appears twice"), e.getMessage());
    }
}

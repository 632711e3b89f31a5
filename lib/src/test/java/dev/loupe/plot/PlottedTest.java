package dev.loupe.plot;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;

import dev.loupe.display.MimeBundle;
import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import javax.xml.parsers.DocumentBuilderFactory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Heatmaps, facets, lines, scatter and bar: the plotly figures their HTML carries, and their XChart PNG and SVG. */
class PlottedTest {

    /** A stand-in for plotly.js, so the figures' HTML is the interactive kind whatever this build bundles. */
    private static final String LIBRARY = "/*plotly.js*/";

    static List<PlotlySpec.Panel> spec(Plotted f) {
        return PlotlySpec.parse(f.html(f.png(), LIBRARY, false));
    }

    /** Pixels of exactly this colour: how many, and their mean x and y. */
    static double[] where(BufferedImage img, int rgb) {
        double n = 0;
        double sx = 0;
        double sy = 0;
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = 0; x < img.getWidth(); x++) {
                if ((img.getRGB(x, y) & 0xffffff) == rgb) {
                    n++;
                    sx += x;
                    sy += y;
                }
            }
        }
        return new double[] {n, sx / n, sy / n};
    }

    @Test
    void heatmapCarriesItsValuesOnAScaleCentredAtZero() {
        double[][] g = {{1, -2, 0}, {0.5, -0.5, Double.NaN}};
        Heatmap h = Plot.heatmap(g, List.of("r0", "r1"), List.of(" the", " cat", " the")).title("signed").axes("layer", "pos");
        List<PlotlySpec.Panel> panels = spec(h);
        assertEquals(1, panels.size());
        PlotlySpec.Panel p = panels.get(0);
        JsonObject t = p.merged(0);
        assertEquals("heatmap", t.get("type").getAsString());
        JsonArray z = t.getAsJsonArray("z");
        assertEquals(2, z.size());
        assertArrayEquals(g[0], PlotlySpec.doubles(z.get(0)));
        assertTrue(Double.isNaN(PlotlySpec.doubles(z.get(1))[2]), "NaN stays a gap");
        // Symmetric limits put 0 at the middle of the scale, and the middle colour is white.
        double zmin = t.get("zmin").getAsDouble();
        double zmax = t.get("zmax").getAsDouble();
        assertEquals(-2, zmin);
        assertEquals(2, zmax);
        JsonArray scale = t.getAsJsonArray("colorscale");
        assertEquals(0.5, (0 - zmin) / (zmax - zmin));
        assertEquals("[0.5,\"#ffffff\"]", scale.get(5).toString());
        assertEquals("[0.0,\"#053061\"]", scale.get(0).toString(), "RdBu's darkest blue");
        assertEquals("[1.0,\"#67001f\"]", scale.get(10).toString(), "RdBu's darkest red");
        // Repeated tokens stay separate columns: numeric x with the tokens as tick labels; row 0 on top.
        JsonObject xaxis = p.layout().getAsJsonObject("xaxis");
        assertEquals("linear", xaxis.get("type").getAsString());
        assertEquals(List.of(" the", " cat", " the"), PlotlySpec.strings(xaxis.get("ticktext")));
        assertArrayEquals(new double[] {0, 1, 2}, PlotlySpec.doubles(xaxis.get("tickvals")));
        assertEquals("reversed", p.layout().getAsJsonObject("yaxis").get("autorange").getAsString());
        assertEquals(List.of("layer r0", "layer r1"), PlotlySpec.strings(p.extra().get("rows")));
        assertEquals(List.of("pos  the", "pos  cat", "pos  the"), PlotlySpec.strings(p.extra().get("cols")));
        assertEquals("signed", p.extraLayout().getAsJsonObject("title").get("text").getAsString());
        assertEquals("pos", p.extraLayout().getAsJsonObject("xaxis").getAsJsonObject("title").get("text").getAsString());
        assertTrue(h.text().startsWith("Heatmap \"signed\" [2 x 3] -2 .. 1"));
    }

    @Test
    void oneSignedHeatmapsUseViridis() {
        JsonObject t = spec(Plot.heatmap(new double[][] {{0, 3}}, List.of("a"), List.of("x", "y"))).get(0).merged(0);
        assertEquals(0, t.get("zmin").getAsDouble());
        assertEquals(3, t.get("zmax").getAsDouble());
        assertEquals("[0.0,\"#440154\"]", t.getAsJsonArray("colorscale").get(0).toString());
        assertEquals("[1.0,\"#fde725\"]", t.getAsJsonArray("colorscale").get(10).toString());
    }

    @Test
    void heatmapPngShowsTheScaleEndsWithRowZeroOnTop() throws Exception {
        double[][] g = {{2, 0.3}, {-0.4, -2}};
        Heatmap h = Plot.heatmap(g, List.of("r0", "r1"), List.of("c0", "c1"));
        MimeBundle b = h.mimeBundle();
        BufferedImage img = PlotTest.decode(b.data().get(MimeBundle.PNG));
        assertEquals(h.width(), img.getWidth());
        assertEquals(h.height(), img.getHeight());
        double[] red = where(img, 0x67001f);
        double[] blue = where(img, 0x053061);
        double cellArea = h.cell * h.cell;
        assertTrue(red[0] > cellArea / 2, "the largest value in RdBu's darkest red: " + red[0] + " px");
        assertTrue(blue[0] > cellArea / 2, "the smallest in its darkest blue: " + blue[0] + " px");
        assertTrue(red[1] < blue[1] && red[2] < blue[2], "row 0, column 0 is up and left of row 1, column 1");
    }

    @Test
    void labelsAndTitlesAreTextNotMarkup() {
        NDArray a = Tensors.ofFloats(new float[] {1, 2, 3, 4}, new Shape(2, 2));
        Heatmap h = Plot.heatmap(a, List.of("</script><script>x", "a&b"), List.of("\"q\"", "<|endoftext|>")).title("<b>\"t\" & 'u'");
        String html = h.html(h.png(), LIBRARY, false);
        assertFalse(html.contains("</script><script>x"), "no label closes the script");
        assertFalse(html.contains("<|endoftext|>"));
        PlotlySpec.Panel p = PlotlySpec.parse(html).get(0);
        // plotly reads labels as HTML-like markup and turns &lt; &gt; &amp; back into text.
        assertEquals(List.of("&lt;/script&gt;&lt;script&gt;x", "a&amp;b"),
                PlotlySpec.strings(p.layout().getAsJsonObject("yaxis").get("ticktext")));
        assertEquals(List.of("\"q\"", "&lt;|endoftext|&gt;"), PlotlySpec.strings(p.layout().getAsJsonObject("xaxis").get("ticktext")));
        assertEquals("&lt;b&gt;\"t\" &amp; 'u'", p.extraLayout().getAsJsonObject("title").get("text").getAsString());
    }

    @Test
    void facetsShareOneScaleAndOneColourBar() {
        Heatmap a = Plot.heatmap(new double[][] {{1, 2}}, List.of("a"), List.of("x", "y")).title("clean");
        Heatmap b = Plot.heatmap(new double[][] {{-4, 0}}, List.of("b"), List.of("x", "y")).title("corrupted");
        Heatmap.Facets f = Plot.facets(List.of(a, b), true);
        assertTrue(f.text().contains("shared scale -4 .. 4"));
        List<PlotlySpec.Panel> panels = spec(f);
        assertEquals(2, panels.size());
        for (PlotlySpec.Panel p : panels) {
            assertEquals(-4, p.merged(0).get("zmin").getAsDouble());
            assertEquals(4, p.merged(0).get("zmax").getAsDouble());
        }
        assertFalse(panels.get(0).merged(0).get("showscale").getAsBoolean());
        assertTrue(panels.get(1).merged(0).get("showscale").getAsBoolean());
        assertArrayEquals(new double[] {-4, 0}, PlotlySpec.doubles(panels.get(1).trace(0).getAsJsonArray("z").get(0)));
        assertEquals(a.width() + b.width(), f.image().getWidth());
        // Without sharing each keeps its own scale.
        Heatmap c = Plot.heatmap(new double[][] {{1, 2}}, List.of("a"), List.of("x", "y"));
        Plot.facets(List.of(c, Plot.heatmap(new double[][] {{-4, 0}}, List.of("b"), List.of("x", "y"))), false);
        assertEquals(1, c.scale().lo());
    }

    @Test
    void linesKeepEverySeriesWithLogAxesAndHover() {
        double[] x = {0.001, 0.01, 0.1, 1, 10, 100};
        double[] y = {1, 2, 4, 8, 16, 32};
        double[] y2 = {-1, 0, 1, 2, 3, 4};
        Chart lines = Plot.lines(new Chart.Series("a", x, y), new Chart.Series("b <c>", x, y2)).title("t").axes("lr", "loss")
                .logX().logY();
        PlotlySpec.Panel p = spec(lines).get(0);
        assertEquals("log", p.layout().getAsJsonObject("xaxis").get("type").getAsString());
        assertEquals("log", p.layout().getAsJsonObject("yaxis").get("type").getAsString());
        JsonObject a = p.merged(0);
        assertEquals("lines", a.get("mode").getAsString());
        assertArrayEquals(x, PlotlySpec.doubles(a.get("x")));
        assertArrayEquals(y, PlotlySpec.doubles(a.get("y")));
        JsonObject b = p.merged(1);
        assertArrayEquals(new double[] {1, 2, 3, 4}, PlotlySpec.doubles(b.get("y")), "non-positive values left out on a log axis");
        assertArrayEquals(new double[] {0.1, 1, 10, 100}, PlotlySpec.doubles(b.get("x")));
        assertEquals("b &lt;c&gt;", b.get("name").getAsString());
        assertTrue(b.get("hovertemplate").getAsString().startsWith("b &lt;c&gt;: lr %{x"), b.get("hovertemplate").getAsString());
        assertEquals("Line plot \"t\": 2 series, 12 points, log x, log y", lines.text());
        BufferedImage img = lines.image();
        assertTrue(where(img, Chart.PALETTE[0])[0] > 50 && where(img, Chart.PALETTE[1])[0] > 50, "both series drawn");
    }

    @Test
    void scatterAndBarCarryTheirPoints() {
        Random r = new Random(1);
        double[] sx = new double[30];
        double[] sy = new double[30];
        for (int i = 0; i < sx.length; i++) {
            sx[i] = r.nextGaussian();
            sy[i] = r.nextGaussian();
        }
        JsonObject s = spec(Plot.scatter(sx, sy)).get(0).merged(0);
        assertEquals("markers", s.get("mode").getAsString());
        assertArrayEquals(sx, PlotlySpec.doubles(s.get("x")));
        assertArrayEquals(sy, PlotlySpec.doubles(s.get("y")));

        Chart bar = Plot.bar(List.of("up", "down", "up"), new double[] {2, -1, 0.5});
        PlotlySpec.Panel p = spec(bar).get(0);
        JsonObject t = p.merged(0);
        assertEquals("bar", t.get("type").getAsString());
        assertArrayEquals(new double[] {2, -1, 0.5}, PlotlySpec.doubles(t.get("y")));
        assertEquals(List.of("#b2182b", "#2166ac", "#b2182b"), PlotlySpec.strings(t.getAsJsonObject("marker").get("color")),
                "positive red, negative blue");
        assertEquals(List.of("up", "down", "up"), PlotlySpec.strings(t.get("text")), "hover names each bar");
        assertEquals(List.of("up", "down", "up"), PlotlySpec.strings(p.layout().getAsJsonObject("xaxis").get("ticktext")),
                "a repeated label stays its own bar");
        BufferedImage img = bar.image();
        assertTrue(where(img, Chart.POSITIVE)[0] > 100 && where(img, Chart.NEGATIVE)[0] > 100);
    }

    @Test
    void topTokensRankByProbability() {
        NDArray logits = Tensors.ofFloats(new float[] {0, 3, 1, 2}, new Shape(4));
        JsonObject t = spec(Plot.topTokens(logits, 2, id -> "t" + id)).get(0).merged(0);
        assertEquals(List.of("t1 (1)", "t3 (3)"), PlotlySpec.strings(t.get("text")));
        double z = 1 + Math.exp(3) + Math.exp(1) + Math.exp(2);
        assertArrayEquals(new double[] {Math.exp(3) / z, Math.exp(2) / z}, PlotlySpec.doubles(t.get("y")), 1e-12);
    }

    @Test
    void notebookOutputsCarryPlotlyOncePerSessionAndSavedPagesAlways() {
        Heatmap h = Plot.heatmap(new double[][] {{1, -1}}, List.of("r"), List.of("a", "b"));
        byte[] png = h.png();
        PlotlyJs.resetSession();
        String first = h.html(png, LIBRARY, true);
        String second = h.html(png, LIBRARY, true);
        assertTrue(first.contains(LIBRARY) && !second.contains(LIBRARY));
        assertTrue(first.indexOf(LIBRARY) < first.indexOf("class=\"loupe-plotly\""), "the library comes before the figure");
        assertTrue(first.contains("if(window.Plotly)return;var d=window.define;window.define=undefined;try{"),
                "require.js's define is hidden while plotly.js runs");
        assertTrue(first.contains("}finally{window.define=d;}"), "and put back");
        assertTrue(h.html(png, LIBRARY, false).contains(LIBRARY), "a saved page carries it every time");
        assertTrue(second.contains("window.Plotly"), "later outputs wait for the library");
        assertTrue(second.contains("src=\"data:image/png;base64,"), "the PNG is the base");
    }

    @Test
    void aNotebookOutputCarriesItsPngOnceAsImagePng() {
        Chart c = Plot.lines(new double[] {1, 2, 3}).title("t");
        MimeBundle b = c.mimeBundle();
        assertTrue(b.data().containsKey(MimeBundle.PNG));
        if (PlotlyJs.source() != null) {
            assertFalse(b.data().get(MimeBundle.HTML).contains("data:image/png"), "the HTML does not repeat the PNG");
        }
    }

    @Test
    void markersAreLinesNotSeriesAndTitlesFit() {
        Chart c = Plot.lines(new double[] {1, 2, 3}).marker(1, "a boundary").marker(2, "another");
        assertEquals(1, c.series().size());
        assertEquals(2, c.markers().size());
        assertTrue(c.text().contains("1 series, 3 points, 2 markers"), c.text());
        String js = c.views().get(0).call("d");
        assertTrue(js.contains("\"shapes\"") && js.contains("a boundary"), "plotly draws them as shapes with annotations");
        String longTitle = "a title much longer than the figure would be wide at its usual size of five hundred and sixty pixels";
        Heatmap h = Plot.heatmap(new double[][] {{1, 2}}, List.of("r"), List.of("a", "b")).title(longTitle);
        assertTrue(h.width() >= Static.titleWidth(longTitle));
        assertTrue(Plot.lines(new double[] {1, 2}).title(longTitle).width() >= Static.titleWidth(longTitle));
    }

    @Test
    void everyBarKeepsItsLabelAndANarrowLogRangeIsDrawnLinear() {
        Chart bars = Plot.bar(java.util.stream.IntStream.range(0, 57).mapToObj(i -> "" + i).toList(), new double[57]);
        assertTrue(bars.width() >= 80 + 12 * 57);
        assertTrue(Plot.lines(new double[] {10, 20, 30}).logY().text().contains("log y (the PNG's linear: values within 10×)"));
        assertTrue(Plot.lines(new double[] {1, 20, 300}).logY().text().endsWith("log y"));
    }

    @Test
    void withoutPlotlyTheHtmlIsThePngAndSaysWhy() {
        Chart c = Plot.lines(new double[] {1, 2, 3});
        byte[] png = c.png();
        String html = c.html(png, null, true);
        assertFalse(html.contains("<script"));
        assertTrue(html.contains(Figure.dataUri(png)));
        assertTrue(html.contains("this build has no plotly.js"));
    }

    @Test
    void figuresWithNothingToDrawStillRender() throws Exception {
        List<Plotted> empty = List.of(Plot.heatmap(new double[][] {{Double.NaN}}, List.of("a"), List.of("b")),
                Plot.bar(List.of(), new double[0]), Plot.lines(new double[] {0, -1}).logY(), Plot.lines(new double[0]));
        for (Plotted f : empty) {
            BufferedImage img = PlotTest.decode(f.mimeBundle().data().get(MimeBundle.PNG));
            assertEquals(f.width(), img.getWidth(), f.text());
            assertEquals(1, spec(f).size(), f.text());
        }
    }

    @Test
    void svgIsWellFormedXml() throws Exception {
        for (Plotted f : List.<Plotted>of(Plot.heatmap(new double[][] {{1, -1}}, List.of("<r>"), List.of("a&b", "b")),
                Plot.lines(new double[] {1, 2, 3}).logY(), Plot.bar(List.of("x"), new double[] {1}))) {
            String svg = f.svg();
            var doc = DocumentBuilderFactory.newInstance().newDocumentBuilder()
                    .parse(new ByteArrayInputStream(svg.getBytes(StandardCharsets.UTF_8)));
            assertEquals("svg", doc.getDocumentElement().getNodeName());
        }
    }

    @Test
    void largeHeatmapsArePooledToTheirLargestMagnitudes() {
        int rows = 768;
        int cols = 3072;
        double[][] g = new double[rows][cols];
        Random r = new Random(3);
        for (double[] row : g) {
            for (int c = 0; c < cols; c++) {
                row[c] = r.nextGaussian();
            }
        }
        g[9][17] = -40; // a spike in block (1, 2) when blocks are 8 x 8
        Heatmap h = Plot.heatmap(g, numbers(rows), numbers(cols));
        PlotlySpec.Panel p = spec(h).get(0);
        JsonArray z = p.trace(0).getAsJsonArray("z");
        int f = (int) Math.ceil(Math.sqrt((double) rows * cols / Heatmap.MAX_CELLS));
        assertEquals(8, f);
        assertEquals(rows / f, z.size());
        assertTrue((long) z.size() * z.get(0).getAsJsonArray().size() <= Heatmap.MAX_CELLS);
        assertEquals(-40, PlotlySpec.doubles(z.get(1))[2], "the spike survives");
        // Block (5, 7) against a plain scan of its 64 cells.
        double best = 0;
        for (int i = 40; i < 48; i++) {
            for (int j = 56; j < 64; j++) {
                best = Math.abs(g[i][j]) > Math.abs(best) ? g[i][j] : best;
            }
        }
        assertEquals(best, PlotlySpec.doubles(z.get(5))[7]);
        assertEquals("0 … 7", PlotlySpec.strings(p.layout().getAsJsonObject("yaxis").get("ticktext")).get(0));
        String html = h.html(h.png(), LIBRARY, false);
        assertTrue(html.length() < 3_000_000, "html is " + html.length());
    }

    @Test
    void longLineSeriesAreDecimatedKeepingTheirExtremes() {
        double[] y = new double[200_000];
        for (int i = 0; i < y.length; i++) {
            y[i] = Math.sin(i / 100.0);
        }
        y[123_456] = 50;
        y[7] = -50;
        JsonObject t = spec(Plot.lines(y)).get(0).merged(0);
        double[] ys = PlotlySpec.doubles(t.get("y"));
        double[] xs = PlotlySpec.doubles(t.get("x"));
        assertTrue(ys.length <= 4 * Chart.COLUMNS, ys.length + " points");
        double max = Double.NEGATIVE_INFINITY;
        double min = Double.POSITIVE_INFINITY;
        for (double v : ys) {
            max = Math.max(max, v);
            min = Math.min(min, v);
        }
        assertEquals(50, max);
        assertEquals(-50, min);
        assertEquals(0, xs[0]);
        assertEquals(199_999, xs[xs.length - 1], "first and last points kept");
        for (int i = 1; i < xs.length; i++) {
            assertTrue(xs[i] > xs[i - 1], "order kept");
        }
    }

    @Test
    void analysisResultsRenderThroughTheHeatmap() {
        var scores = new dev.loupe.circuits.HeadScores("induction",
                Tensors.ofFloats(new float[] {0.1f, -0.2f, 0.9f, 0f}, new Shape(2, 2)));
        PlotlySpec.Panel p = spec(Plot.heatmap(scores)).get(0);
        assertEquals(List.of("layer 0", "layer 1"), PlotlySpec.strings(p.extra().get("rows")));
        assertEquals(List.of("head H0", "head H1"), PlotlySpec.strings(p.extra().get("cols")));
        assertArrayEquals(new double[] {0.9, 0}, PlotlySpec.doubles(p.trace(0).getAsJsonArray("z").get(1)), 1e-7);
        var table = scores.toTable();
        assertEquals(List.of(0, 0, 1, 1), table.intColumn("layer").asList());
        assertEquals(List.of(0, 1, 0, 1), table.intColumn("head").asList());
        assertArrayEquals(new double[] {0.1, -0.2, 0.9, 0}, table.doubleColumn("induction").asDoubleArray(), 1e-7);

        float[] v = new float[16];
        v[(1 * 2 + 0) * 4 + 1 * 2 + 1] = 0.7f; // L1H0 -> L1H1
        var comp = new dev.loupe.circuits.CompositionScores(dev.loupe.circuits.Circuits.Mode.values()[0],
                Tensors.ofFloats(v, new Shape(2, 2, 2, 2)));
        PlotlySpec.Panel c = spec(Plot.heatmap(comp)).get(0);
        assertEquals("earlier head L1H0", PlotlySpec.strings(c.extra().get("rows")).get(2));
        assertEquals(0.7, PlotlySpec.doubles(c.trace(0).getAsJsonArray("z").get(2))[3], 1e-7);

        var result = new dev.loupe.patching.PatchingResult("logit diff",
                Tensors.ofFloats(new float[] {1, -1, 0.5f, 0}, new Shape(2, 2)), List.of("layer", "pos"),
                List.of(List.of("0", "1"), List.of("0: <a>", "1: b")));
        String html = result.mimeBundle().data().get(MimeBundle.HTML);
        assertTrue(html.contains("class=\"loupe-plotly\""), "the heatmap");
        assertTrue(html.contains("<table"), "then its table");
    }

    private static List<String> numbers(int n) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(Integer.toString(i));
        }
        return out;
    }
}

package dev.loupe.plot;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.display.MimeBundle;
import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import javax.imageio.ImageIO;

import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.StringColumn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PlotTest {

    static BufferedImage decode(String base64) throws Exception {
        return ImageIO.read(new ByteArrayInputStream(Base64.getDecoder().decode(base64)));
    }

    static int red(int rgb) {
        return (rgb >> 16) & 0xff;
    }

    static int green(int rgb) {
        return (rgb >> 8) & 0xff;
    }

    static int blue(int rgb) {
        return rgb & 0xff;
    }

    /** Softmaxed causal attention [layers * heads, n, n] (rows sum to 1, zero above the diagonal). */
    static float[] causalPatterns(int count, int n, long seed) {
        Random r = new Random(seed);
        float[] v = new float[count * n * n];
        for (int m = 0; m < count; m++) {
            for (int q = 0; q < n; q++) {
                double sum = 0;
                double[] e = new double[q + 1];
                for (int k = 0; k <= q; k++) {
                    e[k] = Math.exp(3 * r.nextGaussian());
                    sum += e[k];
                }
                for (int k = 0; k <= q; k++) {
                    v[(m * n + q) * n + k] = (float) (e[k] / sum);
                }
            }
        }
        return v;
    }

    static List<String> tokens(int n) {
        List<String> t = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            t.add(i == 0 ? "<|endoftext|>" : i % 7 == 3 ? " \"a&b\"" : " tok" + i);
        }
        return t;
    }

    static String attr(String html, String name) {
        Matcher m = Pattern.compile(name + "=\"([^\"]*)\"").matcher(html);
        assertTrue(m.find(), name + " in the HTML");
        return m.group(1);
    }

    @Test
    void attentionDataDecodesBackWithinQuantisationError() {
        int heads = 3;
        int n = 9;
        float[] v = causalPatterns(heads, n, 1);
        NDArray p = Tensors.ofFloats(v, new Shape(1, heads, n, n));
        AttentionView att = Plot.attention(p, tokens(n));
        assertTrue(att.causal());
        String html = att.html();
        byte[] data = Base64.getDecoder().decode(attr(html, "data-pattern"));
        assertEquals(heads * n * (n + 1) / 2, data.length, "causal: lower triangle only");
        int i = 0;
        for (int h = 0; h < heads; h++) {
            for (int q = 0; q < n; q++) {
                for (int k = 0; k <= q; k++) {
                    double decoded = (data[i++] & 0xff) / 255.0;
                    assertEquals(v[(h * n + q) * n + k], decoded, 1 / 255.0);
                }
            }
        }
        // A non-causal pattern sends every entry.
        float[] full = new float[2 * 4 * 4];
        Random r = new Random(2);
        for (int j = 0; j < full.length; j++) {
            full[j] = r.nextFloat();
        }
        AttentionView nc = Plot.attention(Tensors.ofFloats(full, new Shape(2, 4, 4)), tokens(4));
        assertFalse(nc.causal());
        byte[] d2 = Base64.getDecoder().decode(attr(nc.html(), "data-pattern"));
        assertEquals(full.length, d2.length);
        for (int j = 0; j < full.length; j++) {
            assertEquals(full[j], (d2[j] & 0xff) / 255.0, 1 / 255.0);
        }
    }

    @Test
    void attentionHtmlIsScopedEscapedAndDegradesToThePng() throws Exception {
        AttentionView att = Plot.attention(Tensors.ofFloats(causalPatterns(2, 8, 3), new Shape(2, 8, 8)), tokens(8));
        MimeBundle b = att.mimeBundle();
        String html = b.data().get(MimeBundle.HTML);
        assertFalse(html.contains("<|endoftext|>"), "tokens are escaped");
        assertTrue(html.contains("\\u003c|endoftext|\\u003e"), "tokens travel as JSON with < escaped");
        assertTrue(html.contains(dev.loupe.display.Html.escape(AttentionView.json(" \"a&b\""))) && !html.contains("\"a&b"), "JSON quotes escaped in the attribute");
        assertFalse(html.contains("define(") || html.contains("require("), "no AMD");
        String id = attr(html, "id");
        assertTrue(html.contains("getElementById(\"" + id + "\")"), "script finds its own output by id");
        assertFalse(html.contains("data:image/png"), "the notebook output carries its PNG once, as image/png");
        assertTrue(att.html().contains("class=\"loupe-attn-static\" alt="), "a saved page's PNG is the base");
        assertTrue(html.contains("class=\"loupe-attn-live\" style=\"display:none\""), "live view hidden until JS runs");
        String id2 = attr(att.html(), "id");
        assertFalse(id.equals(id2), "each output gets its own id");
        BufferedImage img = decode(b.data().get(MimeBundle.PNG));
        assertEquals(att.image().getWidth(), img.getWidth());
        assertEquals("Attention layer 0, 2 heads over 8 tokens", b.text());
        // One head, enlarged: its PNG has a dark cell where the pattern is 1.
        float[] one = new float[4 * 4];
        for (int q = 0; q < 4; q++) {
            one[q * 4] = 1;
        }
        AttentionView head = Plot.attentionHead(Tensors.ofFloats(one, new Shape(1, 4, 4)), 0, List.of("a", "b", "c", "d"));
        assertTrue(head.text().startsWith("Attention head L0H0"));
        assertEquals(0x08306b, AttentionView.rgb(1));
        assertEquals(0xffffff, AttentionView.rgb(0));
    }

    @Test
    void allLayersTwelveByTwelveOverHundredTokensStaysSmall() {
        int layers = 12;
        int heads = 12;
        int n = 100;
        List<NDArray> patterns = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            patterns.add(Tensors.ofFloats(causalPatterns(heads, n, l), new Shape(1, heads, n, n)));
        }
        AttentionView att = Plot.attentionAllLayers(patterns, tokens(n));
        MimeBundle b = att.mimeBundle();
        long size = b.data().values().stream().mapToLong(String::length).sum();
        assertTrue(size < 3_000_000, "bundle is " + size + " chars");
        assertEquals("Attention 12 layers x 12 heads over 100 tokens", b.text());
    }

    @Test
    void arraysAndColumnsPlotAsTheirValuesWhereverDoubleArraysDo() {
        NDArray row = Tensors.ofFloats(new float[] {1, -2, 3}, new Shape(1, 3)); // float32 [1, 3], as a cache slice comes
        assertArrayEquals(new double[] {1, -2, 3}, Plot.lines(row).series().get(0).y());
        assertArrayEquals(new double[] {0, 1, 2}, Plot.lines(row).series().get(0).x());
        assertArrayEquals(new double[] {1, -2, 3}, Plot.bar(List.of("a", "b", "c"), row.toType(DataType.INT64, false)).series().get(0).y());
        Chart.Series points = Plot.scatter(row, row.neg()).series().get(0);
        assertArrayEquals(new double[] {-1, 2, -3}, points.y());
        DoubleColumn loss = DoubleColumn.create("loss", 0.5, 0.25);
        Chart fromColumns = Plot.bar(StringColumn.create("step", "10", "20"), loss);
        assertArrayEquals(new double[] {0.5, 0.25}, fromColumns.series().get(0).y());
        assertArrayEquals(new double[] {0.5, 0.25}, Plot.lines(loss).series().get(0).y());
        assertEquals(Plot.coloredTokens(List.of("a", "b", "c"), new double[] {1, -2, 3}).text(),
                Plot.coloredTokens(List.of("a", "b", "c"), row).text());
        assertTrue(Plot.lines(row).toString().endsWith("(in a console: .save(Path.of(\"figure.png\")) writes it; .svg and .html too)"),
                "a console says how to see a figure");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Plot.lines(Tensors.ofFloats(new float[6], new Shape(2, 3))));
        assertTrue(e.getMessage().contains("Plot.lines takes one row of values: a 1-D array, got shape (2, 3)") && e.getMessage().contains("Plot.heatmap"), e.getMessage());
    }

    @Test
    void colouredTokensAreRedForPositiveAndBlueForNegative() throws Exception {
        Tokens t = Plot.coloredTokens(List.of(" up", " down", "<zero>"), new double[] {2, -2, 0});
        String html = t.html();
        assertTrue(html.contains("background:#67001f"), "largest positive darkest red");
        assertTrue(html.contains("background:#053061"), "largest negative darkest blue");
        assertTrue(html.contains("background:#ffffff"), "zero white");
        assertTrue(html.contains("title=\"0: 2\""));
        assertTrue(html.contains("&lt;zero&gt;"));
        BufferedImage img = decode(t.mimeBundle().data().get(MimeBundle.PNG));
        assertEquals(t.drawing().width, img.getWidth());
        int first = img.getRGB(6, 6) & 0xffffff;
        assertTrue(red(first) > blue(first) + 40, Integer.toHexString(first));
    }

    @Test
    void saveWritesEachFormatAtomically(@TempDir Path dir) throws Exception {
        Heatmap h = Plot.heatmap(new double[][] {{1, -1}}, List.of("r"), List.of("a", "b"));
        AttentionView att = Plot.attention(Tensors.ofFloats(causalPatterns(1, 3, 5), new Shape(1, 3, 3)), tokens(3));
        for (Figure f : List.<Figure>of(h, att)) {
            Path png = f.save(dir.resolve("sub/fig.png"));
            BufferedImage img = ImageIO.read(png.toFile());
            assertEquals(f.image().getWidth(), img.getWidth());
            String svg = Files.readString(f.save(dir.resolve("fig.svg")));
            assertTrue(svg.startsWith("<svg") && svg.endsWith("</svg>"));
            String html = Files.readString(f.save(dir.resolve("fig.html")), StandardCharsets.UTF_8);
            assertTrue(html.startsWith("<!DOCTYPE html>") && html.contains("<div"));
            f.save(dir.resolve("fig.html")); // replaces
        }
        try (Stream<Path> files = Files.walk(dir)) {
            assertFalse(files.anyMatch(p -> p.getFileName().toString().endsWith(".tmp")), "no temp files left");
        }
        assertThrows(IllegalArgumentException.class, () -> h.save(dir.resolve("fig.jpg")));
        assertFalse(Files.exists(dir.resolve("fig.jpg")));
    }

    @Test
    void attentionFromACacheMatchesItsPattern() {
        var model = dev.loupe.model.HookedTransformer.create(dev.loupe.model.ModelConfig.builder().nLayers(2).dModel(16)
                .nHeads(2).dVocab(20).nCtx(16).build(), 0);
        try (var cache = model.runWithCache(model.toTokens(new int[] {1, 2, 3, 4, 5}))) {
            List<String> t = List.of("a", "b", "c", "d", "e");
            AttentionView one = Plot.attention(cache, 1, t);
            float[] p = cache.get("pattern", 1).toFloatArray();
            for (int h = 0; h < 2; h++) {
                for (int q = 0; q < 5; q++) {
                    for (int k = 0; k < 5; k++) {
                        assertEquals(p[(h * 5 + q) * 5 + k], one.get(0, h, q, k), 0);
                    }
                }
            }
            assertTrue(one.causal());
            AttentionView all = Plot.attentionAllLayers(cache, t);
            assertEquals("Attention 2 layers x 2 heads over 5 tokens", all.text());
            assertEquals(p[7], all.get(1, 0, 1, 2), 0);
            assertEquals("Attention head L1H1 over 5 tokens", Plot.attentionHead(cache, 1, 1, t).text());
            assertThrows(IllegalArgumentException.class, () -> Plot.attention(cache, 0, List.of("a")));
        }
    }
}

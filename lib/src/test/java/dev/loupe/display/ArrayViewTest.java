package dev.loupe.display;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.ByteArrayInputStream;
import java.awt.image.BufferedImage;
import java.util.Base64;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.imageio.ImageIO;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ArrayViewTest {

    private static final Pattern SUMMARY = Pattern.compile("min (\\S+)  max (\\S+)  mean (\\S+)");

    private static float[] gaussian(int n, long seed, double scale, double shift) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (r.nextGaussian() * scale + shift);
        }
        return v;
    }

    private static BufferedImage png(MimeBundle b) throws Exception {
        String data = b.data().get(MimeBundle.PNG);
        assertNotNull(data, "no image/png in " + b.data().keySet());
        return ImageIO.read(new ByteArrayInputStream(Base64.getDecoder().decode(data)));
    }

    /** 37 × 53 is summarised in Java, 1100 × 1000 (past 2^20 elements) by the engine. */
    @ParameterizedTest
    @CsvSource({"37, 53", "1100, 1000"})
    void summaryNumbersAgreeWithPlainLoops(int rows, int cols) {
        float[] v = gaussian(rows * cols, 7, 2.5, 0.3);
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        double sum = 0;
        for (float x : v) {
            min = Math.min(min, x);
            max = Math.max(max, x);
            sum += x;
        }
        double mean = sum / v.length;

        NDArray a = Tensors.ofFloats(v, new Shape(rows, cols));
        ArrayView.Stats s = ArrayView.stats(a);
        assertEquals(v.length, s.count());
        assertEquals(0, s.nanCount());
        assertEquals(min, s.min(), 0);
        assertEquals(max, s.max(), 0);
        assertEquals(mean, s.mean(), 1e-5);

        MimeBundle b = Display.bundleOf(a);
        String first = b.text().lines().findFirst().orElseThrow();
        assertTrue(first.startsWith("NDArray float32 [" + rows + ", " + cols + "]"), first);
        Matcher m = SUMMARY.matcher(first);
        assertTrue(m.find(), first);
        // the text shows about four significant digits of each
        assertEquals(min, Double.parseDouble(m.group(1)), Math.abs(min) * 1e-3);
        assertEquals(max, Double.parseDouble(m.group(2)), Math.abs(max) * 1e-3);
        assertEquals(mean, Double.parseDouble(m.group(3)), Math.abs(mean) * 1e-3);
        assertTrue(b.data().containsKey(MimeBundle.HTML));
    }

    @ParameterizedTest
    @CsvSource({"500", "1200000"})
    void nanIsLeftOutOfTheStatisticsAndCounted(int size) {
        float[] v = gaussian(size, 3, 1, 0);
        int nans = 0;
        for (int i = 0; i < v.length; i += 7) {
            v[i] = Float.NaN;
            nans++;
        }
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        double sum = 0;
        int n = 0;
        for (float x : v) {
            if (!Float.isNaN(x)) {
                min = Math.min(min, x);
                max = Math.max(max, x);
                sum += x;
                n++;
            }
        }
        ArrayView.Stats s = ArrayView.stats(Tensors.ofFloats(v, new Shape(v.length)));
        assertEquals(nans, s.nanCount());
        assertEquals(n, s.count());
        assertEquals(min, s.min(), 0);
        assertEquals(max, s.max(), 0);
        assertEquals(sum / n, s.mean(), 1e-5);
        assertTrue(Display.bundleOf(Tensors.ofFloats(v, new Shape(v.length))).text().contains("nan " + nans));
    }

    @Test
    void integerArraysShowExactRangeAndValuesWithoutAPlot() {
        long[] ids = {50256, 2215, 1757, 290, 5335};
        long sum = 0;
        for (long id : ids) {
            sum += id;
        }
        NDArray tokens = Tensors.ofLongs(ids, new Shape(1, ids.length));
        MimeBundle b = Display.bundleOf(tokens);
        assertEquals("NDArray int64 [1, 5]  min 290  max 50256  mean " + Charts.shortNumber(sum / 5.0) + "\n"
                + "[[50256,  2215,  1757,   290,  5335]]", b.text());
        assertNull(b.data().get(MimeBundle.PNG));
    }

    @Test
    void smallArraysPrintEveryValueAsPyTorchDoes() {
        // torch.tensor([[1., 2., 3.], [4., 5., 6.]]) prints [[1., 2., 3.], [4., 5., 6.]] on two lines
        NDArray a = Tensors.ofFloats(new float[] {1, 2, 3, 4, 5, 6}, new Shape(2, 3));
        assertEquals("[[1., 2., 3.],\n [4., 5., 6.]]", ArrayView.values(a));
        // torch.tensor([0.5, -0.25]) prints [ 0.5000, -0.2500]
        assertEquals("[ 0.5000, -0.2500]", ArrayView.values(Tensors.ofFloats(new float[] {0.5f, -0.25f}, new Shape(2))));
        // mixed magnitudes switch to scientific notation
        assertEquals("[1.0000e-06, 3.0000e+00]", ArrayView.values(Tensors.ofFloats(new float[] {1e-6f, 3f}, new Shape(2))));
        // 3-D blocks are separated by a blank line
        NDArray c = Tensors.ofFloats(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, new Shape(2, 2, 2));
        assertEquals("[[[1., 2.],\n  [3., 4.]],\n\n [[5., 6.],\n  [7., 8.]]]", ArrayView.values(c));
    }

    @ParameterizedTest
    @CsvSource({"1000, 1000", "1100, 1000"})
    void largeArraysAreSummarisedNeverDumped(int rows, int cols) {
        float[] v = gaussian(rows * cols, 11, 1, 0);
        NDArray a = Tensors.ofFloats(v, new Shape(rows, cols));
        MimeBundle b = Display.bundleOf(a);
        String[] lines = b.text().split("\n");
        assertTrue(b.text().length() < 1500, "text is " + b.text().length() + " chars");
        assertEquals(1 + 7, lines.length, b.text()); // the summary, 3 rows, "...", 3 rows
        assertTrue(lines[1].startsWith(String.format("[[%7.4f, %7.4f, %7.4f, ...,", v[0], v[1], v[2])), lines[1]);
        assertTrue(lines[1].endsWith(String.format("%7.4f],", v[cols - 1])), lines[1]);
        assertEquals(" ...,", lines[4]);
        assertTrue(lines[7].endsWith(String.format("%7.4f]]", v[rows * cols - 1])), lines[7]);
        int totalBytes = b.data().values().stream().mapToInt(String::length).sum();
        assertTrue(totalBytes < 200_000, "bundle is " + totalBytes + " chars");
    }

    @Test
    void aClosedArrayRendersAsClosed() {
        NDArray a = Tensors.ofFloats(new float[] {1, 2, 3}, new Shape(3));
        a.close();
        MimeBundle b = Display.bundleOf(a);
        assertEquals("NDArray (closed)", b.text());
        assertTrue(b.data().get(MimeBundle.HTML).contains("closed"));
    }

    @Test
    void emptyAndScalarArrays() {
        assertEquals("NDArray float32 [0, 3] (empty)",
                Display.bundleOf(Tensors.manager().zeros(new Shape(0, 3))).text());
        assertEquals("NDArray float32 []  3.5000", Display.bundleOf(Tensors.manager().create(3.5f)).text());
        assertEquals("NDArray boolean [3]  true 2 of 3\n[ True, False,  True]",
                Display.bundleOf(Tensors.manager().create(new boolean[] {true, false, true})).text());
    }

    @Test
    void namesAreEscapedInHtml() {
        NDArray a = Tensors.ofFloats(new float[] {1, 2, 3}, new Shape(3));
        a.setName("<|endoftext|> & \"x\"");
        String html = Display.bundleOf(a).data().get(MimeBundle.HTML);
        assertTrue(html.contains("&lt;|endoftext|&gt; &amp; &quot;x&quot;"), html);
        assertFalse(html.contains("<|endoftext|>"), html);
    }

    @Test
    void oneDimensionalArraysGetALinePlotEvenWithSizeOneAxes() throws Exception {
        NDArray a = Tensors.ofFloats(gaussian(50_257, 5, 1, 0), new Shape(1, 1, 50_257));
        MimeBundle b = Display.bundleOf(a);
        BufferedImage img = png(b);
        assertEquals(Charts.WIDTH, img.getWidth());
        assertEquals(Charts.HEIGHT, img.getHeight());
        String html = b.data().get(MimeBundle.HTML);
        assertTrue(html.contains("<img") && html.contains("data:image/png;base64,"), html);
        assertFalse(html.contains("<script"), html);
    }

    @Test
    void higherRanksAndFloat64AndHalfPrecision() {
        NDArray pattern = Tensors.ofFloats(gaussian(2 * 3 * 4 * 4, 1, 1, 0), new Shape(1, 2, 3, 4, 4));
        MimeBundle b = Display.bundleOf(pattern);
        assertNull(b.data().get(MimeBundle.PNG));
        assertTrue(b.text().startsWith("NDArray float32 [1, 2, 3, 4, 4]"));

        double[] d = {-1.5, 0.25, 2};
        MimeBundle f64 = Display.bundleOf(Tensors.ofDoubles(d, new Shape(3)));
        assertTrue(f64.text().startsWith("NDArray float64 [3]  min -1.5  max 2  mean 0.25"), f64.text());

        NDArray half = Tensors.ofFloats(new float[] {1, -2, 0.5f, 4}, new Shape(2, 2)).toType(DataType.FLOAT16, false);
        MimeBundle h = Display.bundleOf(half);
        assertTrue(h.text().startsWith("NDArray float16 [2, 2]  min -2  max 4  mean 0.875"), h.text());
        assertNotNull(h.data().get(MimeBundle.PNG));
    }

    @Test
    void aFourDimensionalPatternPrintsItsFirstMatrixNotAWallOfNumbers() {
        float[] v = new float[1 * 4 * 20 * 20];
        for (int i = 0; i < v.length; i++) {
            v[i] = i;
        }
        MimeBundle b = Display.bundleOf(Tensors.ofFloats(v, new Shape(1, 4, 20, 20)));
        String text = b.text();
        assertTrue(text.contains("corner [0, 0, :6, :6]:\n[[  0.,   1.,   2.,   3.,   4.,   5.],\n [ 20.,"), text);
        assertTrue(text.contains(" 105.]]"), "the corner ends at row 5, column 5: " + text);
        assertFalse(text.contains(" 6.,") || text.contains("400."), "nothing past the corner: " + text);
        assertEquals(8, text.lines().count(), text);
        assertTrue(b.data().get(MimeBundle.HTML).contains("1599."), "the HTML view keeps every matrix, abbreviated");
    }
}

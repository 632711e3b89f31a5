package dev.loupe.display;

import ai.djl.ndarray.types.Shape;

import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

import javax.imageio.ImageIO;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HeatmapTest {

    private static BufferedImage decode(MimeBundle b) throws Exception {
        return ImageIO.read(new ByteArrayInputStream(Base64.getDecoder().decode(b.data().get(MimeBundle.PNG))));
    }

    private static boolean red(int rgb) {
        int r = (rgb >> 16) & 0xff, g = (rgb >> 8) & 0xff, b = rgb & 0xff;
        return r > 90 && r > g + 60 && r > b + 50;
    }

    private static boolean blue(int rgb) {
        int r = (rgb >> 16) & 0xff, g = (rgb >> 8) & 0xff, b = rgb & 0xff;
        return b > 80 && b > r + 60;
    }

    private static boolean nearWhite(int rgb) {
        int r = (rgb >> 16) & 0xff, g = (rgb >> 8) & 0xff, b = rgb & 0xff;
        return r >= 235 && g >= 235 && b >= 235;
    }

    /** Runs of one kind of colour along a row of pixels: "R" red, "B" blue, "W" near white, "-" other. */
    private static List<int[]> runs(BufferedImage img, int y) {
        List<int[]> runs = new ArrayList<>(); // {kind, start, length}
        for (int x = 0; x < img.getWidth(); x++) {
            int rgb = img.getRGB(x, y) & 0xffffff;
            int kind = red(rgb) ? 'R' : blue(rgb) ? 'B' : nearWhite(rgb) ? 'W' : '-';
            if (!runs.isEmpty() && runs.get(runs.size() - 1)[0] == kind) {
                runs.get(runs.size() - 1)[2]++;
            } else {
                runs.add(new int[] {kind, x, 1});
            }
        }
        return runs;
    }

    private static String longRuns(List<int[]> runs, int minLength) {
        StringBuilder s = new StringBuilder();
        for (int[] r : runs) {
            if (r[2] >= minLength) {
                s.append((char) r[0]);
            }
        }
        return s.toString();
    }

    @Test
    void positiveIsRedNegativeIsBlueAndZeroIsWhite() throws Exception {
        // three vertical bands: +5 | 0 | -5
        int rows = 24;
        int cols = 30;
        float[] v = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                v[r * cols + c] = c < 10 ? 5f : c < 20 ? 0f : -5f;
            }
        }
        MimeBundle b = Display.bundleOf(Tensors.ofFloats(v, new Shape(rows, cols)));
        BufferedImage img = decode(b);
        assertEquals(Charts.WIDTH, img.getWidth());
        assertEquals(Charts.HEIGHT, img.getHeight());
        // Along the middle row, the plot reads red, white, blue, each band a third of the plot wide
        // (the colour bar on the right is too narrow to count).
        List<int[]> runs = runs(img, img.getHeight() / 2);
        assertEquals("RWB", longRuns(runs, 40), "runs along the middle row: " + longRuns(runs, 1));
    }

    @Test
    void oneSignedValuesUseASequentialScaleFromDarkToYellow() throws Exception {
        // left half 0, right half 1 (like attention probabilities): viridis, dark purple to yellow
        float[] v = new float[20 * 20];
        for (int i = 0; i < v.length; i++) {
            v[i] = i % 20 < 10 ? 0f : 1f;
        }
        BufferedImage img = decode(Display.bundleOf(Tensors.ofFloats(v, new Shape(20, 20))));
        int y = img.getHeight() / 2;
        List<int[]> wide = new ArrayList<>(); // runs of one exact colour: {rgb, start, length}
        for (int x = 0; x < img.getWidth(); x++) {
            int rgb = img.getRGB(x, y) & 0xffffff;
            if (!wide.isEmpty() && wide.get(wide.size() - 1)[0] == rgb) {
                wide.get(wide.size() - 1)[2]++;
            } else {
                wide.add(new int[] {rgb, x, 1});
            }
        }
        wide.removeIf(r -> r[2] < 40);
        assertEquals(2, wide.size(), "expected two bands");
        int low = img.getRGB(wide.get(0)[1] + 5, y);
        int high = img.getRGB(wide.get(1)[1] + 5, y);
        assertTrue(((low >> 16) & 0xff) + ((low >> 8) & 0xff) + (low & 0xff) < 250, Integer.toHexString(low));
        assertTrue(((high >> 16) & 0xff) > 200 && ((high >> 8) & 0xff) > 200 && (high & 0xff) < 100,
                Integer.toHexString(high));
    }

    /** 2000 × 1500 goes through the engine's pooling, 900 × 1000 through Java's. */
    @ParameterizedTest
    @CsvSource({"2000, 1500, 13 × 8", "900, 1000, 6 × 5"})
    void downsamplingKeepsALoneOutlier(int rows, int cols, String block) throws Exception {
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = ((i * 2654435761L) % 1000) / 1e5f - 0.005f; // small, both signs
        }
        v[(rows * 5 / 8) * cols + 777] = -100f;
        MimeBundle b = Display.bundleOf(Tensors.ofFloats(v, new Shape(rows, cols)));
        BufferedImage img = decode(b);
        int darkBlue = 0;
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = 0; x < img.getWidth() - 60; x++) { // leave out the colour bar
                int rgb = img.getRGB(x, y) & 0xffffff;
                if (((rgb >> 16) & 0xff) < 40 && ((rgb >> 8) & 0xff) < 80 && (rgb & 0xff) > 70) {
                    darkBlue++;
                }
            }
        }
        assertTrue(darkBlue > 0, "the outlier vanished in downsampling");
        assertTrue(b.data().get(MimeBundle.HTML).contains("largest-magnitude value of a " + block + " block"),
                b.data().get(MimeBundle.HTML));
    }

    @Test
    void scaleColours() {
        ColorScale s = ColorScale.forRange(-2, 1);
        assertTrue(s.diverging());
        assertEquals(-2, s.lo());
        assertEquals(2, s.hi());
        assertEquals(0xffffff, s.rgb(0));
        assertTrue(red(s.rgb(1.9)) && blue(s.rgb(-1.9)));
        assertEquals(ColorScale.NAN, s.rgb(Double.NaN));
        assertTrue(!ColorScale.forRange(0, 1).diverging());
    }
}

package dev.loupe.display;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Line2D;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.awt.image.IndexColorModel;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Iterator;
import java.util.Locale;

import javax.imageio.ImageIO;
import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;

/**
 * Small static PNG plots drawn with Java2D: a heatmap of a grid of values with a colour bar, and a line plot of a
 * sequence. They are what notebooks show where no HTML runs (GitHub's viewer), and what the HTML views embed. The
 * plots are 320 × 200 pixels by default and take a few milliseconds.
 */
public final class Charts {

    public static final int WIDTH = 320;
    public static final int HEIGHT = 200;

    private static final Color INK = new Color(0x333333);
    private static final Color GRID = new Color(0xcccccc);
    private static final Color LINE = new Color(0x1f77b4);
    private static final Font FONT = new Font(Font.SANS_SERIF, Font.PLAIN, 10);

    /**
     * The images are 8-bit indexed, which keeps PNGs small: a palette of {@value #LEVELS} steps of the colour
     * scale (an odd number, so a diverging scale has its white middle), white, ramps from white to the ink and
     * line colours for antialiased text and strokes, the frame's grey, and the NaN grey.
     */
    static final int LEVELS = 191;
    private static final int RAMP = 31;
    private static final IndexColorModel LINE_PALETTE = palette(null);

    private Charts() {}

    /**
     * A heatmap of {@code grid[row][col]}, row 0 at the top, coloured by {@code scale}, with a colour bar.
     * {@code rows} and {@code cols} are the sizes of the data the grid stands for (larger than the grid when
     * it was downsampled); they label the axes. A grid with more cells than the plot has pixels is reduced by
     * showing, per pixel, the value of largest magnitude it covers (NaN wins, so gaps stay visible).
     */
    public static byte[] heatmapPng(double[][] grid, long rows, long cols, ColorScale scale, int width, int height) {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_BYTE_INDEXED, palette(scale));
        Graphics2D g = start(img);
        FontMetrics fm = g.getFontMetrics();
        String topLabel = "0";
        String bottomLabel = String.valueOf(rows - 1);
        int left = 6 + Math.max(fm.stringWidth(topLabel), fm.stringWidth(bottomLabel));
        String hiLabel = shortNumber(scale.hi());
        String loLabel = shortNumber(scale.lo());
        int barWidth = 10;
        int right = 6 + barWidth + 4 + Math.max(fm.stringWidth(hiLabel), fm.stringWidth(loLabel)) + 4;
        int top = 6;
        int bottom = fm.getHeight() + 4;
        int pw = Math.max(1, width - left - right);
        int ph = Math.max(1, height - top - bottom);

        int gr = grid.length;
        int gc = gr == 0 ? 0 : grid[0].length;
        byte[] pixels = ((DataBufferByte) img.getRaster().getDataBuffer()).getData();
        if (gr > 0 && gc > 0) {
            // Pixel x covers grid columns [c0[x], c1[x]); with more cells than pixels a pixel shows the value of
            // largest magnitude among those it covers, so a lone outlier is never skipped.
            int[] c0 = new int[pw];
            int[] c1 = new int[pw];
            for (int x = 0; x < pw; x++) {
                c0[x] = (int) ((long) x * gc / pw);
                c1[x] = Math.max(c0[x] + 1, (int) ((long) (x + 1) * gc / pw));
            }
            for (int y = 0; y < ph; y++) {
                int r0 = (int) ((long) y * gr / ph);
                int r1 = Math.max(r0 + 1, (int) ((long) (y + 1) * gr / ph));
                int base = (top + y) * width + left;
                for (int x = 0; x < pw; x++) {
                    double v = grid[r0][c0[x]];
                    for (int r = r0; r < r1; r++) {
                        for (int c = c0[x]; c < c1[x]; c++) {
                            double w = grid[r][c];
                            if (Math.abs(w) > Math.abs(v) || Double.isNaN(w)) {
                                v = w;
                            }
                        }
                    }
                    pixels[base + x] = levelIndex(scale, v);
                }
            }
        }
        g.setColor(GRID);
        g.drawRect(left - 1, top - 1, pw + 1, ph + 1);

        // colour bar, highest value at the top
        int bx = left + pw + 6;
        for (int y = 0; y < ph; y++) {
            byte index = (byte) Math.round((1 - (double) y / Math.max(1, ph - 1)) * (LEVELS - 1));
            int base = (top + y) * width + bx;
            for (int x = 0; x < barWidth; x++) {
                pixels[base + x] = index;
            }
        }
        g.drawRect(bx - 1, top - 1, barWidth + 1, ph + 1);

        g.setColor(INK);
        int ascent = fm.getAscent();
        // row labels: first row at the top, last at the bottom
        g.drawString(topLabel, left - 4 - fm.stringWidth(topLabel), top + ascent);
        if (rows > 1) {
            g.drawString(bottomLabel, left - 4 - fm.stringWidth(bottomLabel), top + ph);
        }
        // column labels
        int ly = top + ph + 2 + ascent;
        g.drawString("0", left, ly);
        if (cols > 1) {
            String last = String.valueOf(cols - 1);
            g.drawString(last, left + pw - fm.stringWidth(last), ly);
        }
        // colour bar labels
        int tx = bx + barWidth + 4;
        g.drawString(hiLabel, tx, top + ascent);
        g.drawString(loLabel, tx, top + ph);
        if (scale.diverging()) {
            g.drawString("0", tx, top + ph / 2 + ascent / 2);
        }
        g.dispose();
        return png(img);
    }

    /**
     * A line plot of a sequence of {@code n} values, given per drawn point as a range: {@code lo[i] == hi[i]}
     * for exact values, or the smallest and largest of a bucket of consecutive values when the sequence was
     * longer than the plot is wide (then each bucket is drawn as a vertical stroke, so no peak is lost).
     */
    public static byte[] linePng(double[] lo, double[] hi, long n, double min, double max, int width, int height) {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_BYTE_INDEXED, LINE_PALETTE);
        Graphics2D g = start(img);
        FontMetrics fm = g.getFontMetrics();
        if (!(max > min)) { // constant (or no finite values): centre the line
            double pad = Double.isFinite(min) && min != 0 ? Math.abs(min) * 0.1 : 1;
            min = Double.isFinite(min) ? min - pad : -1;
            max = Double.isFinite(max) ? max + pad : 1;
        }
        String maxLabel = shortNumber(max);
        String minLabel = shortNumber(min);
        int left = 8 + Math.max(fm.stringWidth(maxLabel), fm.stringWidth(minLabel));
        int right = 10;
        int top = 8;
        int bottom = fm.getHeight() + 6;
        int pw = Math.max(2, width - left - right);
        int ph = Math.max(2, height - top - bottom);
        double dataMin = min;
        double dataMax = max;
        double padding = (max - min) * 0.04; // keep the extremes off the frame
        double span = max - min + 2 * padding;
        double yMin = min - padding;
        java.util.function.DoubleUnaryOperator yOf = v -> top + (1 - (v - yMin) / span) * (ph - 1);

        g.setColor(GRID);
        g.drawRect(left, top, pw - 1, ph - 1);
        if (dataMin < 0 && dataMax > 0) {
            float y0 = (float) yOf.applyAsDouble(0);
            g.setStroke(new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {3f, 3f}, 0f));
            g.draw(new Line2D.Float(left, y0, left + pw - 1, y0));
            g.setStroke(new BasicStroke(1f));
        }

        int m = lo.length;
        g.setColor(LINE);
        g.setStroke(new BasicStroke(1.3f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
        double dx = m > 1 ? (pw - 1.0) / (m - 1) : 0;
        boolean exact = true;
        for (int i = 0; i < m; i++) {
            exact &= lo[i] == hi[i] || (Double.isNaN(lo[i]) && Double.isNaN(hi[i]));
        }
        for (int i = 0; i < m; i++) {
            double x = m > 1 ? left + i * dx : left + (pw - 1) / 2.0;
            if (Double.isNaN(lo[i]) || Double.isNaN(hi[i])) {
                continue;
            }
            double a = clampY(yOf.applyAsDouble(hi[i]), top, ph);
            double b = clampY(yOf.applyAsDouble(lo[i]), top, ph);
            if (exact) {
                if (i + 1 < m && !Double.isNaN(lo[i + 1])) {
                    double next = clampY(yOf.applyAsDouble(lo[i + 1]), top, ph);
                    g.draw(new Line2D.Double(x, a, x + dx, next));
                }
                if (m <= 64) {
                    g.fill(new java.awt.geom.Ellipse2D.Double(x - 1.8, a - 1.8, 3.6, 3.6));
                }
            } else {
                // join to the previous bucket so the trace stays connected
                if (i > 0 && !Double.isNaN(lo[i - 1])) {
                    a = Math.min(a, clampY(yOf.applyAsDouble(lo[i - 1]), top, ph));
                    b = Math.max(b, clampY(yOf.applyAsDouble(hi[i - 1]), top, ph));
                }
                g.draw(new Line2D.Double(x, a, x, b));
            }
        }

        g.setColor(INK);
        int ascent = fm.getAscent();
        int yMax = (int) Math.round(yOf.applyAsDouble(dataMax));
        int yLow = (int) Math.round(yOf.applyAsDouble(dataMin));
        g.drawString(maxLabel, left - 4 - fm.stringWidth(maxLabel), yMax + ascent / 2);
        g.drawString(minLabel, left - 4 - fm.stringWidth(minLabel), yLow + ascent / 2);
        if (dataMin < 0 && dataMax > 0) {
            int y0 = (int) Math.round(yOf.applyAsDouble(0));
            if (y0 - yMax > fm.getHeight() && yLow - y0 > fm.getHeight()) {
                g.drawString("0", left - 4 - fm.stringWidth("0"), y0 + ascent / 2);
            }
        }
        int ly = top + ph + 3 + ascent;
        g.drawString("0", left, ly);
        if (n > 1) {
            String last = String.valueOf(n - 1);
            g.drawString(last, left + pw - fm.stringWidth(last), ly);
        }
        g.dispose();
        return png(img);
    }

    /** The palette index of a value: its step of the scale, or the NaN grey. */
    static byte levelIndex(ColorScale scale, double v) {
        if (Double.isNaN(v)) {
            return (byte) 255;
        }
        double t = scale.hi() > scale.lo() ? (v - scale.lo()) / (scale.hi() - scale.lo()) : 0.5;
        return (byte) Math.round(Math.max(0, Math.min(1, t)) * (LEVELS - 1));
    }

    private static IndexColorModel palette(ColorScale scale) {
        byte[] r = new byte[256];
        byte[] g = new byte[256];
        byte[] b = new byte[256];
        for (int i = 0; i < 256; i++) {
            int rgb;
            if (i < LEVELS) {
                rgb = scale != null ? scale.rgbAt((double) i / (LEVELS - 1)) : 0xffffff;
            } else if (i == LEVELS) {
                rgb = 0xffffff;
            } else if (i <= LEVELS + 2 * RAMP) {
                int k = i - LEVELS - 1;
                int target = k < RAMP ? INK.getRGB() : LINE.getRGB();
                rgb = blend(0xffffff, target, (double) (k % RAMP + 1) / RAMP);
            } else {
                rgb = i == 255 ? ColorScale.NAN : GRID.getRGB();
            }
            r[i] = (byte) (rgb >> 16);
            g[i] = (byte) (rgb >> 8);
            b[i] = (byte) rgb;
        }
        return new IndexColorModel(8, 256, r, g, b);
    }

    private static int blend(int from, int to, double f) {
        int cr = (int) Math.round(((from >> 16) & 0xff) * (1 - f) + ((to >> 16) & 0xff) * f);
        int cg = (int) Math.round(((from >> 8) & 0xff) * (1 - f) + ((to >> 8) & 0xff) * f);
        int cb = (int) Math.round((from & 0xff) * (1 - f) + (to & 0xff) * f);
        return (cr << 16) | (cg << 8) | cb;
    }

    private static double clampY(double y, int top, int ph) {
        return Math.max(top, Math.min(top + ph - 1, y));
    }

    private static Graphics2D start(BufferedImage img) {
        Graphics2D g = img.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, img.getWidth(), img.getHeight());
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_STROKE_CONTROL, RenderingHints.VALUE_STROKE_PURE);
        g.setFont(FONT);
        return g;
    }

    /** PNG bytes, encoded in memory (ImageIO's default would go through a temporary file). */
    static byte[] png(BufferedImage img) {
        Iterator<ImageWriter> writers = ImageIO.getImageWritersByFormatName("png");
        ImageWriter writer = writers.next();
        ByteArrayOutputStream out = new ByteArrayOutputStream(16 * 1024);
        try (MemoryCacheImageOutputStream stream = new MemoryCacheImageOutputStream(out)) {
            writer.setOutput(stream);
            writer.write(img);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            writer.dispose();
        }
        return out.toByteArray();
    }

    /** A number in at most about 4 significant digits, for axis labels: 0.0123, 1.5, 2.3e+05. */
    static String shortNumber(double v) {
        if (Double.isNaN(v)) {
            return "nan";
        }
        if (Double.isInfinite(v)) {
            return v > 0 ? "inf" : "-inf";
        }
        if (v == 0) {
            return "0";
        }
        double a = Math.abs(v);
        if (a >= 1e-3 && a < 1e5) {
            String s = String.format(Locale.ROOT, "%.4g", v);
            if (s.contains("e")) {
                return s;
            }
            if (s.contains(".")) {
                s = s.replaceAll("0+$", "").replaceAll("\\.$", "");
            }
            return s;
        }
        return String.format(Locale.ROOT, "%.2e", v);
    }
}

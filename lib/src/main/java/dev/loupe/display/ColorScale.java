package dev.loupe.display;

/**
 * Colours for values. When the values have both signs the scale is diverging and centred at zero: blue for
 * negative, white for zero, red for positive, symmetric about zero (ColorBrewer's RdBu). When they have one sign
 * it is sequential from the smallest to the largest (viridis). NaN is grey.
 */
public final class ColorScale {

    /** RdBu, from -1 (dark blue) through 0 (white) to +1 (dark red). */
    private static final int[] DIVERGING = {
        0x053061, 0x2166ac, 0x4393c3, 0x92c5de, 0xd1e5f0, 0xffffff, 0xfddbc7, 0xf4a582, 0xd6604d, 0xb2182b, 0x67001f};
    /** viridis, from 0 (dark purple) to 1 (yellow). */
    private static final int[] SEQUENTIAL = {
        0x440154, 0x472d7b, 0x3b528b, 0x2c728e, 0x21918c, 0x28ae80, 0x5ec962, 0xaddc30, 0xfde725};
    static final int NAN = 0xbbbbbb;

    private final double lo;
    private final double hi;
    private final boolean diverging;

    private ColorScale(double lo, double hi, boolean diverging) {
        this.lo = lo;
        this.hi = hi;
        this.diverging = diverging;
    }

    /** The scale for values from min to max (finite; NaN or infinite bounds give a scale around 0). */
    public static ColorScale forRange(double min, double max) {
        if (!Double.isFinite(min) || !Double.isFinite(max)) {
            min = Double.isFinite(min) ? min : 0;
            max = Double.isFinite(max) ? max : 0;
        }
        if (min < 0 && max > 0) {
            double limit = Math.max(-min, max);
            return new ColorScale(-limit, limit, true);
        }
        return new ColorScale(min, max, false);
    }

    public boolean diverging() {
        return diverging;
    }

    /** The value drawn with the scale's first colour. */
    public double lo() {
        return lo;
    }

    /** The value drawn with the scale's last colour. */
    public double hi() {
        return hi;
    }

    /** The colour of a value, as 0xRRGGBB. */
    public int rgb(double v) {
        if (Double.isNaN(v)) {
            return NAN;
        }
        double t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
        return interpolate(diverging ? DIVERGING : SEQUENTIAL, Math.max(0, Math.min(1, t)));
    }

    /** The colour at a fraction t in [0, 1] along the scale. */
    int rgbAt(double t) {
        return interpolate(diverging ? DIVERGING : SEQUENTIAL, Math.max(0, Math.min(1, t)));
    }

    private static int interpolate(int[] anchors, double t) {
        double x = t * (anchors.length - 1);
        int i = Math.min((int) x, anchors.length - 2);
        double f = x - i;
        int a = anchors[i];
        int b = anchors[i + 1];
        int r = mix((a >> 16) & 0xff, (b >> 16) & 0xff, f);
        int g = mix((a >> 8) & 0xff, (b >> 8) & 0xff, f);
        int bl = mix(a & 0xff, b & 0xff, f);
        return (r << 16) | (g << 8) | bl;
    }

    private static int mix(int a, int b, double f) {
        return (int) Math.round(a + (b - a) * f);
    }

    /** The colour as CSS, {@code #rrggbb}. */
    static String css(int rgb) {
        return String.format("#%06x", rgb & 0xffffff);
    }
}

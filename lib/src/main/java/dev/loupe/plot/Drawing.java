package dev.loupe.plot;

import dev.loupe.display.Html;

import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A figure as a list of boxes and text, drawn once and rendered two ways: as SVG (each box with a hover
 * {@code <title>} where it has one) and as a Java2D PNG. It draws what XChart has no chart for (coloured tokens);
 * its font and text measure serve the other figures' layout too.
 */
final class Drawing {

    static final Font FONT = new Font(Font.SANS_SERIF, Font.PLAIN, 11);
    private static final FontMetrics METRICS = metrics(FONT);

    /** A font's measure, as drawn into the figures' images. */
    static FontMetrics metrics(Font font) {
        BufferedImage img = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        FontMetrics m = g.getFontMetrics(font);
        g.dispose();
        return m;
    }

    enum Anchor { START, MIDDLE, END }

    private interface Shape {}

    private record Rect(double x, double y, double w, double h, int rgb, String title) implements Shape {}

    private record Text(double x, double y, String s, double size, Anchor anchor, boolean vertical, int rgb, boolean bold)
            implements Shape {}

    final int width;
    final int height;
    private final List<Shape> shapes = new ArrayList<>();

    Drawing(int width, int height) {
        this.width = width;
        this.height = height;
    }

    static double textWidth(String s) {
        return METRICS.stringWidth(s);
    }

    Drawing rect(double x, double y, double w, double h, int rgb, String title) {
        shapes.add(new Rect(x, y, w, h, rgb, title));
        return this;
    }

    Drawing text(double x, double y, String s, Anchor anchor, boolean vertical) {
        return text(x, y, s, anchor, vertical, 0x333333, false);
    }

    Drawing text(double x, double y, String s, Anchor anchor, boolean vertical, int rgb, boolean bold) {
        shapes.add(new Text(x, y, s, FONT.getSize(), anchor, vertical, rgb, bold));
        return this;
    }

    // ---- SVG ----

    String svg() {
        StringBuilder b = new StringBuilder(shapes.size() * 80 + 200);
        b.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"").append(width).append("\" height=\"").append(height)
                .append("\" viewBox=\"0 0 ").append(width).append(' ').append(height)
                .append("\" font-family=\"sans-serif\" font-size=\"11\">")
                .append("<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>");
        for (Shape s : shapes) {
            if (s instanceof Rect r) {
                {
                    b.append("<rect x=\"").append(n(r.x)).append("\" y=\"").append(n(r.y)).append("\" width=\"")
                            .append(n(r.w)).append("\" height=\"").append(n(r.h)).append("\" fill=\"").append(hex(r.rgb))
                            .append('"');
                    close(b, "rect", r.title);
                }
            } else if (s instanceof Text t) {
                {
                    b.append("<text x=\"").append(n(t.x)).append("\" y=\"").append(n(t.y)).append("\" fill=\"")
                            .append(hex(t.rgb)).append('"');
                    if (t.anchor != Anchor.START) {
                        b.append(" text-anchor=\"").append(t.anchor == Anchor.MIDDLE ? "middle" : "end").append('"');
                    }
                    if (t.bold) {
                        b.append(" font-weight=\"bold\"");
                    }
                    if (t.vertical) {
                        b.append(" transform=\"rotate(-90 ").append(n(t.x)).append(' ').append(n(t.y)).append(")\"");
                    }
                    b.append(" xml:space=\"preserve\">").append(Html.escape(t.s)).append("</text>");
                }
            }
        }
        return b.append("</svg>").toString();
    }

    private static void close(StringBuilder b, String tag, String title) {
        if (title == null) {
            b.append("/>");
        } else {
            b.append("><title>").append(Html.escape(title)).append("</title></").append(tag).append('>');
        }
    }

    private static String n(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e9) {
            return Long.toString((long) v);
        }
        return String.format(Locale.ROOT, "%.2f", v);
    }

    static String hex(int rgb) {
        return String.format("#%06x", rgb & 0xffffff);
    }

    // ---- PNG ----

    BufferedImage image() {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, width, height);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setFont(FONT);
        Font bold = FONT.deriveFont(Font.BOLD);
        for (Shape s : shapes) {
            if (s instanceof Rect r) {
                {
                    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_OFF);
                    g.setColor(new Color(r.rgb));
                    // Snap to pixel edges so adjacent cells tile without seams.
                    int x0 = (int) Math.round(r.x);
                    int y0 = (int) Math.round(r.y);
                    g.fillRect(x0, y0, (int) Math.round(r.x + r.w) - x0, (int) Math.round(r.y + r.h) - y0);
                }
            } else if (s instanceof Text t) {
                {
                    g.setFont(t.bold ? bold : FONT);
                    g.setColor(new Color(t.rgb));
                    double w = g.getFontMetrics().stringWidth(t.s);
                    double off = t.anchor == Anchor.START ? 0 : t.anchor == Anchor.MIDDLE ? -w / 2 : -w;
                    if (t.vertical) {
                        AffineTransform saved = g.getTransform();
                        g.rotate(-Math.PI / 2, t.x, t.y);
                        g.drawString(t.s, (float) (t.x + off), (float) t.y);
                        g.setTransform(saved);
                    } else {
                        g.drawString(t.s, (float) (t.x + off), (float) t.y);
                    }
                }
            }
        }
        g.dispose();
        return img;
    }
}

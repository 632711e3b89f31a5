package dev.loupe.plot;

import dev.loupe.display.Html;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Line2D;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A figure as a list of shapes, drawn once and rendered two ways: as SVG (each shape with a hover
 * {@code <title>} where it has one) and as a Java2D PNG. Both renderings come from the same shapes, so the
 * static image and the interactive one show the same figure.
 */
final class Drawing {

    static final Font FONT = new Font(Font.SANS_SERIF, Font.PLAIN, 11);
    private static final FontMetrics METRICS;

    static {
        BufferedImage img = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        METRICS = g.getFontMetrics(FONT);
        g.dispose();
    }

    enum Anchor { START, MIDDLE, END }

    private interface Shape {}

    private record Rect(double x, double y, double w, double h, int rgb, String title) implements Shape {}

    private record Line(double x1, double y1, double x2, double y2, int rgb, double width) implements Shape {}

    private record Poly(double[] xs, double[] ys, int rgb, double width) implements Shape {}

    private record Circle(double cx, double cy, double r, int rgb, String title) implements Shape {}

    private record Raster(double x, double y, double w, double h, BufferedImage img, String title) implements Shape {}

    private record Text(double x, double y, String s, double size, Anchor anchor, boolean vertical, int rgb, boolean bold)
            implements Shape {}

    final int width;
    final int height;
    private final List<Shape> shapes = new ArrayList<>();
    private double dx;
    private double dy;

    Drawing(int width, int height) {
        this.width = width;
        this.height = height;
    }

    /** Shifts the shapes added from now on by (x, y): for drawing a facet into a larger figure. */
    Drawing origin(double x, double y) {
        dx = x;
        dy = y;
        return this;
    }

    static double textWidth(String s) {
        return METRICS.stringWidth(s);
    }

    Drawing rect(double x, double y, double w, double h, int rgb, String title) {
        shapes.add(new Rect(x + dx, y + dy, w, h, rgb, title));
        return this;
    }

    /** A bitmap scaled (nearest neighbour) into the box: for grids too large to draw cell by cell. */
    Drawing raster(double x, double y, double w, double h, BufferedImage img, String title) {
        shapes.add(new Raster(x + dx, y + dy, w, h, img, title));
        return this;
    }

    Drawing line(double x1, double y1, double x2, double y2, int rgb, double width) {
        shapes.add(new Line(x1 + dx, y1 + dy, x2 + dx, y2 + dy, rgb, width));
        return this;
    }

    Drawing polyline(double[] xs, double[] ys, int rgb, double width) {
        double[] x = xs.clone();
        double[] y = ys.clone();
        for (int i = 0; i < x.length; i++) {
            x[i] += dx;
            y[i] += dy;
        }
        shapes.add(new Poly(x, y, rgb, width));
        return this;
    }

    Drawing circle(double cx, double cy, double r, int rgb, String title) {
        shapes.add(new Circle(cx + dx, cy + dy, r, rgb, title));
        return this;
    }

    Drawing text(double x, double y, String s, Anchor anchor, boolean vertical) {
        return text(x, y, s, anchor, vertical, 0x333333, false);
    }

    Drawing text(double x, double y, String s, Anchor anchor, boolean vertical, int rgb, boolean bold) {
        shapes.add(new Text(x + dx, y + dy, s, FONT.getSize(), anchor, vertical, rgb, bold));
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
            } else if (s instanceof Raster r) {
                b.append("<image x=\"").append(n(r.x)).append("\" y=\"").append(n(r.y)).append("\" width=\"").append(n(r.w))
                        .append("\" height=\"").append(n(r.h)).append("\" preserveAspectRatio=\"none\"")
                        .append(" style=\"image-rendering:pixelated\" href=\"").append(Figure.dataUri(Figure.encodePng(r.img)))
                        .append('"');
                close(b, "image", r.title);
            } else if (s instanceof Line l) {
                b.append("<line x1=\"").append(n(l.x1)).append("\" y1=\"").append(n(l.y1))
                        .append("\" x2=\"").append(n(l.x2)).append("\" y2=\"").append(n(l.y2)).append("\" stroke=\"")
                        .append(hex(l.rgb)).append("\" stroke-width=\"").append(n(l.width)).append("\"/>");
            } else if (s instanceof Poly p) {
                {
                    b.append("<polyline fill=\"none\" stroke=\"").append(hex(p.rgb)).append("\" stroke-width=\"")
                            .append(n(p.width)).append("\" points=\"");
                    for (int i = 0; i < p.xs.length; i++) {
                        b.append(n(p.xs[i])).append(',').append(n(p.ys[i])).append(' ');
                    }
                    b.append("\"/>");
                }
            } else if (s instanceof Circle c) {
                {
                    b.append("<circle cx=\"").append(n(c.cx)).append("\" cy=\"").append(n(c.cy)).append("\" r=\"")
                            .append(n(c.r)).append("\" fill=\"").append(hex(c.rgb)).append('"');
                    close(b, "circle", c.title);
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
            } else if (s instanceof Raster r) {
                g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_NEAREST_NEIGHBOR);
                g.drawImage(r.img, (int) Math.round(r.x), (int) Math.round(r.y), (int) Math.round(r.w), (int) Math.round(r.h), null);
            } else if (s instanceof Line l) {
                {
                    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_OFF);
                    g.setColor(new Color(l.rgb));
                    g.setStroke(new BasicStroke((float) l.width));
                    g.draw(new Line2D.Double(l.x1, l.y1, l.x2, l.y2));
                }
            } else if (s instanceof Poly p) {
                {
                    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
                    g.setColor(new Color(p.rgb));
                    g.setStroke(new BasicStroke((float) p.width, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
                    Path2D.Double path = new Path2D.Double();
                    for (int i = 0; i < p.xs.length; i++) {
                        if (i == 0) {
                            path.moveTo(p.xs[i], p.ys[i]);
                        } else {
                            path.lineTo(p.xs[i], p.ys[i]);
                        }
                    }
                    g.draw(path);
                }
            } else if (s instanceof Circle c) {
                {
                    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
                    g.setColor(new Color(c.rgb));
                    g.fill(new Ellipse2D.Double(c.cx - c.r, c.cy - c.r, 2 * c.r, 2 * c.r));
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

package dev.loupe.plot;

import dev.loupe.display.Html;
import dev.loupe.display.MimeBundle;

import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Figures and lines of text laid out in rows, shown as one figure: a view made of several plots (a feature's top
 * contexts, its activation histogram and the tokens it promotes) that a notebook shows as one output and a static
 * viewer as one PNG. Each figure keeps its own interactivity in the HTML.
 */
public final class Panels extends Figure {

    private static final int GAP = 12;
    private static final int TEXT_H = 18;
    private static final int HEADING_H = 24;
    private static final Font HEADING_FONT = Drawing.FONT.deriveFont(Font.BOLD, 13f);

    /** A row: figures side by side, or one line of text. */
    private record Row(List<Figure> figures, String text, boolean heading) {}

    private final String title;
    private final List<Row> rows = new ArrayList<>();

    Panels(String title) {
        this.title = title == null ? "" : title;
        if (!this.title.isEmpty()) {
            rows.add(new Row(List.of(), this.title, true));
        }
    }

    /** A row of figures, side by side. */
    public Panels row(Figure... figures) {
        rows.add(new Row(List.of(figures), null, false));
        return this;
    }

    /** A line of text. */
    public Panels note(String text) {
        rows.add(new Row(List.of(), text, false));
        return this;
    }

    /** A line of bold text that starts a section. */
    public Panels heading(String text) {
        rows.add(new Row(List.of(), text, true));
        return this;
    }

    private static int height(Row row, List<BufferedImage> images) {
        if (row.text() != null) {
            return row.heading() ? HEADING_H : TEXT_H;
        }
        return images.stream().mapToInt(BufferedImage::getHeight).max().orElse(0) + GAP / 2;
    }

    @Override
    public BufferedImage image() {
        List<List<BufferedImage>> images = new ArrayList<>();
        int width = 0;
        int height = 4;
        for (Row row : rows) {
            List<BufferedImage> row1 = row.figures().stream().map(Figure::image).toList();
            images.add(row1);
            int w = row1.stream().mapToInt(BufferedImage::getWidth).sum() + GAP * Math.max(0, row1.size() - 1);
            if (row.text() != null) {
                w = (int) Drawing.metrics(row.heading() ? HEADING_FONT : Drawing.FONT).stringWidth(row.text()) + 16;
            }
            width = Math.max(width, w);
            height += height(row, row1);
        }
        BufferedImage img = new BufferedImage(Math.max(1, width), height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, img.getWidth(), img.getHeight());
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        int y = 4;
        for (int r = 0; r < rows.size(); r++) {
            Row row = rows.get(r);
            if (row.text() != null) {
                g.setFont(row.heading() ? HEADING_FONT : Drawing.FONT);
                g.setColor(new Color(row.heading() ? 0x111111 : 0x333333));
                g.drawString(row.text(), 8, y + (row.heading() ? 16 : 13));
            } else {
                int x = 0;
                for (BufferedImage part : images.get(r)) {
                    g.drawImage(part, x, y, null);
                    x += part.getWidth() + GAP;
                }
            }
            y += height(row, images.get(r));
        }
        g.dispose();
        return img;
    }

    @Override
    public String svg() {
        StringBuilder parts = new StringBuilder();
        int width = 0;
        int y = 4;
        for (Row row : rows) {
            if (row.text() != null) {
                parts.append("<text x=\"8\" y=\"").append(y + (row.heading() ? 16 : 13)).append('"')
                        .append(row.heading() ? " font-weight=\"bold\" font-size=\"13\"" : "").append(" xml:space=\"preserve\">")
                        .append(Html.escape(row.text())).append("</text>");
                y += row.heading() ? HEADING_H : TEXT_H;
                continue;
            }
            int x = 0;
            List<BufferedImage> images = new ArrayList<>();
            for (Figure f : row.figures()) {
                BufferedImage img = f.image();
                images.add(img);
                // A nested <svg> is placed by its own x and y.
                parts.append("<svg x=\"").append(x).append("\" y=\"").append(y).append('"').append(f.svg().substring(4));
                x += img.getWidth() + GAP;
            }
            width = Math.max(width, x);
            y += height(row, images);
        }
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + width + "\" height=\"" + y
                + "\" font-family=\"sans-serif\" font-size=\"11\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>"
                + parts + "</svg>";
    }

    @Override
    public String html() {
        return html(Figure::html);
    }

    @Override
    String page() {
        return html(Figure::page);
    }

    @Override
    String notebookHtml() {
        return html(Figure::notebookHtml);
    }

    private String html(Function<Figure, String> part) {
        StringBuilder b = new StringBuilder("<div class=\"loupe-panels\" style=\"" + Html.FONT + "max-width:100%;overflow:auto\">");
        for (Row row : rows) {
            if (row.text() != null) {
                b.append("<div style=\"").append(row.heading() ? "font-weight:600;margin:8px 0 2px 0;" : "")
                        .append("\">").append(Html.escape(row.text())).append("</div>");
            } else {
                b.append("<div style=\"display:flex;flex-wrap:wrap;gap:").append(GAP).append("px;align-items:flex-start\">");
                for (Figure f : row.figures()) {
                    b.append("<div>").append(part.apply(f)).append("</div>");
                }
                b.append("</div>");
            }
        }
        return b.append("</div>").toString();
    }

    /** One output: the figures' interactive views, and the whole as one PNG (which the HTML does not repeat). */
    @Override
    public MimeBundle mimeBundle() {
        return MimeBundle.text(text()).withHtml(notebookHtml()).withPng(png());
    }

    @Override
    public String text() {
        List<String> parts = new ArrayList<>();
        for (Row row : rows) {
            if (row.text() != null && !row.heading()) {
                parts.add(row.text());
            }
            row.figures().forEach(f -> parts.add(f.text()));
        }
        return (title.isEmpty() ? "Panels" : title) + ": " + String.join("; ", parts);
    }
}

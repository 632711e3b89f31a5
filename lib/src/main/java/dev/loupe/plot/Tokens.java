package dev.loupe.plot;

import dev.loupe.display.ColorScale;
import dev.loupe.display.Html;

import java.util.ArrayList;
import java.util.List;

/**
 * Tokens coloured by a value each (diverging around 0 for signed values); hovering a token shows its value. Several
 * rows (contexts, prompts) share one colour scale, each with a label before it and optionally one token outlined:
 * the max-activating token of a feature's top contexts, as SAE-Vis shows them.
 */
public final class Tokens extends Figure.Drawn {

    /** One line of coloured tokens: {@code label} before it (may be empty), token {@code outlined} boxed (-1: none). */
    public record Row(String label, List<String> tokens, double[] values, int outlined) {
        public Row {
            if (tokens.size() != values.length) {
                throw new IllegalArgumentException(tokens.size() + " tokens but " + values.length + " values");
            }
            if (outlined < -1 || outlined >= tokens.size()) {
                throw new IllegalArgumentException("outlined token " + outlined + " of " + tokens.size());
            }
            label = label == null ? "" : label;
            tokens = List.copyOf(tokens);
            values = values.clone();
        }
    }

    private static final int WIDTH = 640;
    private static final int LINE_H = 20;
    private static final int OUTLINE = 0x111111;
    private final List<Row> rows;
    private final ColorScale scale;
    private String title = "";

    Tokens(List<String> tokens, double[] values) {
        this(List.of(new Row("", tokens, values, -1)));
    }

    Tokens(List<Row> rows) {
        if (rows.isEmpty()) {
            throw new IllegalArgumentException("No rows of tokens to colour");
        }
        this.rows = List.copyOf(rows);
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (Row row : rows) {
            for (double v : row.values()) {
                if (Double.isFinite(v)) {
                    lo = Math.min(lo, v);
                    hi = Math.max(hi, v);
                }
            }
        }
        ColorScale s = ColorScale.forRange(lo, hi);
        // One-signed values still read best as white (0) to red or blue: centre the scale at 0.
        double lim = Math.max(Math.abs(Double.isFinite(lo) ? lo : 0), Math.abs(Double.isFinite(hi) ? hi : 0));
        this.scale = s.diverging() || lim == 0 ? s : ColorScale.forRange(-lim, lim);
    }

    public Tokens title(String title) {
        this.title = title == null ? "" : title;
        return this;
    }

    static String shown(String t) {
        return t.replace("\n", "\\n");
    }

    static int textColour(int bg) {
        double lum = 0.299 * ((bg >> 16) & 0xff) + 0.587 * ((bg >> 8) & 0xff) + 0.114 * (bg & 0xff);
        return lum < 140 ? 0xffffff : 0x111111;
    }

    @Override
    Drawing draw() {
        double labelW = 0;
        for (Row row : rows) {
            labelW = Math.max(labelW, row.label().isEmpty() ? 0 : Drawing.textWidth(row.label()) + 10);
        }
        double left = 4 + labelW;
        int line = -1;
        List<double[]> boxes = new ArrayList<>(); // per row: x and line of each token
        for (Row row : rows) {
            line++;
            double x = left;
            double[] at = new double[2 * row.tokens().size()];
            for (int i = 0; i < row.tokens().size(); i++) {
                double w = Drawing.textWidth(shown(row.tokens().get(i))) + 4;
                if (x + w > WIDTH - 4 && x > left) {
                    line++;
                    x = left;
                }
                at[2 * i] = x;
                at[2 * i + 1] = line;
                x += w + 1;
            }
            boxes.add(at);
        }
        int top = title.isEmpty() ? 4 : 24;
        Drawing d = new Drawing(WIDTH, top + (line + 1) * LINE_H + 30);
        d.text(4, 15, title, Drawing.Anchor.START, false, 0x111111, true);
        for (int r = 0; r < rows.size(); r++) {
            Row row = rows.get(r);
            double[] at = boxes.get(r);
            if (!row.label().isEmpty()) {
                d.text(4, top + at[1] * LINE_H + 13, row.label(), Drawing.Anchor.START, false);
            }
            for (int i = 0; i < row.tokens().size(); i++) {
                String s = shown(row.tokens().get(i));
                int bg = scale.rgb(row.values()[i]);
                double x = at[2 * i];
                double y = top + at[2 * i + 1] * LINE_H;
                double w = Drawing.textWidth(s) + 4;
                if (i == row.outlined()) {
                    d.rect(x - 2, y - 2, w + 4, LINE_H + 1, OUTLINE, null);
                }
                d.rect(x, y, w, LINE_H - 3, bg, i + " " + s + ": " + Heatmap.format(row.values()[i]));
                d.text(x + 2, y + 13, s, Drawing.Anchor.START, false, textColour(bg), false);
            }
        }
        double by = top + (line + 1) * LINE_H + 6;
        for (int i = 0; i < 100; i++) {
            d.rect(4 + i * 2, by, 2, 10, scale.rgb(scale.lo() + (i + 0.5) / 100 * (scale.hi() - scale.lo())), null);
        }
        d.text(210, by + 9, Heatmap.format(scale.lo()) + " .. " + Heatmap.format(scale.hi()), Drawing.Anchor.START, false);
        return d;
    }

    @Override
    public String html() {
        StringBuilder b = new StringBuilder("<div class=\"loupe-tokens\" style=\"font-family:monospace;line-height:1.9;max-width:100%\">");
        if (!title.isEmpty()) {
            b.append("<div style=\"font-family:sans-serif;font-weight:bold\">").append(Html.escape(title)).append("</div>");
        }
        boolean labelled = rows.stream().anyMatch(r -> !r.label().isEmpty());
        for (Row row : rows) {
            b.append(rows.size() > 1 ? "<div>" : "");
            if (labelled) {
                b.append("<span style=\"display:inline-block;min-width:9em;font-family:sans-serif;font-size:12px;opacity:.75\">")
                        .append(Html.escape(row.label())).append("</span>");
            }
            for (int i = 0; i < row.tokens().size(); i++) {
                int bg = scale.rgb(row.values()[i]);
                b.append("<span title=\"").append(i).append(": ").append(Html.escape(Heatmap.format(row.values()[i])))
                        .append("\" style=\"display:inline-block;white-space:pre;padding:1px 1px;margin-right:1px;border-radius:2px;background:")
                        .append(Drawing.hex(bg)).append(";color:").append(Drawing.hex(textColour(bg)))
                        .append(i == row.outlined() ? ";outline:2px solid " + Drawing.hex(OUTLINE) : "").append("\">")
                        .append(Html.escape(shown(row.tokens().get(i)))).append("</span>");
            }
            b.append(rows.size() > 1 ? "</div>" : "");
        }
        b.append("<div style=\"font-family:sans-serif;font-size:11px;color:#555\">colour: ")
                .append(Html.escape(Heatmap.format(scale.lo()))).append(" (blue) .. 0 (white) .. ")
                .append(Html.escape(Heatmap.format(scale.hi()))).append(" (red); hover a token for its value</div>");
        return b.append("</div>").toString();
    }

    @Override
    public String text() {
        int n = rows.stream().mapToInt(r -> r.tokens().size()).sum();
        return "Coloured tokens" + (title.isEmpty() ? "" : " \"" + title + "\"") + ": "
                + (rows.size() > 1 ? rows.size() + " rows, " : "") + n + " tokens, "
                + Heatmap.format(scale.lo()) + " .. " + Heatmap.format(scale.hi());
    }
}

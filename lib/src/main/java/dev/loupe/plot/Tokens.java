package dev.loupe.plot;

import dev.loupe.display.ColorScale;
import dev.loupe.display.Html;

import java.util.List;

/** Tokens coloured by a value each (diverging around 0 for signed values); hovering a token shows its value. */
public final class Tokens extends Figure.Drawn {

    private static final int WIDTH = 640;
    private final List<String> tokens;
    private final double[] values;
    private final ColorScale scale;
    private String title = "";

    Tokens(List<String> tokens, double[] values) {
        if (tokens.size() != values.length) {
            throw new IllegalArgumentException(tokens.size() + " tokens but " + values.length + " values");
        }
        this.tokens = List.copyOf(tokens);
        this.values = values.clone();
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (double v : values) {
            if (Double.isFinite(v)) {
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
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
        int lineH = 20;
        double x = 4;
        int line = 0;
        double[] xs = new double[tokens.size()];
        int[] lines = new int[tokens.size()];
        for (int i = 0; i < tokens.size(); i++) {
            double w = Drawing.textWidth(shown(tokens.get(i))) + 4;
            if (x + w > WIDTH - 4 && x > 4) {
                line++;
                x = 4;
            }
            xs[i] = x;
            lines[i] = line;
            x += w + 1;
        }
        int top = title.isEmpty() ? 4 : 24;
        Drawing d = new Drawing(WIDTH, top + (line + 1) * lineH + 30);
        d.text(4, 15, title, Drawing.Anchor.START, false, 0x111111, true);
        for (int i = 0; i < tokens.size(); i++) {
            String s = shown(tokens.get(i));
            int bg = scale.rgb(values[i]);
            double y = top + lines[i] * lineH;
            d.rect(xs[i], y, Drawing.textWidth(s) + 4, lineH - 3, bg, i + " " + s + ": " + Heatmap.format(values[i]));
            d.text(xs[i] + 2, y + 13, s, Drawing.Anchor.START, false, textColour(bg), false);
        }
        double by = top + (line + 1) * lineH + 6;
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
        for (int i = 0; i < tokens.size(); i++) {
            int bg = scale.rgb(values[i]);
            b.append("<span title=\"").append(i).append(": ").append(Html.escape(Heatmap.format(values[i])))
                    .append("\" style=\"display:inline-block;white-space:pre;padding:1px 1px;margin-right:1px;border-radius:2px;background:")
                    .append(Drawing.hex(bg)).append(";color:").append(Drawing.hex(textColour(bg))).append("\">")
                    .append(Html.escape(shown(tokens.get(i)))).append("</span>");
        }
        b.append("<div style=\"font-family:sans-serif;font-size:11px;color:#555\">colour: ")
                .append(Html.escape(Heatmap.format(scale.lo()))).append(" (blue) .. 0 (white) .. ")
                .append(Html.escape(Heatmap.format(scale.hi()))).append(" (red); hover a token for its value</div>");
        return b.append("</div>").toString();
    }

    @Override
    public String text() {
        return "Coloured tokens" + (title.isEmpty() ? "" : " \"" + title + "\"") + ": " + tokens.size() + " tokens, "
                + Heatmap.format(scale.lo()) + " .. " + Heatmap.format(scale.hi());
    }
}

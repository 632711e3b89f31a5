package dev.loupe.display;

import java.util.List;
import java.util.Locale;

/**
 * Small pieces of the self-contained HTML every bundle carries: plain HTML with inline styles (no scripts, no
 * style sheets, nothing fetched), so it looks the same in classic Notebook, JupyterLab, VS Code and nbconvert's
 * HTML, and in light and dark themes (text colour is inherited; lines and fills are translucent grey).
 */
public final class Html {

    /** The font and size of every Loupe view. */
    public static final String FONT = "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Helvetica,Arial,sans-serif;"
            + "font-size:13px;line-height:1.4;";
    public static final String MONO = "font-family:SFMono-Regular,Menlo,Consolas,'DejaVu Sans Mono',monospace;";
    public static final String TABLE = "border-collapse:collapse;margin:4px 0;" + FONT;
    public static final String TH = "text-align:left;padding:2px 10px 2px 0;border-bottom:1px solid rgba(128,128,128,.5);"
            + "font-weight:600;";
    public static final String TD = "padding:2px 10px 2px 0;border-bottom:1px solid rgba(128,128,128,.18);vertical-align:top;";
    public static final String TD_NUM = TD + "text-align:right;font-variant-numeric:tabular-nums;";
    public static final String MUTED = "opacity:.7;";

    private Html() {}

    /**
     * Text made safe inside HTML elements and quoted attribute values: {@code & < > " '} become entities, so a
     * token such as {@code <|endoftext|>} shows as itself instead of being read as a tag.
     */
    public static String escape(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            String r = switch (c) {
                case '&' -> "&amp;";
                case '<' -> "&lt;";
                case '>' -> "&gt;";
                case '"' -> "&quot;";
                case '\'' -> "&#39;";
                default -> null;
            };
            if (r != null && b == null) {
                b = new StringBuilder(s.length() + 16).append(s, 0, i);
            }
            if (b != null) {
                if (r != null) {
                    b.append(r);
                } else {
                    b.append(c);
                }
            }
        }
        return b == null ? s : b.toString();
    }

    /** A two-column table of names and values; values are escaped. */
    public static String keyValueTable(List<String[]> rows) {
        StringBuilder h = new StringBuilder("<table style=\"").append(TABLE).append("\"><tbody>");
        for (String[] row : rows) {
            h.append("<tr><th style=\"").append(TH).append("border-bottom-color:rgba(128,128,128,.18);font-weight:500;")
                    .append(MUTED).append("\">").append(escape(row[0])).append("</th><td style=\"").append(TD)
                    .append("\">").append(escape(row[1])).append("</td></tr>");
        }
        return h.append("</tbody></table>").toString();
    }

    /** An {@code <img>} showing PNG bytes inline, as a data URI. */
    static String img(byte[] png, int width, int height, String alt) {
        return "<img style=\"display:block;margin:4px 0;\" width=\"" + width + "\" height=\"" + height + "\" alt=\""
                + escape(alt) + "\" src=\"data:image/png;base64," + java.util.Base64.getEncoder().encodeToString(png)
                + "\">";
    }

    /** Bytes in decimal units, as the hub and most tools show sizes: {@code 548.1 MB}. */
    public static String bytes(long bytes) {
        if (bytes < 1000) {
            return bytes + " B";
        }
        String[] units = {"kB", "MB", "GB", "TB"};
        double v = bytes;
        int u = -1;
        while (v >= 1000 && u < units.length - 1) {
            v /= 1000;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    /** A count with thousands separators and, from a million up, a short form: {@code 124,439,808 (124.4M)}. */
    public static String count(long n) {
        String full = String.format(Locale.ROOT, "%,d", n);
        if (Math.abs(n) < 1_000_000) {
            return full;
        }
        String[] units = {"M", "B", "T"};
        double v = n / 1e6;
        int u = 0;
        while (Math.abs(v) >= 1000 && u < units.length - 1) {
            v /= 1000;
            u++;
        }
        return full + String.format(Locale.ROOT, " (%.1f%s)", v, units[u]);
    }
}

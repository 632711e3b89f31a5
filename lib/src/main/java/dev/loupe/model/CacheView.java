package dev.loupe.model;

import ai.djl.ndarray.NDArray;

import dev.loupe.display.ArrayView;
import dev.loupe.display.Html;
import dev.loupe.display.MimeBundle;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How an {@link ActivationCache} shows: its keys grouped by layer. Hook points outside the blocks (embeddings,
 * final layer norm) are listed with their shapes; hook points inside them form a grid, one row per hook point
 * ({@code attn.hook_pattern}), one column per layer, with the shape (the same in every layer, as a rule) and the
 * memory each layer's activations hold.
 */
public final class CacheView {

    private static final Pattern BLOCK = Pattern.compile("blocks\\.(\\d+)\\.(.+)");

    private CacheView() {}

    public static MimeBundle bundle(ActivationCache cache) {
        return MimeBundle.text(cache.toString()).withHtml(html(cache));
    }

    /** One hook point's activations across layers. */
    record Row(String hook, Map<Integer, NDArray> byLayer) {}

    /** The cached keys outside blocks, and inside them by hook point then layer, in the cache's order. */
    record Grouped(Map<String, NDArray> outside, Map<String, Row> inBlocks, List<Integer> layers) {}

    static Grouped group(ActivationCache cache) {
        Map<String, NDArray> outside = new LinkedHashMap<>();
        Map<String, Row> inBlocks = new LinkedHashMap<>();
        TreeMap<Integer, Boolean> layers = new TreeMap<>();
        for (String key : cache.keys()) {
            NDArray a = cache.get(key);
            Matcher m = BLOCK.matcher(key);
            if (m.matches()) {
                int layer = Integer.parseInt(m.group(1));
                layers.put(layer, true);
                inBlocks.computeIfAbsent(m.group(2), h -> new Row(h, new TreeMap<>())).byLayer().put(layer, a);
            } else {
                outside.put(key, a);
            }
        }
        return new Grouped(outside, inBlocks, new ArrayList<>(layers.keySet()));
    }

    static String html(ActivationCache cache) {
        if (cache.isClosed()) {
            return "<div style=\"" + Html.FONT + "\"><b>ActivationCache</b> <span style=\"" + Html.MUTED + "\">(closed) "
                    + cache.size() + (cache.size() == 1 ? " activation" : " activations") + ", freed</span></div>";
        }
        Grouped g = group(cache);
        StringBuilder h = new StringBuilder("<div style=\"").append(Html.FONT).append("\">");
        h.append("<div><b>ActivationCache</b> <span style=\"").append(Html.MUTED).append("\">")
                .append(String.format(Locale.ROOT, "%,d %s", cache.size(), cache.size() == 1 ? "activation" : "activations"));
        if (!g.layers().isEmpty()) {
            h.append(" in ").append(g.layers().size()).append(g.layers().size() == 1 ? " layer" : " layers");
        }
        h.append(", ").append(Html.bytes(cache.memoryBytes()));
        if (cache.hasGradients()) {
            h.append(", with gradients");
        }
        if (cache.stopAtLayer().isPresent()) {
            h.append(" · stopped at layer ").append(cache.stopAtLayer().getAsInt()).append(", no logits");
        } else if (cache.logits() != null) {
            h.append(" · logits ").append(Html.escape(shapeOf(cache.logits())));
        }
        h.append("</span></div>");

        if (!g.outside().isEmpty()) {
            h.append("<table style=\"").append(Html.TABLE).append("\"><thead><tr>");
            for (String c : new String[] {"hook point", "shape", "memory"}) {
                h.append("<th style=\"").append(Html.TH).append("\">").append(c).append("</th>");
            }
            h.append("</tr></thead><tbody>");
            g.outside().forEach((name, a) -> h.append("<tr><td style=\"").append(Html.TD).append(Html.MONO)
                    .append("\">").append(Html.escape(name)).append("</td><td style=\"").append(Html.TD).append(Html.MONO)
                    .append("\">").append(Html.escape(shapeOf(a))).append("</td><td style=\"").append(Html.TD_NUM)
                    .append("\">").append(Html.bytes(bytes(a))).append("</td></tr>"));
            h.append("</tbody></table>");
        }

        if (!g.inBlocks().isEmpty()) {
            List<Integer> layers = g.layers();
            String cell = "padding:2px 4px;border-bottom:1px solid rgba(128,128,128,.18);text-align:center;";
            h.append("<table style=\"").append(Html.TABLE).append("\"><thead><tr><th style=\"").append(Html.TH)
                    .append("\">blocks.<i>L</i>.</th><th style=\"").append(Html.TH).append("\">shape</th>");
            for (int layer : layers) {
                h.append("<th style=\"").append(Html.TH).append("text-align:center;padding:2px 4px;\">").append(layer)
                        .append("</th>");
            }
            h.append("</tr></thead><tbody>");
            for (Row row : g.inBlocks().values()) {
                h.append("<tr><td style=\"").append(Html.TD).append(Html.MONO).append("\">").append(Html.escape(row.hook()))
                        .append("</td><td style=\"").append(Html.TD).append(Html.MONO).append("\"");
                String shape = commonShape(row);
                if (shape == null) {
                    StringBuilder all = new StringBuilder();
                    row.byLayer().forEach((l, a) -> all.append(all.length() > 0 ? "; " : "").append(l).append(": ")
                            .append(shapeOf(a)));
                    h.append(" title=\"").append(Html.escape(all.toString())).append("\">varies");
                } else {
                    h.append(">").append(Html.escape(shape));
                }
                h.append("</td>");
                for (int layer : layers) {
                    NDArray a = row.byLayer().get(layer);
                    h.append("<td style=\"").append(cell).append("\"");
                    if (a == null) {
                        h.append("><span style=\"opacity:.3\">·</span>");
                    } else {
                        h.append(" title=\"").append(Html.escape("blocks." + layer + "." + row.hook() + " " + shapeOf(a)))
                                .append("\">").append(a.isReleased() ? "×" : "●");
                    }
                    h.append("</td>");
                }
                h.append("</tr>");
            }
            h.append("<tr><td style=\"").append(Html.TD).append(Html.MUTED).append("\">memory</td><td style=\"")
                    .append(Html.TD).append("\"></td>");
            for (int layer : layers) {
                long total = 0;
                for (Row row : g.inBlocks().values()) {
                    NDArray a = row.byLayer().get(layer);
                    total += a == null ? 0 : bytes(a);
                }
                h.append("<td style=\"").append(cell).append(Html.MUTED).append("font-size:11px;white-space:nowrap;\">")
                        .append(Html.bytes(total)).append("</td>");
            }
            h.append("</tr></tbody></table>");
        }
        return h.append("</div>").toString();
    }

    private static String commonShape(Row row) {
        String shape = null;
        for (NDArray a : row.byLayer().values()) {
            String s = shapeOf(a);
            if (shape == null) {
                shape = s;
            } else if (!shape.equals(s)) {
                return null;
            }
        }
        return shape;
    }

    static String shapeOf(NDArray a) {
        return a.isReleased() ? "(closed)" : ArrayView.shape(a.getShape());
    }

    private static long bytes(NDArray a) {
        return a.isReleased() ? 0 : a.getShape().size() * a.getDataType().getNumOfBytes();
    }
}

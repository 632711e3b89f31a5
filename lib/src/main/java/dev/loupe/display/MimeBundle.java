package dev.loupe.display;

import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a notebook shows for an object: one representation per MIME type, as Jupyter's display_data carries
 * them. {@code text/plain} is always present; {@code text/html} is the interactive view; {@code image/png}
 * (base64) is what static viewers without JavaScript show.
 */
public record MimeBundle(Map<String, String> data) {

    public static final String TEXT = "text/plain";
    public static final String HTML = "text/html";
    public static final String PNG = "image/png";
    public static final String SVG = "image/svg+xml";

    public MimeBundle {
        if (!data.containsKey(TEXT)) {
            throw new IllegalArgumentException("A MIME bundle needs text/plain; it has " + data.keySet());
        }
        data = Collections.unmodifiableMap(new LinkedHashMap<>(data));
    }

    public static MimeBundle text(String text) {
        return new MimeBundle(Map.of(TEXT, text));
    }

    /** This bundle with one more representation (replacing any of the same type). */
    public MimeBundle with(String mimeType, String value) {
        Map<String, String> more = new LinkedHashMap<>(data);
        more.put(mimeType, value);
        return new MimeBundle(more);
    }

    public MimeBundle withHtml(String html) {
        return with(HTML, html);
    }

    public MimeBundle withPng(byte[] png) {
        return with(PNG, Base64.getEncoder().encodeToString(png));
    }

    public String text() {
        return data.get(TEXT);
    }
}

package dev.loupe.plot;

import dev.loupe.display.Displayable;
import dev.loupe.display.MimeBundle;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Base64;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

import javax.imageio.ImageIO;

/**
 * One plot: a self-contained {@code text/html} view, an {@code image/png} of the same figure for viewers without
 * JavaScript, and a one-line {@code text/plain}. {@link #save(Path)} writes .png, .svg or .html.
 */
public abstract class Figure implements Displayable {

    private static final AtomicLong IDS = new AtomicLong();

    /** An id unique in this JVM, for scoping one output's elements and script. */
    static String newId(String kind) {
        return "loupe-" + kind + "-" + Long.toString(System.nanoTime() & 0xffffff, 36) + "-" + IDS.incrementAndGet();
    }

    /** The one-line description. */
    public abstract String text();

    /** The static rendering. */
    public abstract BufferedImage image();

    /** The standalone SVG rendering. */
    public abstract String svg();

    /** The notebook HTML fragment (no CDN, no require.js). */
    public abstract String html();

    /** The HTML of a saved page: like {@link #html()}, but carrying everything it needs every time. */
    String page() {
        return html();
    }

    /**
     * A script scoped to one output by its element id: {@code body} runs with {@code root}, the element. If the output
     * is not in the document yet when the script runs (some frontends attach it later), it looks again every 0.1 s for
     * 5 s; a root already marked {@code data-ready} is left alone.
     */
    static String script(String id, String body) {
        return "<script>(function(){var me=document.currentScript;\n(function find(tries){\nvar root=document.getElementById(\""
                + id + "\")||(me&&me.parentNode&&me.parentNode.id===\"" + id + "\"?me.parentNode:null);\n"
                + "if(!root){if(tries<50)setTimeout(function(){find(tries+1);},100);return;}\n"
                + "if(root.getAttribute(\"data-ready\"))return;\n" + body + "})(0);})();</script>";
    }

    /** The HTML inside a notebook output whose bundle carries the PNG: a plotly view need not carry it again. */
    String notebookHtml() {
        return html();
    }

    public byte[] png() {
        return encodePng(image());
    }

    static byte[] encodePng(BufferedImage img) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            ImageIO.write(img, "png", out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    static String dataUri(byte[] png) {
        return "data:image/png;base64," + Base64.getEncoder().encodeToString(png);
    }

    @Override
    public MimeBundle mimeBundle() {
        return MimeBundle.text(text()).withHtml(html()).withPng(png());
    }

    /** What a console prints (a notebook shows the figure instead): the figure's text, and how to look at it. */
    @Override
    public String toString() {
        return text() + " (in a console: .save(Path.of(\"figure.png\")) writes it; .svg and .html too)";
    }

    /**
     * Writes the figure to {@code file} in the format its extension names (.png, .svg, .html), first to a temporary
     * file in the same directory and then moved into place, so a reader never sees a half-written file.
     */
    public Path save(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        byte[] bytes;
        if (name.endsWith(".png")) {
            bytes = png();
        } else if (name.endsWith(".svg")) {
            bytes = svg().getBytes(StandardCharsets.UTF_8);
        } else if (name.endsWith(".html") || name.endsWith(".htm")) {
            bytes = ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + dev.loupe.display.Html.escape(text())
                    + "</title></head><body>\n" + page() + "\n</body></html>\n").getBytes(StandardCharsets.UTF_8);
        } else {
            throw new IllegalArgumentException("save writes .png, .svg or .html; not " + file);
        }
        Path abs = file.toAbsolutePath();
        Path dir = abs.getParent();
        try {
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, "." + abs.getFileName(), ".tmp");
            try {
                Files.write(tmp, bytes);
                try {
                    Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
                }
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return abs;
    }

    /** A figure drawn as shapes: SVG (hover via titles) in the HTML, Java2D for the PNG. */
    abstract static class Drawn extends Figure {
        private Drawing drawing;

        abstract Drawing draw();

        final Drawing drawing() {
            if (drawing == null) {
                drawing = draw();
            }
            return drawing;
        }

        @Override
        public BufferedImage image() {
            return drawing().image();
        }

        @Override
        public String svg() {
            return drawing().svg();
        }

        @Override
        public String html() {
            return "<div class=\"loupe-plot\" style=\"max-width:100%;overflow:auto\">" + svg() + "</div>";
        }
    }
}

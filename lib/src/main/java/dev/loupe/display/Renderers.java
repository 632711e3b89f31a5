package dev.loupe.display;

import ai.djl.ndarray.NDArray;

import java.awt.image.RenderedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

import javax.imageio.ImageIO;

import tech.tablesaw.api.Table;
import tech.tablesaw.columns.Column;

/** The renderers {@link Display} starts with, for types Loupe uses but does not own. */
final class Renderers {

    private Renderers() {}

    static void registerDefaults() {
        Display.register(NDArray.class, ArrayView::bundle);
        Display.register(Table.class, TableView::bundle);
        Display.register(Column.class, c -> TableView.bundle((Column<?>) c));
        Display.register(RenderedImage.class, Renderers::image);
    }

    /** A Java2D image (a chart, a screenshot) as a PNG, with its size as text. */
    static MimeBundle image(RenderedImage image) {
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        try {
            ImageIO.write(image, "png", png);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        String text = "image " + image.getWidth() + "×" + image.getHeight();
        return MimeBundle.text(text).withPng(png.toByteArray());   // the PNG once: no HTML copy of it
    }
}

package dev.loupe.display;

/** An object that knows how a notebook should show it. The kernel renders any such cell result by its bundle. */
public interface Displayable {
    MimeBundle mimeBundle();
}

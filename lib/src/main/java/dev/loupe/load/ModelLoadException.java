package dev.loupe.load;

/** A model could not be found, fetched or read; the message says what is missing and how to get it. */
public final class ModelLoadException extends RuntimeException {
    public ModelLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}

package dev.loupe.sae;

/**
 * An SAE's files or weights are not what its format says: names the file (or "weights"), the field or tensor,
 * what was expected and what came.
 */
public final class SaeFormatException extends IllegalArgumentException {

    public SaeFormatException(String file, String field, String expected, String got) {
        super(file + ": " + field + ": expected " + expected + ", got " + got);
    }

    public SaeFormatException(String message) {
        super(message);
    }
}

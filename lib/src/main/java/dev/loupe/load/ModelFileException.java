package dev.loupe.load;

import java.io.IOException;

/** A model's file (config, weights, shard index) that cannot be loaded; the message names the file and what is wrong. */
public final class ModelFileException extends IOException {
    public ModelFileException(String message) {
        super(message);
    }
}

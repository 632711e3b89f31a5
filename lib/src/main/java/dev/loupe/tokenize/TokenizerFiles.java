package dev.loupe.tokenize;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** The errors for tokenizer files that are missing or not what they should be, worded one way. */
final class TokenizerFiles {

    private TokenizerFiles() {}

    /** Throws, saying what the file should have held, unless {@code file} is a regular file. */
    static void require(Path file, String expected) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString(), null, "missing; expected " + expected);
        }
    }

    static IOException corrupt(Object file, String what) {
        return new IOException("Corrupt tokenizer file " + file + ": " + what + ".");
    }
}

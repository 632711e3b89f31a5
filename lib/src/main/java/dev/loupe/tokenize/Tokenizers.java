package dev.loupe.tokenize;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.Optional;

/** Finds the tokenizer in a model's folder, as Hugging Face lays one out. */
public final class Tokenizers {

    private Tokenizers() {}

    /**
     * The tokenizer of the model in {@code dir}: its {@code tokenizer.json} ({@link HfTokenizer}), else a
     * {@code subset_vocab.json} ({@link SubsetTokenizer}, Loupe's own small models), else its {@code vocab.json} and
     * {@code merges.txt} ({@link Gpt2Tokenizer#fromFiles}), else empty.
     *
     * @throws IOException if {@code dir} is not a folder, if only one of vocab.json and merges.txt is there,
     *     or if the tokenizer files are corrupt
     */
    public static Optional<Tokenizer> forModelFolder(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new NotDirectoryException(dir + " (expected a model's folder)");
        }
        Path tokenizerJson = dir.resolve("tokenizer.json");
        if (Files.isRegularFile(tokenizerJson)) {
            return Optional.of(HfTokenizer.fromFile(tokenizerJson));
        }
        Path subset = dir.resolve(SubsetTokenizer.FILE);
        if (Files.isRegularFile(subset)) {
            return Optional.of(SubsetTokenizer.load(subset));
        }
        Path vocab = dir.resolve("vocab.json");
        Path merges = dir.resolve("merges.txt");
        if (Files.exists(vocab) || Files.exists(merges)) {
            return Optional.of(Gpt2Tokenizer.fromFiles(vocab, merges)); // says which of the two is missing
        }
        return Optional.empty();
    }
}

package dev.loupe.tokenize;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TokenizersTest {

    @Test
    void aFolderWithoutTokenizerFilesHasNone(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("config.json"), "{}");
        assertTrue(Tokenizers.forModelFolder(dir).isEmpty());
    }

    @Test
    void tokenizerJsonComesFirst(@TempDir Path dir) throws IOException {
        Gpt2TestFiles.writeVocabAndMerges(dir);
        Gpt2TestFiles.writeTokenizerJson(dir);
        Optional<Tokenizer> t = Tokenizers.forModelFolder(dir);
        HfTokenizer hf = assertInstanceOf(HfTokenizer.class, t.orElseThrow());
        try (hf) {
            assertArrayEquals(new int[] {15496, 995}, hf.encode("Hello world"));
        }
    }

    @Test
    void vocabAndMergesMakeAGpt2Tokenizer(@TempDir Path dir) throws IOException {
        Gpt2TestFiles.writeVocabAndMerges(dir);
        Tokenizer t = Tokenizers.forModelFolder(dir).orElseThrow();
        assertInstanceOf(Gpt2Tokenizer.class, t);
        assertArrayEquals(new int[] {15496, 995}, t.encode("Hello world"));
    }

    @Test
    void halfAPairOfFilesIsAnError(@TempDir Path dir) throws IOException {
        Gpt2TestFiles.writeVocabAndMerges(dir);
        Files.delete(dir.resolve("merges.txt"));
        var e = assertThrows(NoSuchFileException.class, () -> Tokenizers.forModelFolder(dir));
        assertTrue(e.getMessage().contains("merges.txt"), e.getMessage());
    }

    @Test
    void notAFolderIsAnError(@TempDir Path dir) {
        var e = assertThrows(IOException.class, () -> Tokenizers.forModelFolder(dir.resolve("absent")));
        assertTrue(e.getMessage().contains("absent"), e.getMessage());
    }
}

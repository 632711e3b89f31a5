package dev.loupe.tokenize;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static dev.loupe.tokenize.Gpt2TokenizerTest.quote;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Gpt2Tokenizer against Hugging Face's Rust tokenizer (what TransformerLens uses), run through HfTokenizer on
 * a tokenizer.json built from the same vocabulary and merges.
 */
class HfTokenizerTest {

    @TempDir
    static Path dir;
    private static HfTokenizer hf;
    private static final Gpt2Tokenizer gpt2 = Gpt2Tokenizer.bundled();

    @BeforeAll
    static void load() throws IOException {
        hf = HfTokenizer.fromFile(Gpt2TestFiles.writeTokenizerJson(dir.resolve("gpt2")));
    }

    @AfterAll
    static void close() {
        hf.close();
    }

    @Test
    void knownIds() {
        assertArrayEquals(new int[] {15496, 995}, hf.encode("Hello world"));
        assertArrayEquals(new int[] {50256}, hf.encode("<|endoftext|>"));
        assertArrayEquals(new int[] {5335}, hf.encode(" Mary"));
        assertEquals(" John", hf.tokenString(1757));
        assertEquals(50257, hf.vocabSize());
    }

    @Test
    void trickyStringsAgree() throws IOException {
        List<String> texts = new ArrayList<>();
        Gpt2TestFiles.jsReference().forEach(c -> texts.add(c.text()));
        for (String text : texts) {
            int[] expected = hf.encode(text);
            assertArrayEquals(expected, gpt2.encode(text), "text " + quote(text));
            assertEquals(text, gpt2.decode(expected), "text " + quote(text));
            assertEquals(hf.decode(expected), gpt2.decode(expected), "text " + quote(text));
        }
    }

    /**
     * The JavaScript reference's regex takes U+FEFF as whitespace and U+0085 (NEL) as not, the opposite of
     * Hugging Face's (and of Java's with Unicode classes); after a space that changes the ids. Hugging Face is
     * what TransformerLens uses, so it wins.
     */
    @Test
    void whereJavaScriptDiffersHuggingFaceWins() throws IOException {
        List<Gpt2TestFiles.Case> cases = Gpt2TestFiles.jsDiffersFromHuggingFace();
        assertEquals(4, cases.size());
        for (Gpt2TestFiles.Case c : cases) {
            int[] expected = hf.encode(c.text());
            assertFalse(Arrays.equals(c.ids(), expected), "JavaScript now agrees on " + quote(c.text()));
            assertArrayEquals(expected, gpt2.encode(c.text()), "text " + quote(c.text()));
            assertEquals(c.text(), gpt2.decode(expected));
        }
    }

    @Test
    void randomTextsAgree() {
        // Pieces chosen to meet at the regex's edges: spaces before letters, digits and punctuation, runs of
        // whitespace, contractions, combining marks, letters and digits of other scripts, the special token.
        String[] pieces = {"a", "Mary", "the", "X", "é", "e\u0301", "日本", "ǅ", "Ⅷ", "²", "٣", "7", "42", " ", "  ",
            "\n", "\t", "\r\n", "\u00A0", "\u3000", "\u2028", "'s", "'re", "'", "’", "\"", ".", ",", "!?", "--", "_",
            "#", "(", ")", "👋🏽", "😀", "𝔘", "\u200B", "\u0085", "\uFEFF", "<|endoftext|>", "<|", "|>", "endoftext"};
        Random random = new Random(11);
        for (int n = 0; n < 3000; n++) {
            StringBuilder text = new StringBuilder();
            for (int i = random.nextInt(20); i > 0; i--) {
                text.append(pieces[random.nextInt(pieces.length)]);
            }
            String s = text.toString();
            assertArrayEquals(hf.encode(s), gpt2.encode(s), "text " + quote(s));
        }
    }

    @Test
    void everyTokenShowsTheSameString() {
        for (int id = 0; id < gpt2.vocabSize(); id++) {
            assertEquals(hf.tokenString(id), gpt2.tokenString(id), "token " + id + " " + quote(gpt2.vocabToken(id)));
        }
    }

    @Test
    void longTextIsNotTruncated() {
        String text = "When John and Mary went to the shops, John gave a drink to Mary. ".repeat(100);
        int[] ids = hf.encode(text);
        assertTrue(ids.length > 1500, "tokens: " + ids.length); // 16 a sentence; no cut at 512 or 1024
        assertArrayEquals(gpt2.encode(text), ids);
        assertEquals(text, hf.decode(ids));
    }

    @Test
    void specialTokensWithoutConfigFollowTransformerLens() {
        assertEquals(50256, hf.eosTokenId().getAsInt()); // <|endoftext|> is in the vocabulary
        assertEquals(50256, hf.bosTokenId().getAsInt());
        assertEquals(50256, hf.padTokenId().getAsInt());
    }

    @Test
    void aConfigWhoseBosTokenIsNullHasNoBos(@TempDir Path model) throws IOException {
        Path file = Gpt2TestFiles.writeTokenizerJson(model);
        Files.writeString(model.resolve("tokenizer_config.json"), "{\"bos_token\": null, \"eos_token\": \"<|endoftext|>\"}");
        try (HfTokenizer t = HfTokenizer.fromFile(file)) {
            assertTrue(t.bosTokenId().isEmpty(), "Qwen's convention: no BOS, not EOS in its place");
            assertEquals(50256, t.eosTokenId().getAsInt());
        }
    }

    @Test
    void specialTokensComeFromTheConfigFiles(@TempDir Path model) throws IOException {
        Path file = Gpt2TestFiles.writeTokenizerJson(model);
        Files.writeString(model.resolve("tokenizer_config.json"), """
                {"bos_token": {"__type": "AddedToken", "content": "<|endoftext|>", "special": true},
                 "eos_token": "<|endoftext|>", "pad_token": "!", "model_max_length": 1024}
                """);
        Files.writeString(model.resolve("special_tokens_map.json"), "{\"pad_token\": \"\\\"\"}");
        try (HfTokenizer t = HfTokenizer.fromFile(file)) {
            assertEquals(50256, t.bosTokenId().getAsInt());
            assertEquals(50256, t.eosTokenId().getAsInt());
            assertEquals(1, t.padTokenId().getAsInt()); // special_tokens_map.json's '"' over tokenizer_config.json's '!'
            assertArrayEquals(new int[] {15496}, t.encode("Hello")); // still adds no BOS: that is the model's business
        }
    }

    @Test
    void aSpecialTokenMissingFromTheVocabularyIsNamed(@TempDir Path model) throws IOException {
        Path file = Gpt2TestFiles.writeTokenizerJson(model);
        Files.writeString(model.resolve("special_tokens_map.json"), "{\"pad_token\": \"<pad>\"}");
        IOException e = assertThrows(IOException.class, () -> HfTokenizer.fromFile(file));
        assertTrue(e.getMessage().contains("special_tokens_map.json") && e.getMessage().contains("pad_token")
                && e.getMessage().contains("<pad>"), e.getMessage());
    }

    @Test
    void corruptFilesAreNamed(@TempDir Path model) throws IOException {
        Path file = Gpt2TestFiles.writeTokenizerJson(model);
        byte[] whole = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(whole, whole.length / 3));
        IOException e = assertThrows(IOException.class, () -> HfTokenizer.fromFile(file));
        assertTrue(e.getMessage().contains("tokenizer.json") && e.getMessage().contains("truncated"), e.getMessage());

        // Valid JSON that Hugging Face's library does not accept as a tokenizer.
        Files.writeString(file, "{\"model\": {\"type\": \"Nonsense\", \"vocab\": {\"a\": 0}}}", StandardCharsets.UTF_8);
        e = assertThrows(IOException.class, () -> HfTokenizer.fromFile(file));
        assertTrue(e.getMessage().contains("tokenizer.json") && e.getMessage().contains("rejected"), e.getMessage());

        e = assertThrows(IOException.class, () -> HfTokenizer.fromFile(model.resolve("absent.json")));
        assertTrue(e.getMessage().contains("absent.json") && e.getMessage().contains("missing"), e.getMessage());

        Gpt2TestFiles.writeTokenizerJson(model);
        Files.writeString(model.resolve("tokenizer_config.json"), "{\"eos_token\": ");
        e = assertThrows(IOException.class, () -> HfTokenizer.fromFile(file));
        assertTrue(e.getMessage().contains("tokenizer_config.json"), e.getMessage());
    }

    @Test
    void decodeRejectsIdsOutsideTheVocabulary() {
        var e = assertThrows(IllegalArgumentException.class, () -> hf.decode(new int[] {50257}));
        assertTrue(e.getMessage().contains("50257"), e.getMessage());
    }
}

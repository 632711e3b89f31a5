package dev.loupe.load;

import dev.loupe.FamilyCase;
import dev.loupe.model.HookedTransformer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/** A family's folder brings its tokenizer.json and its BOS convention, which toTokens follows. */
class FamilyTokenizerTest {

    /** A word-level tokenizer.json small enough for the tiny model's vocabulary. */
    private static final String TOKENIZER = """
            {"version": "1.0", "truncation": null, "padding": null,
             "added_tokens": [
               {"id": 0, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
               {"id": 1, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
             "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null, "decoder": null,
             "model": {"type": "WordLevel", "vocab": {"<s>": 0, "</s>": 1, "<unk>": 2, "Hello": 3, "world": 4}, "unk_token": "<unk>"}}
            """;

    @TempDir
    Path dir;

    private HookedTransformer withTokenizerConfig(String tokenizerConfig) throws IOException {
        try (Stream<Path> files = Files.list(FamilyCase.of("llama3").model())) {
            for (Path f : files.toList()) {
                Files.copy(f, dir.resolve(f.getFileName()));
            }
        }
        Files.writeString(dir.resolve("tokenizer.json"), TOKENIZER);
        Files.writeString(dir.resolve("tokenizer_config.json"), tokenizerConfig);
        return HookedTransformer.fromPretrained(dir.toString());
    }

    @Test
    void theConfiguredBosIsPrepended() throws IOException {
        HookedTransformer model = withTokenizerConfig("{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\"}");
        assertArrayEquals(new long[] {0, 3, 4}, model.toTokens("Hello world").toLongArray());
    }

    @Test
    void aFamilyWithoutBosGetsNone() throws IOException {
        HookedTransformer model = withTokenizerConfig("{\"bos_token\": null, \"eos_token\": \"</s>\"}");
        assertArrayEquals(new long[] {3, 4}, model.toTokens("Hello world").toLongArray()); // Qwen's convention
    }
}

package dev.loupe.model;

import ai.djl.ndarray.NDArray;

import dev.loupe.tokenize.Gpt2Tokenizer;

import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.loupe.ReferenceCase.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Token helpers on a GPT-2-vocabulary model; the ids are GPT-2's published ones. */
class TokensTest {

    private static final int EOT = 50256;
    private final HookedTransformer model = HookedTransformer.create(ModelConfig.builder().modelName("tiny-gpt2-vocab")
            .nLayers(1).dModel(32).nHeads(2).dVocab(50257).nCtx(32).build(), 0).withTokenizer(Gpt2Tokenizer.bundled());

    @Test
    void bosIsPrependedByDefaultAsInTransformerLens() {
        assertArrayEquals(new long[] {EOT, 15496, 995}, model.toTokens("Hello world").toLongArray());
        assertArrayEquals(new long[] {15496, 995}, model.toTokens("Hello world", false).toLongArray());
        assertEquals(List.of("<|endoftext|>", "Hello", " world"), model.toStrTokens("Hello world"));
        assertEquals(List.of(" Mary"), model.toStrTokens(" Mary", false));
    }

    @Test
    void singleTokensAndBackToText() {
        assertEquals(5335, model.toSingleToken(" Mary"));
        assertEquals(1757, model.toSingleToken(" John"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> model.toSingleToken(" Maryanne Smith"));
        assertTrue(e.getMessage().contains("tokens, not one"), e.getMessage());
        String text = "When John and Mary went to the shops, John gave a drink to";
        assertEquals(text, model.toString(model.toTokens(text, false)));
    }

    @Test
    void batchesPadOnEitherSideWithAMaskThatKeepsLogitsUnchanged() {
        List<String> texts = List.of("Hello world", "When John and Mary went");
        TokenBatch right = model.toTokens(texts);
        TokenBatch left = model.toTokens(texts, true, TokenBatch.PaddingSide.LEFT);
        assertArrayEquals(new long[] {EOT, 15496, 995, EOT, EOT, EOT}, right.tokens().get("0").toLongArray());
        assertArrayEquals(new long[] {1, 1, 1, 0, 0, 0}, right.attentionMask().get("0").toLongArray());
        assertArrayEquals(new long[] {0, 0, 0, 1, 1, 1}, left.attentionMask().get("0").toLongArray());
        NDArray alone = model.forward(model.toTokens("Hello world"));
        assertClose(alone, model.forward(right.tokens(), right.attentionMask()).get("0:1, 0:3"), 1e-5, 1e-5, "right-padded");
        assertClose(alone, model.forward(left.tokens(), left.attentionMask()).get("0:1, 3:6"), 1e-5, 1e-5, "left-padded");
    }

    @Test
    void generateFromTextReturnsThePromptAndItsContinuation() {
        String out = model.generate("Hello world", GenerateOptions.greedy(3));
        assertTrue(out.startsWith("Hello world") && out.length() > "Hello world".length(), out);
    }

    @Test
    void aModelWithoutTokenizerSaysHowToGiveItOne() {
        HookedTransformer bare = HookedTransformer.create(ModelConfig.builder().nLayers(1).dModel(8).nHeads(2).dVocab(10).nCtx(4).build(), 0);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> bare.toTokens("hi"));
        assertTrue(e.getMessage().contains("no tokenizer") && e.getMessage().contains("withTokenizer"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> bare.withTokenizer(Gpt2Tokenizer.bundled()));
    }
}

package dev.loupe.circuits;

import ai.djl.ndarray.types.Shape;

import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.tokenize.Gpt2Tokenizer;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RepeatedTokensTest {

    @Test
    void rowsAreBosThenARandomBlockTwice() {
        RepeatedTokens rep = RepeatedTokens.generate(4, 50, 50257, 1, 50256);
        assertEquals(new Shape(4, 101), rep.tokens().getShape());
        assertEquals(101, rep.length());
        assertEquals(51, rep.repeatStart());
        assertEquals(new Shape(4, 50), rep.randomBlock().getShape());
        long[] ids = rep.tokens().toLongArray();
        for (int b = 0; b < 4; b++) {
            assertEquals(50256, ids[b * 101]);
            for (int i = 0; i < 50; i++) {
                long t = ids[b * 101 + 1 + i];
                assertEquals(t, ids[b * 101 + 51 + i], "the second half repeats the first");
                assertTrue(t >= 100 && t < 20000, "token " + t + " outside [100, 20000)");
            }
        }
        assertArrayEquals(ids, RepeatedTokens.generate(4, 50, 50257, 1, 50256).tokens().toLongArray(), "same seed");
        assertFalse(java.util.Arrays.equals(ids, RepeatedTokens.generate(4, 50, 50257, 2, 50256).tokens().toLongArray()));
    }

    @Test
    void withoutBosAndWithSmallVocabularies() {
        RepeatedTokens rep = RepeatedTokens.generate(2, 30, 1000, 5);
        assertEquals(new Shape(2, 60), rep.tokens().getShape());
        assertEquals(0, rep.prefix());
        long[] ids = rep.tokens().toLongArray();
        for (long t : ids) {
            assertTrue(t >= 100 && t < 1000, "[100, 20000) ∩ [0, 1000)");
        }
        long[] small = RepeatedTokens.generate(3, 40, 10, 5).tokens().toLongArray();
        boolean sawLow = false;
        for (long t : small) {
            assertTrue(t >= 0 && t < 10);
            sawLow |= t < 5;
        }
        assertTrue(sawLow, "a 10-token vocabulary uses [0, 10)");
        assertThrows(IllegalArgumentException.class, () -> RepeatedTokens.generate(1, 0, 100, 0));
        assertThrows(IllegalArgumentException.class, () -> RepeatedTokens.generate(1, 5, 1, 0));
    }

    @Test
    void forModelUsesTheTokenizersBosAndChecksTheContext() {
        ModelConfig cfg = ModelConfig.builder().nLayers(1).dModel(8).nHeads(2).dVocab(50257).nCtx(21).build();
        HookedTransformer model = HookedTransformer.create(cfg, 0);
        assertEquals(new Shape(1, 20), RepeatedTokens.forModel(model, 1, 10, 0).tokens().getShape());
        model.withTokenizer(Gpt2Tokenizer.bundled());
        RepeatedTokens rep = RepeatedTokens.forModel(model, 1, 10, 0);
        assertEquals(new Shape(1, 21), rep.tokens().getShape());
        assertEquals(50256, rep.tokens().toLongArray()[0]);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RepeatedTokens.forModel(model, 1, 11, 0));
        assertTrue(e.getMessage().contains("n_ctx = 21"), e.getMessage());
    }
}

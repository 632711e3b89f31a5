package dev.loupe.circuits;

import ai.djl.ndarray.NDArray;
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
    void inductionLossCoversThePredictableRepeat() {
        ModelConfig cfg = ModelConfig.builder().nLayers(1).dModel(8).nHeads(2).dVocab(500).nCtx(32).initRange(0.5).build();
        HookedTransformer model = HookedTransformer.create(cfg, 0);
        RepeatedTokens rep = RepeatedTokens.generate(3, 10, 500, 9, 7);
        NDArray perToken = rep.inductionLossPerToken(model);
        assertEquals(new Shape(3, 9), perToken.getShape(), "the repeat's tokens after its first: half - 1 per row");
        // Entry j predicts token 12 + j (BOS, 10 random, then the repeat from 11): its loss from the full per-token loss.
        float[] all = model.lossPerToken(rep.tokens()).toFloatArray(); // [3, 20], entry i predicts token i + 1
        float[] got = perToken.toFloatArray();
        for (int b = 0; b < 3; b++) {
            for (int j = 0; j < 9; j++) {
                assertEquals(all[b * 20 + 11 + j], got[b * 9 + j]);
            }
        }
        // With the unembedding zeroed every prediction is uniform: ln(500) exactly.
        model.setParameter("unembed.W_U", dev.loupe.tensor.Tensors.manager().zeros(new Shape(8, 500)));
        assertEquals(Math.log(500), rep.inductionLoss(model).getFloat(), 1e-5);
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

package dev.loupe.train;

import ai.djl.ndarray.NDArray;

import dev.loupe.tokenize.Gpt2Tokenizer;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TokenWindowsTest {

    @Test
    void windowsAreConsecutiveTokensOfTheStreamAndRepeatByStep() {
        List<String> docs = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            docs.add("Document number " + i + " says hello to the world and to everyone in it.");
        }
        Gpt2Tokenizer gpt2 = Gpt2Tokenizer.bundled();
        TokenWindows w = new TokenWindows(gpt2, docs, 3, 16, 0.1, 7);
        NDArray b = w.batch(5);
        assertEquals(new ai.djl.ndarray.types.Shape(3, 16), b.getShape());
        assertArrayEquals(b.toLongArray(), w.batch(5).toLongArray(), "the same step gives the same batch");
        assertFalse(java.util.Arrays.equals(b.toLongArray(), w.batch(6).toLongArray()));
        // Each window decodes to a piece of the joined text.
        String joined = "<|endoftext|>" + String.join("<|endoftext|>", docs);
        long[] row = b.get("0").toLongArray();
        int[] ids = new int[row.length];
        for (int i = 0; i < ids.length; i++) ids[i] = (int) row[i];
        assertTrue(joined.contains(gpt2.decode(ids)), gpt2.decode(ids));
        assertEquals(new ai.djl.ndarray.types.Shape(3, 16), w.heldOut().getShape());
    }

    @Test
    void syntheticWindowsRepeatOneBlockThenRecurringSpansAndTheRestAreUntouched() {
        List<String> docs = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            docs.add("Paragraph " + i + " of a story in which " + (i * 7919 % 1000) + " things happen, one after another.");
        }
        Gpt2Tokenizer gpt2 = Gpt2Tokenizer.bundled();
        int ctx = 128;
        int eot = gpt2.eosTokenId().getAsInt();
        TokenWindows plain = new TokenWindows(gpt2, docs, 40, ctx, 0.1, 3);
        TokenWindows mixed = new TokenWindows(gpt2, docs, 40, ctx, 0.1, 3, 0.5, 5);
        int replaced = 0;
        for (long step = 0; step < 10; step++) {
            long[] a = plain.batch(step).toLongArray();
            long[] b = mixed.batch(step).toLongArray();
            for (int row = 0; row < 40; row++) {
                long[] text = java.util.Arrays.copyOfRange(a, row * ctx, (row + 1) * ctx);
                long[] got = java.util.Arrays.copyOfRange(b, row * ctx, (row + 1) * ctx);
                if (java.util.Arrays.equals(text, got)) {
                    continue;
                }
                replaced++;
                assertEquals(eot, got[0], "a synthetic window starts with end-of-text");
                for (int i = 1; i < ctx; i++) {
                    assertTrue(got[i] >= 1 && got[i] < gpt2.vocabSize() - 1, "id " + got[i]);
                }
                // Before step 5, one block of 8 to 20 ids said again and again: the row repeats with that period.
                int period = -1;
                for (int length = 8; length <= 20 && period < 0; length++) {
                    boolean periodic = true;
                    for (int i = 1 + length; i < ctx && periodic; i++) {
                        periodic = got[i] == got[i - length];
                    }
                    period = periodic ? length : -1;
                }
                assertEquals(step < 5, period > 0, "step " + step + " row " + row + " repeats a block of 8 to 20 ids: " + (period > 0));
                if (step >= 5) { // recurring spans: a good share, though not all, predictable by induction
                    int predictable = 0;
                    for (boolean p : RecurringSpansTest.inductionPredictable(got)) predictable += p ? 1 : 0;
                    assertTrue(predictable > ctx / 5 && predictable < ctx * 3 / 5, "step " + step + " row " + row + ": " + predictable);
                }
            }
        }
        assertTrue(replaced > 140 && replaced < 260, replaced + " of 400 windows replaced; expected about half");
        assertArrayEquals(plain.heldOut().toLongArray(), mixed.heldOut().toLongArray(), "held-out text is never altered");
    }
}

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
}

package dev.loupe.sae;

import dev.loupe.tokenize.Gpt2Tokenizer;
import dev.loupe.tokenize.Tokenizer;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A document's windows are its tokens in order, each piece after BOS, the last one shorter. */
class DocumentWindowsTest {

    private final Tokenizer gpt2 = Gpt2Tokenizer.bundled();

    @Test
    void theWindowsAreTheDocumentsTokensEachAfterBos() {
        String text = "The jury said it did find that many of Georgia's registration and election laws are outmoded.";
        int[] ids = gpt2.encode(text);
        List<int[]> windows = DocumentWindows.of(gpt2, text, 8);
        assertEquals((ids.length + 6) / 7, windows.size());
        int at = 0;
        for (int i = 0; i < windows.size(); i++) {
            int[] w = windows.get(i);
            assertEquals(gpt2.bosTokenId().getAsInt(), w[0]);
            assertTrue(w.length <= 8 && (w.length == 8 || i == windows.size() - 1), "only the last is short");
            assertEquals(at, DocumentWindows.start(gpt2, i, 8));
            assertArrayEquals(Arrays.copyOfRange(ids, at, at + w.length - 1), Arrays.copyOfRange(w, 1, w.length));
            at += w.length - 1;
        }
        assertEquals(ids.length, at);
        assertTrue(DocumentWindows.of(gpt2, "", 8).isEmpty(), "no tokens, no window");
        assertThrows(IllegalArgumentException.class, () -> DocumentWindows.of(gpt2, text, 1));
    }
}

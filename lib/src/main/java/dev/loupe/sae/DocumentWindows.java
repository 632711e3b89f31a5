package dev.loupe.sae;

import dev.loupe.tokenize.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A document cut into windows a model reads: its tokens in consecutive pieces, each after the BOS token (where the
 * tokenizer has one), so that every window looks like the start of a text, as the model saw in training. The last
 * window is shorter unless the document fills it. A document of no tokens gives no window.
 */
public final class DocumentWindows {

    private DocumentWindows() {}

    /** The windows of {@code document}, each at most {@code context} tokens, BOS included. */
    public static List<int[]> of(Tokenizer tokenizer, String document, int context) {
        int bos = tokenizer.bosTokenId().orElse(-1);
        int room = bos >= 0 ? context - 1 : context;
        if (room < 1) {
            throw new IllegalArgumentException("A window of " + context + " tokens has no room for text after BOS;"
                    + " give a context of at least 2");
        }
        int[] ids = tokenizer.encode(document);
        List<int[]> windows = new ArrayList<>();
        for (int from = 0; from < ids.length; from += room) {
            int[] piece = Arrays.copyOfRange(ids, from, Math.min(ids.length, from + room));
            if (bos < 0) {
                windows.add(piece);
                continue;
            }
            int[] window = new int[piece.length + 1];
            window[0] = bos;
            System.arraycopy(piece, 0, window, 1, piece.length);
            windows.add(window);
        }
        return windows;
    }

    /** Where window {@code i} of a document starts in the document's tokens (BOS not counted). */
    public static int start(Tokenizer tokenizer, int i, int context) {
        return i * (tokenizer.bosTokenId().isPresent() ? context - 1 : context);
    }
}

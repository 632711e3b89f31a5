package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.tensor.Tensors;

import java.util.Arrays;
import java.util.List;

/**
 * Token windows of a pass over a corpus, as one flat array of ids and where each window starts: windows may differ in
 * length (prompts), and equal-length neighbours run as one batch.
 */
final class TokenCorpus {

    private final long[] ids;
    private final int[] starts;

    private TokenCorpus(long[] ids, int[] starts) {
        this.ids = ids;
        this.starts = starts;
    }

    /** Windows [n, ctx] (or one window [ctx]) of integer token ids. */
    static TokenCorpus of(NDArray tokens) {
        Shape s = tokens.getShape();
        if (s.dimension() < 1 || s.dimension() > 2 || !tokens.getDataType().isInteger() || s.size() == 0) {
            throw new IllegalArgumentException("A corpus of token windows is an integer array [n, ctx] (or [ctx]); got "
                    + tokens.getDataType() + " " + s);
        }
        int ctx = (int) s.get(s.dimension() - 1);
        int n = s.dimension() == 2 ? (int) s.get(0) : 1;
        int[] starts = new int[n + 1];
        for (int i = 0; i <= n; i++) {
            starts[i] = i * ctx;
        }
        return new TokenCorpus(tokens.toType(DataType.INT64, false).toLongArray(), starts);
    }

    /** Windows of any lengths, one token array each. */
    static TokenCorpus of(List<int[]> windows) {
        if (windows.isEmpty()) {
            throw new IllegalArgumentException("The corpus has no token windows");
        }
        int[] starts = new int[windows.size() + 1];
        for (int i = 0; i < windows.size(); i++) {
            if (windows.get(i).length == 0) {
                throw new IllegalArgumentException("Token window " + i + " of the corpus is empty");
            }
            starts[i + 1] = Math.addExact(starts[i], windows.get(i).length);
        }
        long[] ids = new long[starts[windows.size()]];
        for (int i = 0; i < windows.size(); i++) {
            int[] w = windows.get(i);
            for (int j = 0; j < w.length; j++) {
                ids[starts[i] + j] = w[j];
            }
        }
        return new TokenCorpus(ids, starts);
    }

    int windows() {
        return starts.length - 1;
    }

    long tokens() {
        return ids.length;
    }

    /** The longest window's length. */
    int longest() {
        int most = 0;
        for (int w = 0; w < windows(); w++) {
            most = Math.max(most, length(w));
        }
        return most;
    }

    int length(int window) {
        return starts[window + 1] - starts[window];
    }

    /** Windows {@code first..first+count-1}, all of one length, as [count, length]. */
    NDArray batch(int first, int count) {
        int length = length(first);
        return Tensors.ofLongs(Arrays.copyOfRange(ids, starts[first], starts[first + count]), new Shape(count, length));
    }

    /** How many windows from {@code first} on, at most {@code most}, share the first one's length. */
    int runFrom(int first, int most) {
        int length = length(first);
        int count = 1;
        while (count < most && first + count < windows() && length(first + count) == length) {
            count++;
        }
        return count;
    }
}

package dev.loupe.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

import dev.loupe.tensor.Tensors;
import dev.loupe.tokenize.Tokenizer;

import java.util.Collection;
import java.util.Random;

/**
 * A corpus as one token stream (documents joined by end-of-text, which also starts it) cut into training
 * windows: batch {@code step} is {@code batch} windows of {@code ctx} tokens at positions drawn from a generator
 * seeded by (seed, step), so any step's batch can be made again, as resuming needs. A held-out tail of the stream
 * gives evaluation windows.
 */
public final class TokenWindows {

    private final int[] tokens;
    private final int trainEnd;
    private final int batch;
    private final int ctx;
    private final long seed;

    /** {@code heldOut}: the fraction of the stream (its end) kept for evaluation. */
    public TokenWindows(Tokenizer tokenizer, Collection<String> documents, int batch, int ctx, double heldOut, long seed) {
        int eot = tokenizer.eosTokenId().orElseThrow(() -> new IllegalArgumentException("The tokenizer needs an end-of-text token"));
        java.util.List<int[]> parts = new java.util.ArrayList<>();
        int length = 0;
        for (String document : documents) {
            int[] ids = tokenizer.encode(document);
            parts.add(ids);
            length += ids.length + 1;
        }
        tokens = new int[length];
        int at = 0;
        for (int[] ids : parts) {
            tokens[at++] = eot;
            System.arraycopy(ids, 0, tokens, at, ids.length);
            at += ids.length;
        }
        trainEnd = (int) (length * (1 - heldOut));
        if (trainEnd <= ctx || length - trainEnd <= ctx && heldOut > 0) {
            throw new IllegalArgumentException("The corpus has " + length + " tokens: too few for windows of " + ctx);
        }
        this.batch = batch;
        this.ctx = ctx;
        this.seed = seed;
    }

    public int size() {
        return tokens.length;
    }

    /** Training batch {@code step}: [batch, ctx]. */
    public NDArray batch(long step) {
        Random random = new Random(seed * 1_000_003L + step);
        return windows(random, 0, trainEnd);
    }

    /** A fixed evaluation batch from the held-out tail: [batch, ctx]. */
    public NDArray heldOut() {
        return windows(new Random(seed - 1), trainEnd, tokens.length);
    }

    private NDArray windows(Random random, int from, int to) {
        long[] ids = new long[batch * ctx];
        for (int b = 0; b < batch; b++) {
            int start = from + random.nextInt(to - from - ctx);
            for (int i = 0; i < ctx; i++) {
                ids[b * ctx + i] = tokens[start + i];
            }
        }
        return Tensors.ofLongs(ids, new Shape(batch, ctx));
    }
}

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
    private final double syntheticFraction;
    private final long spansFrom;
    private final int vocab;

    /** Shortest and longest block of a repeated random window. */
    static final int MIN_BLOCK = 8, MAX_BLOCK = 20;

    /** {@code heldOut}: the fraction of the stream (its end) kept for evaluation. */
    public TokenWindows(Tokenizer tokenizer, Collection<String> documents, int batch, int ctx, double heldOut, long seed) {
        this(tokenizer, documents, batch, ctx, heldOut, seed, 0, 0);
    }

    /**
     * As above, with about {@code syntheticFraction} of each training batch's windows replaced by random tokens that
     * repeat (see {@link #batch}): one block said again and again before step {@code spansFrom}, {@link RecurringSpans}
     * from then on. Held-out windows are never altered.
     */
    public TokenWindows(Tokenizer tokenizer, Collection<String> documents, int batch, int ctx, double heldOut, long seed,
                        double syntheticFraction, long spansFrom) {
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
        if (ctx < 1 + 2 * MIN_BLOCK && syntheticFraction > 0) {
            throw new IllegalArgumentException("Synthetic windows need ctx >= " + (1 + 2 * MIN_BLOCK) + ", got " + ctx);
        }
        this.batch = batch;
        this.ctx = ctx;
        this.seed = seed;
        this.syntheticFraction = syntheticFraction;
        this.spansFrom = spansFrom;
        this.vocab = tokenizer.vocabSize();
    }

    public int size() {
        return tokens.length;
    }

    /**
     * Training batch {@code step}: [batch, ctx]. A window chosen to be synthetic is end-of-text, then ids drawn from
     * [1, d_vocab − 1) (in a {@link dev.loupe.tokenize.SubsetTokenizer} that leaves out end-of-text and {@code <unk>}).
     * Before step {@code spansFrom} it is one block of {@value #MIN_BLOCK} to {@value #MAX_BLOCK} ids said again and
     * again to the end of the window: copying from the last occurrence predicts all but the first block, the block
     * length varies so that no fixed offset does, and this easy, plentiful signal is what starts the induction circuit
     * (text alone repeats itself too rarely for copying to pay off within a CPU-sized budget). From step
     * {@code spansFrom} it is {@link RecurringSpans}: short spans recurring in fresh surroundings, which only a sharp
     * previous-token head can exploit, so the circuit that formed on whole-window repetition sharpens.
     */
    public NDArray batch(long step) {
        Random random = new Random(seed * 1_000_003L + step);
        long[] ids = windowIds(random, 0, trainEnd);
        for (int b = 0; b < batch; b++) {
            if (random.nextDouble() < syntheticFraction) {
                if (step < spansFrom) {
                    fillWithRepeatedBlock(ids, b * ctx, random);
                } else {
                    RecurringSpans.fill(ids, b * ctx, ctx, 1, vocab - 1, tokens[0], random);
                }
            }
        }
        return Tensors.ofLongs(ids, new Shape(batch, ctx));
    }

    private void fillWithRepeatedBlock(long[] ids, int from, Random random) {
        int[] block = new int[MIN_BLOCK + random.nextInt(MAX_BLOCK - MIN_BLOCK + 1)];
        for (int i = 0; i < block.length; i++) {
            block[i] = 1 + random.nextInt(vocab - 2);
        }
        ids[from] = tokens[0]; // end-of-text
        for (int i = 1; i < ctx; i++) {
            ids[from + i] = block[(i - 1) % block.length];
        }
    }

    /**
     * The whole stream (training and held-out parts) cut into consecutive windows of ctx tokens, the last partial one
     * left out: [size / ctx, ctx], for a pass over the corpus that reads every token once.
     */
    public NDArray consecutive() {
        int n = tokens.length / ctx;
        long[] ids = new long[n * ctx];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = tokens[i];
        }
        return Tensors.ofLongs(ids, new Shape(n, ctx));
    }

    /** A fixed evaluation batch from the held-out tail: [batch, ctx]. */
    public NDArray heldOut() {
        return heldOut(batch);
    }

    /** {@code count} fixed evaluation windows from the held-out tail: [count, ctx]. */
    public NDArray heldOut(int count) {
        return Tensors.ofLongs(windowIds(new Random(seed - 1), trainEnd, tokens.length, count), new Shape(count, ctx));
    }

    private long[] windowIds(Random random, int from, int to) {
        return windowIds(random, from, to, batch);
    }

    private long[] windowIds(Random random, int from, int to, int rows) {
        long[] ids = new long[rows * ctx];
        for (int b = 0; b < rows; b++) {
            int start = from + random.nextInt(to - from - ctx);
            for (int i = 0; i < ctx; i++) {
                ids[b * ctx + i] = tokens[start + i];
            }
        }
        return ids;
    }
}

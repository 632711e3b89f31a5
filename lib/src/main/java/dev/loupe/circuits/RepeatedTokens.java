package dev.loupe.circuits;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

import dev.loupe.model.HookedTransformer;
import dev.loupe.tensor.Tensors;

import java.util.SplittableRandom;

/**
 * Random token sequences repeated once, the standard probe for induction heads: each row is
 * {@code [prefix] r_0 .. r_{half-1} r_0 .. r_{half-1}}, the optional prefix being one BOS token (as in the ARENA
 * exercises; TransformerLens's {@code induction_loss} instead overwrites the first random token with BOS).
 * Tokens are drawn uniformly from [100, 20000) ∩ [0, d_vocab), as TransformerLens does (GPT-2's lowest ids are
 * single characters); for a vocabulary of 100 tokens or fewer that range is
 * empty and [0, d_vocab) is used.
 *
 * @param tokens [batch, prefix + 2 * half] int64
 * @param half   the length of the random block (the period of the repetition)
 * @param prefix 1 if a BOS token comes first, else 0
 */
public record RepeatedTokens(NDArray tokens, int half, int prefix) {

    public static final int LOW = 100;
    public static final int HIGH = 20000;

    /** Without a BOS token: [batch, 2 * half]. */
    public static RepeatedTokens generate(int batch, int half, int dVocab, long seed) {
        return generate(batch, half, dVocab, seed, null);
    }

    /** With this BOS id first (null for none): [batch, 1 + 2 * half]. */
    public static RepeatedTokens generate(int batch, int half, int dVocab, long seed, Integer bosId) {
        if (dVocab < 2) {
            throw new IllegalArgumentException("Repeated random tokens need a vocabulary of at least 2 tokens, got d_vocab = " + dVocab);
        }
        int lo = dVocab > LOW ? LOW : 0;
        int hi = Math.min(HIGH, dVocab);
        return generate(batch, half, lo, hi, seed, bosId);
    }

    /** Tokens drawn from [low, high), with an optional BOS id first. */
    public static RepeatedTokens generate(int batch, int half, int low, int high, long seed, Integer bosId) {
        if (batch < 1 || half < 1) {
            throw new IllegalArgumentException("batch and half must be positive, got batch = " + batch + ", half = " + half);
        }
        if (low < 0 || high - low < 2) {
            throw new IllegalArgumentException("The token range [" + low + ", " + high + ") must hold at least 2 ids, from 0 up");
        }
        int prefix = bosId == null ? 0 : 1;
        int length = prefix + 2 * half;
        long[] ids = new long[batch * length];
        SplittableRandom random = new SplittableRandom(seed);
        for (int b = 0; b < batch; b++) {
            int row = b * length;
            if (bosId != null) {
                ids[row] = bosId;
            }
            for (int i = 0; i < half; i++) {
                long t = random.nextInt(low, high);
                ids[row + prefix + i] = t;
                ids[row + prefix + half + i] = t;
            }
        }
        return new RepeatedTokens(Tensors.ofLongs(ids, new Shape(batch, length)), half, prefix);
    }

    /**
     * For this model: BOS first if its tokenizer has one (TransformerLens's default prepend_bos), ids in
     * [100, 20000) ∩ [0, d_vocab). The sequence must fit n_ctx.
     */
    public static RepeatedTokens forModel(HookedTransformer model, int batch, int half, long seed) {
        Integer bos = null;
        if (model.tokenizer().isPresent() && model.tokenizer().get().bosTokenId().isPresent()) {
            bos = model.tokenizer().get().bosTokenId().getAsInt();
        }
        int length = (bos == null ? 0 : 1) + 2 * half;
        if (length > model.config().nCtx()) {
            throw new IllegalArgumentException("Repeated tokens of length " + length + " do not fit n_ctx = "
                    + model.config().nCtx() + "; use half ≤ " + (model.config().nCtx() - (bos == null ? 0 : 1)) / 2);
        }
        return generate(batch, half, model.config().dVocab(), seed, bos);
    }

    public int batch() {
        return (int) tokens.getShape().get(0);
    }

    /** prefix + 2 * half. */
    public int length() {
        return prefix + 2 * half;
    }

    /** The random block of each row, [batch, half]. */
    public NDArray randomBlock() {
        return tokens.get(":, " + prefix + ":" + (prefix + half));
    }

    /** The position where the repeat begins. */
    public int repeatStart() {
        return prefix + half;
    }

    /**
     * Next-token loss at each prediction induction can make, [batch, half − 1]: the repeat's tokens after its first
     * (whose predecessor has not occurred before), as TransformerLens's {@code induction_loss} takes the loss over
     * the repeat. A model with induction heads does far better here than the ln(vocabulary) of guessing.
     */
    public NDArray inductionLossPerToken(HookedTransformer model) {
        NDArray perToken = model.lossPerToken(tokens); // entry i predicts token i + 1
        return perToken.get(":, " + repeatStart() + ":");
    }

    /** The mean of {@link #inductionLossPerToken}, a scalar. */
    public NDArray inductionLoss(HookedTransformer model) {
        return inductionLossPerToken(model).mean();
    }
}

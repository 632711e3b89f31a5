package dev.loupe.circuits;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.tensor.Tensors;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * Finds attention heads by what their patterns do on a batch of tokens (usually {@link RepeatedTokens}):
 * previous-token heads (attend from i to i − 1), duplicate-token heads (to earlier occurrences of the current
 * token) and induction heads (to the token after an earlier occurrence of the current token; on a sequence
 * repeated with period T that is i → i − (T − 1)).
 *
 * <p>The {@link #score} methods give, for every head, the attention it pays to its kind's targets, averaged over
 * the query positions that have a target (all positions but the first for previous-token heads; the repeated
 * half for the other two on repeated random tokens). A head that does exactly its job scores 1. On repeated
 * random tokens without accidental repeats these are the ARENA definitions (the mean of the pattern's diagonal at
 * offset −1, −T and −(T − 1) over the repeat).
 *
 * <p>{@link #detectHead} is TransformerLens's {@code detect_head}, with its "mul" and "abs" measures over whole
 * patterns, for porting code that relies on its exact numbers.
 */
public final class HeadDetector {

    /** The kinds of head, with TransformerLens's names for them. */
    public enum Kind {
        PREVIOUS_TOKEN("previous_token_head"),
        DUPLICATE_TOKEN("duplicate_token_head"),
        INDUCTION("induction_head");

        private final String tlName;

        Kind(String tlName) {
            this.tlName = tlName;
        }

        public String tlName() {
            return tlName;
        }
    }

    /** TransformerLens's error measures for {@link #detectHead}. */
    public enum ErrorMeasure {
        /** Attention on the detection pattern's ones over all attention (after exclusions). */
        MUL,
        /** 1 − (sum of |pattern − detection pattern|) / sequence length. */
        ABS
    }

    private HeadDetector() {}

    // ---------------------------------------------------------------- the scores

    public static HeadScores previousToken(HookedTransformer model, NDArray tokens) {
        return score(model, tokens, Kind.PREVIOUS_TOKEN);
    }

    public static HeadScores duplicateToken(HookedTransformer model, NDArray tokens) {
        return score(model, tokens, Kind.DUPLICATE_TOKEN);
    }

    public static HeadScores induction(HookedTransformer model, NDArray tokens) {
        return score(model, tokens, Kind.INDUCTION);
    }

    /** Runs the model (caching only the patterns, with any attached hooks active) and scores every head. */
    public static HeadScores score(HookedTransformer model, NDArray tokens, Kind kind) {
        try (ActivationCache cache = model.runWithCache(tokens, name -> name.endsWith("attn.hook_pattern"))) {
            return score(cache, tokens, kind);
        }
    }

    /** All three kinds from one run (the tokens must contain repeats, e.g. {@link RepeatedTokens}). */
    public static Map<Kind, HeadScores> scoreAll(HookedTransformer model, NDArray tokens) {
        try (ActivationCache cache = model.runWithCache(tokens, name -> name.endsWith("attn.hook_pattern"))) {
            Map<Kind, HeadScores> out = new EnumMap<>(Kind.class);
            for (Kind kind : Kind.values()) {
                out.put(kind, score(cache, tokens, kind));
            }
            return out;
        }
    }

    /** Scores from a cache that holds every layer's {@code hook_pattern}, for the tokens it was run on. */
    public static HeadScores score(ActivationCache cache, NDArray tokens, Kind kind) {
        return score(cache, detectionPattern(tokens, kind), kind.tlName());
    }

    /**
     * Scores against any 0/1 target mask [batch, query_pos, key_pos] (or [query_pos, key_pos] for every row): each
     * head's attention on the targets, summed per query and averaged over the queries that have a target.
     */
    public static HeadScores score(ActivationCache cache, NDArray targets, String name) {
        List<NDArray> patterns = patterns(cache);
        Shape ps = patterns.get(0).getShape(); // [batch, head, q, k]
        NDArray mask = targetsFor(targets, ps);
        long queriesWithTarget = countQueriesWithTarget(mask);
        if (queriesWithTarget == 0) {
            throw new IllegalArgumentException("No query position has a target for '" + name + "' in these tokens"
                    + " (e.g. duplicate-token and induction heads need repeated tokens; use RepeatedTokens).");
        }
        NDList rows = new NDList();
        NDArray m = mask.expandDims(1).toType(patterns.get(0).getDataType(), false);
        for (NDArray p : patterns) {
            NDArray onTargets = p.mul(m).sum(new int[] {0, 2, 3}); // [head]
            rows.add(onTargets.toType(DataType.FLOAT64, false).div(queriesWithTarget));
        }
        return new HeadScores(name, NDArrays.stack(rows, 0).toType(patterns.get(0).getDataType(), false));
    }

    /**
     * TransformerLens's {@code detect_head(model, seq, detection_pattern, exclude_bos=..., exclude_current_token=...,
     * error_measure=...)} on each row of tokens [batch, pos], averaged over rows (as it averages over a list of
     * sequences). MUL: per head and sequence, sum(pattern ∘ detection) / sum(pattern), with column 0 (BOS) and/or
     * the diagonal zeroed in the pattern first. ABS: 1 − sum|pattern − detection| / pos, with the same exclusions
     * applied to the difference (TransformerLens also rounds this to 3 decimals; Loupe does not).
     */
    public static HeadScores detectHead(HookedTransformer model, NDArray tokens, Kind kind, boolean excludeBos,
                                        boolean excludeCurrentToken, ErrorMeasure measure) {
        try (ActivationCache cache = model.runWithCache(tokens, name -> name.endsWith("attn.hook_pattern"))) {
            return detectHead(cache, detectionPattern(tokens, kind), kind.tlName(), excludeBos, excludeCurrentToken, measure);
        }
    }

    /** As above for a cache and a detection pattern [pos, pos] or [batch, pos, pos] of your own. */
    public static HeadScores detectHead(ActivationCache cache, NDArray detection, String name, boolean excludeBos,
                                        boolean excludeCurrentToken, ErrorMeasure measure) {
        List<NDArray> patterns = patterns(cache);
        Shape ps = patterns.get(0).getShape();
        long pos = ps.get(2);
        NDArray det = targetsFor(detection, ps).expandDims(1).toType(DataType.FLOAT64, false); // [batch, 1, q, k]
        NDArray keep = Tensors.manager().ones(new Shape(pos, pos), DataType.FLOAT64);
        if (excludeBos || excludeCurrentToken) {
            double[] k = new double[(int) (pos * pos)];
            java.util.Arrays.fill(k, 1);
            for (int q = 0; q < pos; q++) {
                if (excludeBos) {
                    k[(int) (q * pos)] = 0;
                }
                if (excludeCurrentToken) {
                    k[(int) (q * pos + q)] = 0;
                }
            }
            keep = Tensors.ofDoubles(k, new Shape(pos, pos));
        }
        NDList rows = new NDList();
        for (NDArray p : patterns) {
            NDArray p64 = p.toType(DataType.FLOAT64, false);
            NDArray perSequence; // [batch, head]
            if (measure == ErrorMeasure.MUL) {
                NDArray kept = p64.mul(keep);
                perSequence = kept.mul(det).sum(new int[] {2, 3}).div(kept.sum(new int[] {2, 3}));
            } else {
                perSequence = p64.sub(det).abs().mul(keep).sum(new int[] {2, 3}).div(pos).neg().add(1);
            }
            rows.add(perSequence.mean(new int[] {0}));
        }
        return new HeadScores(name, NDArrays.stack(rows, 0).toType(patterns.get(0).getDataType(), false));
    }

    // ---------------------------------------------------------------- detection patterns

    /**
     * TransformerLens's detection pattern for each row of tokens [batch, pos] (or [pos]): a 0/1 float32 array
     * [batch, pos, pos] with a 1 at (query i, key j) when j is what a head of this kind attends to from i.
     * Previous token: j = i − 1. Duplicate token: j &lt; i with token[j] = token[i]. Induction: j ≥ 1, j ≤ i with
     * token[j − 1] = token[i] and j − 1 &lt; i (the token after an earlier occurrence).
     */
    public static NDArray detectionPattern(NDArray tokens, Kind kind) {
        Shape s = tokens.getShape();
        if (s.dimension() == 1) {
            s = new Shape(1, s.get(0));
        }
        if (s.dimension() != 2) {
            throw new IllegalArgumentException("Tokens must be [batch, pos] or [pos], got " + tokens.getShape());
        }
        int batch = (int) s.get(0);
        int pos = (int) s.get(1);
        long[] ids = tokens.toType(DataType.INT64, false).toLongArray();
        float[] mask = new float[batch * pos * pos];
        for (int b = 0; b < batch; b++) {
            int row = b * pos;
            int base = b * pos * pos;
            for (int i = 0; i < pos; i++) {
                switch (kind) {
                    case PREVIOUS_TOKEN -> {
                        if (i > 0) {
                            mask[base + i * pos + i - 1] = 1;
                        }
                    }
                    case DUPLICATE_TOKEN -> {
                        for (int j = 0; j < i; j++) {
                            if (ids[row + j] == ids[row + i]) {
                                mask[base + i * pos + j] = 1;
                            }
                        }
                    }
                    case INDUCTION -> {
                        for (int j = 0; j < i; j++) {
                            if (ids[row + j] == ids[row + i]) {
                                mask[base + i * pos + j + 1] = 1;
                            }
                        }
                    }
                }
            }
        }
        return Tensors.ofFloats(mask, new Shape(batch, pos, pos));
    }

    // ---------------------------------------------------------------- helpers

    /** Every layer's hook_pattern in the cache, in layer order. */
    private static List<NDArray> patterns(ActivationCache cache) {
        List<NDArray> out = new ArrayList<>();
        for (int layer = 0; cache.contains("blocks." + layer + ".attn.hook_pattern"); layer++) {
            out.add(cache.get("blocks." + layer + ".attn.hook_pattern"));
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("The cache holds no attention patterns (blocks.0.attn.hook_pattern, ...); run"
                    + " model.runWithCache(tokens, name -> name.endsWith(\"hook_pattern\")) or pass the model instead.");
        }
        return out;
    }

    /** A mask [pos, pos] or [batch, pos, pos] checked against patterns [batch, head, pos, pos], as [batch, pos, pos]. */
    private static NDArray targetsFor(NDArray mask, Shape patternShape) {
        long batch = patternShape.get(0);
        long q = patternShape.get(2);
        long k = patternShape.get(3);
        Shape s = mask.getShape();
        if (s.dimension() == 2 && s.get(0) == q && s.get(1) == k) {
            return mask.expandDims(0).broadcast(new Shape(batch, q, k));
        }
        if (s.dimension() == 3 && s.get(0) == batch && s.get(1) == q && s.get(2) == k) {
            return mask;
        }
        throw new IllegalArgumentException("The detection pattern has shape " + s + " but the cached patterns are "
                + patternShape + " [batch, head, q, k]; expected [" + q + ", " + k + "] or [" + batch + ", " + q + ", " + k
                + "]. Were the tokens the ones the cache was made from?");
    }

    private static long countQueriesWithTarget(NDArray mask) {
        float[] rowSums = mask.toType(DataType.FLOAT32, false).sum(new int[] {2}).toFloatArray();
        long count = 0;
        for (float v : rowSums) {
            if (v > 0) {
                count++;
            }
        }
        return count;
    }
}

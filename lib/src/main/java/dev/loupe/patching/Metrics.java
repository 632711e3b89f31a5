package dev.loupe.patching;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

import dev.loupe.tensor.Tensors;

import java.util.function.Function;

/**
 * The metrics circuit papers patch against, as functions of logits [batch, pos, vocab] to a scalar. Log-probs
 * and logit differences rather than probabilities, as the literature recommends: they respond linearly
 * where probabilities saturate.
 */
public final class Metrics {

    private Metrics() {}

    /**
     * A metric that reads each prompt's logits at one position only (its last real token, say). Sweeps then unembed
     * just those positions and hand the metric logits [batch, 1, vocab], which it reads at index 0; given the logits
     * of every position [batch, pos, vocab] it reads the positions itself.
     */
    public interface AtPositions extends Function<NDArray, NDArray> {
        /** The position read in each of the {@code batch} rows of a run of {@code pos} positions. */
        long[] positions(long batch, long pos);
    }

    /** A metric that reads the same position (negative counts from the end) in every row. */
    public interface AtPosition extends AtPositions {
        int position();

        @Override
        default long[] positions(long batch, long pos) {
            long[] at = new long[Math.toIntExact(batch)];
            java.util.Arrays.fill(at, position() < 0 ? pos + position() : position());
            return at;
        }
    }

    private static AtPosition at(int pos, Function<NDArray, NDArray> f) {
        return new AtPosition() {
            @Override
            public NDArray apply(NDArray logits) {
                return f.apply(logits);
            }

            @Override
            public int position() {
                return pos;
            }
        };
    }

    /**
     * The position {@code metric} reads in each row of tokens of this shape ([batch, pos] or [pos]), so that a run can
     * unembed those alone; null where it may read any (it is no {@link AtPositions}).
     */
    static long[] positionsRead(Function<NDArray, NDArray> metric, Shape tokens) {
        long batch = tokens.dimension() == 1 ? 1 : tokens.get(0);
        return metric instanceof AtPositions p ? p.positions(batch, tokens.get(tokens.dimension() - 1)) : null;
    }

    /** {@code f} as a metric that reads row i at {@code positions[i]}; {@code f} must handle both shapes of logits. */
    public static AtPositions atPositions(long[] positions, Function<NDArray, NDArray> f) {
        long[] own = positions.clone();
        return reading(f, (batch, pos) -> {
            if (batch != own.length) {
                throw new IllegalArgumentException("This metric reads " + own.length + " prompts, one position each, but the"
                        + " run has " + batch + " rows");
            }
            return own.clone();
        });
    }

    /** {@code f}, reading the positions {@code metric} reads (a metric built on another keeps its positions). */
    public static Function<NDArray, NDArray> readingAs(Function<NDArray, NDArray> metric, Function<NDArray, NDArray> f) {
        if (metric instanceof AtPosition p) {
            return at(p.position(), f);
        }
        return metric instanceof AtPositions p ? reading(f, p::positions) : f;
    }

    private interface Positions {
        long[] of(long batch, long pos);
    }

    private static AtPositions reading(Function<NDArray, NDArray> f, Positions positions) {
        return new AtPositions() {
            @Override
            public NDArray apply(NDArray logits) {
                return f.apply(logits);
            }

            @Override
            public long[] positions(long batch, long pos) {
                return positions.of(batch, pos);
            }
        };
    }

    /** Mean over the batch of logit[answer] − logit[wrong] at the last position. */
    public static AtPosition logitDiff(int[] answers, int[] wrong) {
        return logitDiff(answers, wrong, -1);
    }

    /** As {@link #logitDiff(int[], int[])} at the given position (negative counts from the end). */
    public static AtPosition logitDiff(int[] answers, int[] wrong, int pos) {
        if (answers.length != wrong.length) {
            throw new IllegalArgumentException("answers has " + answers.length + " tokens but wrong has " + wrong.length);
        }
        return at(pos, logits -> {
            NDArray last = atPosition(logits, pos, answers.length);
            return last.gather(indices(last, answers), 1).sub(last.gather(indices(last, wrong), 1)).mean();
        });
    }

    /** Mean over the batch of log p(answer) at the last position. */
    public static AtPosition logProb(int[] answers) {
        return at(-1, logits -> {
            NDArray last = atPosition(logits, -1, answers.length).logSoftmax(-1);
            return last.gather(indices(last, answers), 1).mean();
        });
    }

    /**
     * (metric − corrupted) / (clean − corrupted): 0 where the patched run scores like the corrupted run, 1 where
     * it scores like the clean one.
     */
    public static Function<NDArray, NDArray> normalized(Function<NDArray, NDArray> metric, double clean, double corrupted) {
        if (clean == corrupted) {
            throw new IllegalArgumentException("The metric is " + clean + " on both the clean and the corrupted run; "
                    + "there is nothing to normalise by.");
        }
        Function<NDArray, NDArray> f = logits -> { // the divisor as owned storage: attribution takes gradients through it
            NDArray m = metric.apply(logits);
            return m.sub(corrupted).div(Tensors.scalar(clean - corrupted, m.getDataType()));
        };
        return readingAs(metric, f);
    }

    private static NDArray atPosition(NDArray logits, int pos, int batch) {
        if (logits.getShape().dimension() != 3 || logits.getShape().get(0) != batch) {
            throw new IllegalArgumentException("Expected logits [" + batch + ", pos, vocab] for " + batch
                    + " answers, got " + logits.getShape());
        }
        long len = logits.getShape().get(1);
        long p = len == 1 ? 0 : pos < 0 ? len + pos : pos;
        return logits.get(":, " + p + ", :"); // [batch, vocab]
    }

    private static NDArray indices(NDArray like, int[] ids) {
        long[] values = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            values[i] = ids[i];
        }
        return Tensors.ofLongs(values, new Shape(ids.length, 1));
    }
}

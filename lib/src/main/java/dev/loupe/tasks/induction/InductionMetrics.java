package dev.loupe.tasks.induction;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import dev.loupe.circuits.HeadDetector;
import dev.loupe.circuits.RepeatedTokens;
import dev.loupe.model.HookedTransformer;
import dev.loupe.plot.Chart;
import dev.loupe.train.TrainingLog;

/**
 * The measurements that show induction heads forming, cheap enough to log during training.
 *
 * <ul>
 *   <li>{@link #bestHeadScore}: the largest previous-token or induction score of any head in a layer, on repeated
 *       random tokens (BOS, then 50 random tokens twice, as the tutorial's probe).</li>
 *   <li>{@link #inContextLearningScore}: Olsson et al.'s in-context-learning score, the loss late in a context
 *       minus the loss early in it (their 500th versus 50th token; here positions are scaled to the model's
 *       context), averaged over a window of positions and many held-out windows so that it is not noise.</li>
 *   <li>{@link #phaseChange}: where, in a training log of both, the induction score jumps and what the
 *       in-context-learning score does meanwhile.</li>
 * </ul>
 */
public final class InductionMetrics {

    private InductionMetrics() {}

    /** BOS, then {@code half} random ids from [low, d_vocab) twice: the probe used in training logs and tests. */
    public static RepeatedTokens probe(HookedTransformer model, int batch, int half, int bosId, long seed) {
        int dVocab = model.config().dVocab();
        int low = Math.min(RepeatedTokens.LOW, dVocab / 2);
        return RepeatedTokens.generate(batch, half, low, dVocab - 1, seed, bosId); // the last id is <unk>, skipped
    }

    /** The best score of kind {@code kind} among layer {@code layer}'s heads. */
    public static double bestHeadScore(HookedTransformer model, RepeatedTokens probe, HeadDetector.Kind kind, int layer) {
        return HeadDetector.score(model, probe.tokens(), kind).scores().get(layer).max()
                .toType(DataType.FLOAT64, false).getDouble();
    }

    /**
     * Mean loss at positions [late − w, late) minus mean loss at [early − w, early) of {@code windows} [batch, ctx]
     * (position i's loss predicts token i + 1). Negative once the model uses its context.
     */
    public static double inContextLearningScore(HookedTransformer model, NDArray windows, int early, int late, int w) {
        NDArray perToken = model.lossPerToken(windows);
        double lateLoss = perToken.get(":, " + (late - w) + ":" + late).mean().toType(DataType.FLOAT64, false).getDouble();
        double earlyLoss = perToken.get(":, " + (early - w) + ":" + early).mean().toType(DataType.FLOAT64, false).getDouble();
        return lateLoss - earlyLoss;
    }

    /** Mean next-token loss on the first random block minus on its repeat (positive: the repeat is predicted). */
    public static double repeatedHalfGap(HookedTransformer model, RepeatedTokens probe) {
        NDArray perToken = model.lossPerToken(probe.tokens());
        int start = probe.repeatStart();
        double first = perToken.get(":, " + probe.prefix() + ":" + (start - 1)).mean().toType(DataType.FLOAT64, false).getDouble();
        double repeat = perToken.get(":, " + start + ":").mean().toType(DataType.FLOAT64, false).getDouble();
        return first - repeat;
    }

    /**
     * The phase change in a training log: the steps of the first evaluations at which the best induction score reached
     * {@code low} and then {@code high}, and the in-context-learning score averaged over the three evaluations before
     * the first and over the three after the second (one evaluation is noisy).
     */
    public record PhaseChange(long fromStep, long toStep, double iclBefore, double iclAfter) {}

    public static PhaseChange phaseChange(TrainingLog log, double low, double high) {
        Chart.Series induction = log.series("induction_score");
        double[] icl = log.series("icl_score").y();
        double[] score = induction.y();
        if (icl.length != score.length) {
            throw new IllegalArgumentException("The log has " + score.length + " induction scores but " + icl.length
                    + " in-context-learning scores; phaseChange needs both at every evaluation");
        }
        int from = firstAtLeast(score, low, 0);
        int to = from < 0 ? -1 : firstAtLeast(score, high, from);
        if (to < 0) {
            throw new IllegalArgumentException("The induction score never rose from " + low + " to " + high + " (best "
                    + java.util.Arrays.stream(score).max().orElse(Double.NaN) + ")");
        }
        return new PhaseChange((long) induction.x()[from], (long) induction.x()[to], mean(icl, from - 3, from), mean(icl, to + 1, to + 4));
    }

    private static int firstAtLeast(double[] values, double threshold, int start) {
        for (int i = start; i < values.length; i++) {
            if (values[i] >= threshold) {
                return i;
            }
        }
        return -1;
    }

    private static double mean(double[] values, int from, int to) {
        return java.util.Arrays.stream(values, Math.max(0, from), Math.min(values.length, to)).average().orElse(Double.NaN);
    }
}

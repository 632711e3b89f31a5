package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.tensor.Tensors;
import dev.loupe.train.AdamW;

import java.util.Map;
import java.util.Random;

/**
 * Anthropic's resampling of dead features ("Towards Monosemanticity", 2023): each dead feature gets an input drawn
 * with probability proportional to the square of the SAE's loss on it; its decoder row becomes that input (as the
 * encoder sees it, b_dec subtracted) at unit norm, its encoder column the same direction at 0.2 × the alive features'
 * mean encoder norm, its encoder bias 0, and Adam's moments for all three restart from zero.
 */
final class Resampler {

    static final double ENCODER_SCALE = 0.2;

    private Resampler() {}

    /** Resamples the features {@code dead} ([d_sae] booleans) marks, from the inputs {@code x} [batch, d_in]; says how many. */
    static int resample(TrainingSae sae, AdamW optimizer, NDArray dead, NDArray x, long seed) {
        boolean[] isDead = dead.toBooleanArray();
        int count = 0;
        for (boolean d : isDead) {
            count += d ? 1 : 0;
        }
        if (count == 0) {
            return 0;
        }
        Map<String, NDArray> p = sae.params;
        DataType type = p.get("W_enc").getDataType();
        NDArray input = x.toType(type, false);
        SaeLosses.Result r = SaeLosses.compute(sae.cfg, p, input, input, SaeLosses.Terms.of(0));
        double[] weights = r.output().sub(input).square().sum(new int[] {1}).square().toType(DataType.FLOAT64, false).toDoubleArray();
        Random random = new Random(seed);
        long[] chosen = new long[isDead.length];
        for (int i = 0; i < isDead.length; i++) {
            chosen[i] = isDead[i] ? draw(weights, random) : 0;
        }
        NDArray seen = sae.cfg.applyBDecToInput() ? input.sub(p.get("b_dec")) : input;
        NDArray directions = seen.get(Tensors.ofLongs(chosen, new Shape(chosen.length)));
        directions = directions.div(directions.norm(new int[] {1}, true).maximum(1e-12));
        NDArray deadRows = dead.toType(type, false).expandDims(1);     // [d_sae, 1]
        NDArray aliveRows = deadRows.neg().add(1);
        NDArray wEnc = p.get("W_enc");
        NDArray encoderNorms = wEnc.norm(new int[] {0});
        double alive = isDead.length - count;
        double meanAliveNorm = alive == 0 ? 1 : encoderNorms.mul(aliveRows.squeeze(1)).sum()
                .toType(DataType.FLOAT64, false).getDouble() / alive;
        p.get("W_dec").muli(aliveRows).addi(directions.mul(deadRows));
        wEnc.muli(aliveRows.transpose()).addi(directions.mul(deadRows).transpose().mul(ENCODER_SCALE * meanAliveNorm));
        p.get("b_enc").muli(aliveRows.squeeze(1));
        Map<String, NDArray> moments = optimizer.state();
        for (String kind : new String[] {"m.", "v."}) {
            restart(moments.get(kind + "W_dec"), aliveRows);
            restart(moments.get(kind + "W_enc"), aliveRows.transpose());
            restart(moments.get(kind + "b_enc"), aliveRows.squeeze(1));
        }
        return count;
    }

    private static void restart(NDArray moment, NDArray keep) {
        if (moment != null) {
            moment.muli(keep.toType(moment.getDataType(), false));
        }
    }

    /** An index drawn with probability proportional to its weight (uniform if every weight is 0). */
    private static long draw(double[] weights, Random random) {
        double total = 0;
        for (double w : weights) {
            total += w;
        }
        if (!(total > 0)) {
            return random.nextInt(weights.length);
        }
        double u = random.nextDouble() * total;
        for (int i = 0; i < weights.length; i++) {
            u -= weights[i];
            if (u < 0) {
                return i;
            }
        }
        return weights.length - 1;
    }
}

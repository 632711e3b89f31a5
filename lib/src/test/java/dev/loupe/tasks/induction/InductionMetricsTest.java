package dev.loupe.tasks.induction;

import ai.djl.ndarray.types.DataType;

import dev.loupe.circuits.HeadDetector;
import dev.loupe.circuits.RepeatedTokens;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;

import dev.loupe.train.TrainingLog;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InductionMetricsTest {

    @TempDir
    Path tmp;

    /** A hand-made log: evaluations every 100 steps, the induction score jumping between steps 500 and 700. */
    @Test
    void thePhaseChangeIsWhereTheInductionScoreJumpsWithTheIclScoreAroundIt() throws IOException {
        double[] induction = {0.01, 0.02, 0.02, 0.03, 0.02, 0.06, 0.15, 0.3, 0.31, 0.3, 0.32};
        double[] icl = {-0.1, -0.1, -0.2, -0.1, -0.15, -0.2, -0.3, -0.4, -0.45, -0.4, -0.38};
        StringBuilder csv = new StringBuilder("step,loss,lr,grad_norm,induction_score,icl_score\n");
        for (int i = 0; i < induction.length; i++) {
            csv.append(100 * i + 50).append(",3,0.1,NaN,NaN,NaN\n");   // a training-only row between evaluations
            csv.append(100 * (i + 1)).append(",3,0.1,1,").append(induction[i]).append(',').append(icl[i]).append('\n');
        }
        Files.writeString(tmp.resolve("metrics.csv"), csv);
        TrainingLog log = TrainingLog.read(tmp.resolve("metrics.csv"));
        var change = InductionMetrics.phaseChange(log, 0.05, 0.2);
        assertEquals(600, change.fromStep());
        assertEquals(800, change.toStep());
        assertEquals((-0.2 - 0.1 - 0.15) / 3, change.iclBefore(), 1e-12);   // steps 300, 400, 500
        assertEquals((-0.45 - 0.4 - 0.38) / 3, change.iclAfter(), 1e-12);   // steps 900, 1000, 1100
        var never = assertThrows(IllegalArgumentException.class, () -> InductionMetrics.phaseChange(log, 0.05, 0.5));
        assertTrue(never.getMessage().contains("0.32"), never.getMessage());
    }

    private static HookedTransformer tiny() {
        ModelConfig cfg = AttnOnly2l.config(0).toBuilder().dVocab(300).dVocabOut(300).nCtx(120).dtype(DataType.FLOAT64).build();
        return HookedTransformer.create(cfg);
    }

    @Test
    void aModelThatIgnoresItsInputScoresZeroGapAndZeroInContextLearning() {
        // Hand-worked: a zero unembedding gives uniform predictions, so every position's loss is ln(d_vocab).
        HookedTransformer blank = tiny();
        blank.setParameter("unembed.W_U", blank.W_U().zerosLike());
        RepeatedTokens probe = InductionMetrics.probe(blank, 4, 50, 0, 1);
        assertEquals(0, InductionMetrics.repeatedHalfGap(blank, probe), 1e-12);
        assertEquals(0, InductionMetrics.inContextLearningScore(blank, probe.tokens(), 20, 90, 10), 1e-12);
        assertEquals(Math.log(300), blank.lossPerToken(probe.tokens()).get("0, 7").getDouble(), 1e-12);
    }

    @Test
    void theProbeIsBosThenABlockTwiceWithoutTheUnknownToken() {
        RepeatedTokens probe = InductionMetrics.probe(tiny(), 3, 50, 0, 7);
        long[] ids = probe.tokens().toLongArray();
        assertEquals(3 * 101, ids.length);
        for (int row = 0; row < 3; row++) {
            assertEquals(0, ids[row * 101]);
            for (int i = 1; i <= 50; i++) {
                assertEquals(ids[row * 101 + i], ids[row * 101 + 50 + i]);
                assertTrue(ids[row * 101 + i] >= 100 && ids[row * 101 + i] < 299, "id " + ids[row * 101 + i]);
            }
        }
    }

    @Test
    void theBestHeadScoreIsTheLayersLargestDetectorScore() {
        HookedTransformer model = tiny();
        RepeatedTokens probe = InductionMetrics.probe(model, 2, 20, 0, 3);
        double[] layer1 = HeadDetector.induction(model, probe.tokens()).scores().get(1).toType(DataType.FLOAT64, false).toDoubleArray();
        double max = java.util.Arrays.stream(layer1).max().orElseThrow();
        assertEquals(max, InductionMetrics.bestHeadScore(model, probe, HeadDetector.Kind.INDUCTION, 1), 1e-12);
    }
}

package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.jni.JniUtils;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Checkpoints and resumption (equal to the uninterrupted run up to float rounding, not bit for bit), and the resampling of dead features, on the toy activations of {@link SaeTrainToyTest}. */
class SaeTrainLoopTest {

    private static final double[][] TRUTH = SaeTrainToyTest.truth(7);

    private static ActivationStore store() {
        return ActivationStore.ofActivations("toy", i -> SaeTrainToyTest.block(TRUTH, i)).windowsPerRefill(1);
    }

    private static SaeTraining options(SaeConfig cfg, Path dir) {
        return SaeTraining.of(SaeTrainToyTest.toyModel(), cfg).tokens(40 * 256).batchSize(256).lr(3e-3).l1(0.1)
                .sparsityWarmupSteps(10).lrWarmupSteps(5).lrDecaySteps(10).normaliseActivations(true)
                .normaliseDecoder(true).bDecInit(SaeTraining.BDecInit.GEOMETRIC_MEDIAN).resampleEvery(15)
                .deadWindowTokens(5 * 256).seed(3).checkpoints(dir, 10);
    }

    @Test
    void resumedRunEqualsAnUninterruptedOne(@TempDir Path tmp) throws Exception {
        SaeConfig cfg = SaeConfig.standard("toy", SaeTrainToyTest.D, 64);
        SaeTrainer whole = options(cfg, tmp.resolve("whole")).train(store());

        SaeTraining interrupted = options(cfg, tmp.resolve("parts"));
        interrupted.trainer(store()).run(23);
        assertTrue(Files.isRegularFile(tmp.resolve("parts/cfg.json")), "a SAELens folder at each checkpoint");
        SaeTrainer resumed = interrupted.trainer(store());
        assertEquals(23, resumed.step());
        resumed.run(interrupted.steps());

        for (String name : whole.parameters().keySet()) {
            assertArrayEquals(whole.parameters().get(name).toFloatArray(), resumed.parameters().get(name).toFloatArray(),
                    1e-6f, name);
        }
        assertArrayEquals(whole.log().column("loss"), resumed.log().column("loss"), 1e-5);
        assertArrayEquals(whole.tokensSinceFired().toDoubleArray(), resumed.tokensSinceFired().toDoubleArray());
        double worst = 0;
        for (String name : whole.parameters().keySet()) {
            worst = Math.max(worst, whole.parameters().get(name).sub(resumed.parameters().get(name)).abs().max().getFloat());
        }
        System.out.printf("resumed at step 23: weights within %.2g of the uninterrupted 40-step run's, dead-feature"
                + " counters equal%n", worst);
    }

    @Test
    void resamplingRevivesAFeatureKilledOnPurpose() throws Exception {
        SaeConfig cfg = SaeConfig.standard("toy", SaeTrainToyTest.D, 64);
        SaeTrainer trainer = SaeTraining.of(SaeTrainToyTest.toyModel(), cfg).tokens(40 * 256).batchSize(256).lr(1e-3)
                .l1(0.1).resampleEvery(20).deadWindowTokens(5 * 256).seed(3).trainer(store());
        NDArray bEnc = trainer.parameters().get("b_enc");
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        bEnc.set(new ai.djl.ndarray.index.NDIndex("5"), -1000f); // feature 5 can never fire
        JniUtils.setGradMode(grad);
        trainer.run(19);
        assertTrue(trainer.deadFeatures().getBoolean(5), "feature 5 is dead before resampling");
        trainer.run(20);
        float[] row = trainer.parameters().get("W_dec").get("5").toFloatArray();
        double norm = 0;
        for (float v : row) {
            norm += v * v;
        }
        assertEquals(1, Math.sqrt(norm), 1e-5, "its decoder row is a unit input direction");
        assertEquals(0, trainer.parameters().get("b_enc").getFloat(5), 1e-6);
        trainer.run(30);
        double since = trainer.tokensSinceFired().getDouble(5);
        System.out.printf("feature 5: killed, dead at step 19, resampled at step 20; tokens since it last fired at step 30: %.0f%n", since);
        assertTrue(since < 10 * 256, "feature 5 fired after resampling");
    }
}

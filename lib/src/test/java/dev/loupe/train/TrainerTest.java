package dev.loupe.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TrainerTest {

    @TempDir
    Path tmp;

    /** PyTorch's AdamW update written out in doubles, for three steps with weight decay. */
    @Test
    void adamWFollowsTheAlgorithmStepByStep() {
        double lr = 0.1, b1 = 0.9, b2 = 0.98, eps = 1e-8, wd = 1.0;
        double[] p = {0.5, -1.5};
        double[][] grads = {{0.2, -0.4}, {-0.1, 0.3}, {0.05, 0.05}};
        double[] m = new double[2], v = new double[2];
        NDArray param = Tensors.ofDoubles(p.clone(), new Shape(2));
        AdamW adamW = new AdamW(b1, b2, eps, wd);
        for (int t = 1; t <= 3; t++) {
            for (int i = 0; i < 2; i++) {
                double g = grads[t - 1][i];
                p[i] *= 1 - lr * wd;
                m[i] = b1 * m[i] + (1 - b1) * g;
                v[i] = b2 * v[i] + (1 - b2) * g * g;
                double mHat = m[i] / (1 - Math.pow(b1, t));
                double vHat = v[i] / (1 - Math.pow(b2, t));
                p[i] -= lr * mHat / (Math.sqrt(vHat) + eps);
            }
            adamW.step(Map.of("p", param), Map.of("p", Tensors.ofDoubles(grads[t - 1], new Shape(2))), lr);
            assertArrayEquals(p, param.toDoubleArray(), 1e-12, "after step " + t);
        }
    }

    @Test
    void schedulesWarmUpAndDecay() {
        LrSchedule s = LrSchedule.warmupCosine(1.0, 10, 110, 0.1);
        assertEquals(0.1, s.at(0), 1e-12);
        assertEquals(1.0, s.at(9), 1e-12);
        assertEquals(0.55, s.at(60), 1e-12); // half way through the cosine
        assertEquals(0.1, s.at(110), 1e-12);
    }

    private static HookedTransformer tinyModel() {
        return HookedTransformer.create(ModelConfig.builder().modelName("tiny").nLayers(1).dModel(32).nHeads(2)
                .dVocab(16).nCtx(16).build(), 3);
    }

    /** Batches of a fixed cycle 0..7 from a random start: perfectly predictable after the first token. */
    private static NDArray cycleBatch(long step) {
        Random r = new Random(step);
        long[] ids = new long[4 * 12];
        for (int b = 0; b < 4; b++) {
            int start = r.nextInt(8);
            for (int i = 0; i < 12; i++) ids[b * 12 + i] = (start + i) % 8;
        }
        return Tensors.ofLongs(ids, new Shape(4, 12));
    }

    @Test
    void aTinyModelLearnsAPredictableSequenceAndTheSameSeedRepeatsTheRun() throws IOException {
        TrainingLog first = new Trainer(tinyModel(), new AdamW(0.9, 0.98, 1e-8, 0.0), LrSchedule.constant(1e-2),
                TrainerTest::cycleBatch, 1.0).run(150);
        double[] loss = first.column("loss");
        assertTrue(loss[0] > 2.0, "starts near ln 16 = 2.77: " + loss[0]);
        assertTrue(loss[loss.length - 1] < 0.3, "learns the cycle: " + loss[loss.length - 1]);
        TrainingLog second = new Trainer(tinyModel(), new AdamW(0.9, 0.98, 1e-8, 0.0), LrSchedule.constant(1e-2),
                TrainerTest::cycleBatch, 1.0).run(150);
        assertArrayEquals(loss, second.column("loss"), 0, "same seed and data, same run");
    }

    @Test
    void aResumedRunEndsWhereAnUninterruptedOneDoes() throws IOException {
        HookedTransformer straight = tinyModel();
        new Trainer(straight, new AdamW(0.9, 0.98, 1e-8, 0.1), LrSchedule.warmup(1e-2, 5), TrainerTest::cycleBatch, 1.0)
                .evaluate("first_loss", 5, m -> m.loss(cycleBatch(0)).getFloat() * 1.0).run(20);

        Path dir = tmp.resolve("run");
        new Trainer(tinyModel(), new AdamW(0.9, 0.98, 1e-8, 0.1), LrSchedule.warmup(1e-2, 5), TrainerTest::cycleBatch, 1.0)
                .checkpoints(dir, 10).run(10);
        assertTrue(Files.exists(dir.resolve("model.safetensors")) && Files.exists(dir.resolve("optimizer.safetensors")));
        try (var files = Files.list(tmp)) {
            assertEquals(1, files.count(), "no partial checkpoint folders left");
        }
        HookedTransformer resumedModel = tinyModel();
        Trainer resumed = new Trainer(resumedModel, new AdamW(0.9, 0.98, 1e-8, 0.1), LrSchedule.warmup(1e-2, 5),
                TrainerTest::cycleBatch, 1.0).resume(dir);
        assertEquals(10, resumed.step());
        TrainingLog log = resumed.run(20);
        assertEquals(20, log.steps().length, "the log continues the checkpoint's");
        for (String name : straight.stateDict().keySet()) {
            assertArrayEquals(straight.parameter(name).toFloatArray(), resumedModel.parameter(name).toFloatArray(), 1e-6f, name);
        }
    }

    @Test
    void anInterruptEndsTheRunAndLeavesTheModelUsable() throws Exception {
        HookedTransformer model = tinyModel();
        Trainer trainer = new Trainer(model, AdamW.defaults(), LrSchedule.constant(1e-3), TrainerTest::cycleBatch, 0);
        Thread t = new Thread(() -> {
            try {
                trainer.run(1_000_000);
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        t.start();
        Thread.sleep(1500);
        t.interrupt();
        t.join(10_000);
        assertFalse(t.isAlive());
        assertTrue(trainer.step() > 0 && trainer.step() < 1_000_000);
        assertFalse(model.W_E().hasGradient(), "parameters no longer require gradients");
        assertEquals(DataType.FLOAT32, model.forward(cycleBatch(0)).getDataType());
    }
}

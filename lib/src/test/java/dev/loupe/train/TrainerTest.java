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
import static org.junit.jupiter.api.Assertions.assertThrows;
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
        LrSchedule restarted = s.then(50, LrSchedule.warmup(2.0, 4));
        assertEquals(s.at(49), restarted.at(49), 1e-12);
        assertEquals(0.5, restarted.at(50), 1e-12); // the second schedule's step 0
        assertEquals(2.0, restarted.at(53), 1e-12);
        assertEquals(2.0, restarted.at(500), 1e-12);
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
                TrainerTest::cycleBatch, 1.0);
        assertTrue(!resumed.resumeIfSaved(tmp.resolve("nothing here")) && resumed.step() == 0, "no checkpoint: a fresh run");
        assertTrue(resumed.resumeIfSaved(dir));
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

    /**
     * Frozen parameters keep their values; without clipping the gradient norm is measured only on evaluation steps,
     * where it equals the norm of the gradients the filter saw; evaluateAll logs every metric it returns.
     */
    @Test
    void frozenParametersStayAndTheNormIsMeasuredWhereEvaluated() throws IOException {
        HookedTransformer model = tinyModel();
        float[] bias = model.parameter("blocks.0.attn.b_Q").toFloatArray();
        float[] embed = model.W_E().toFloatArray();
        double[] seen = new double[1];
        TrainingLog log = new Trainer(model, new AdamW(0.9, 0.98, 1e-8, 1.0), LrSchedule.constant(1e-2), TrainerTest::cycleBatch, 0)
                .trainOnly(name -> !name.contains(".b_"))
                .filterGradients(grads -> seen[0] = Math.sqrt(grads.values().stream()
                        .mapToDouble(g -> g.toType(DataType.FLOAT64, false).square().sum().getDouble()).sum()))
                .evaluateAll(4, m -> Map.of("a", 1.0, "b", 2.0))
                .run(8);
        assertArrayEquals(bias, model.parameter("blocks.0.attn.b_Q").toFloatArray(), "weight decay and updates skip frozen biases");
        assertFalse(java.util.Arrays.equals(embed, model.W_E().toFloatArray()), "the rest trains");
        double[] norm = log.column("grad_norm");
        for (int i = 0; i < 8; i++) {
            assertEquals(i == 3 || i == 7, !Double.isNaN(norm[i]), "norm at step " + (i + 1));
        }
        assertEquals(seen[0], norm[7], 1e-6 * seen[0]);
        assertEquals(2.0, log.last("b"));
        assertTrue(Double.isNaN(log.column("a")[0]));

        TrainingLog every4 = log.sampled(4);
        assertArrayEquals(new long[] {4, 8}, every4.steps());
        assertEquals(log.column("loss")[3], every4.column("loss")[0]);
        every4.put(8, "later", 5.0);
        assertTrue(Double.isNaN(every4.column("later")[0]));
        assertEquals(5.0, every4.column("later")[1]);
        assertThrows(IllegalArgumentException.class, () -> every4.put(5, "later", 1.0));
    }

    /** A folder written atomically replaces the old one whole; a failed write leaves the old one and no debris. */
    @Test
    void atomicFoldersAppearWholeOrNotAtAll() throws IOException {
        Path dir = tmp.resolve("published");
        AtomicFolder.write(dir, d -> Files.writeString(d.resolve("a.txt"), "one"));
        AtomicFolder.write(dir, d -> Files.writeString(d.resolve("b.txt"), "two"));
        assertFalse(Files.exists(dir.resolve("a.txt")), "replaced, not merged");
        assertThrows(IOException.class, () -> AtomicFolder.write(dir, d -> {
            Files.writeString(d.resolve("c.txt"), "half");
            throw new IOException("disk full");
        }));
        assertEquals("two", Files.readString(dir.resolve("b.txt")));
        try (var files = Files.list(tmp)) {
            assertEquals(1, files.count(), "no partial folders left");
        }
    }
}

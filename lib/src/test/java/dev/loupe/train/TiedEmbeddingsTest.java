package dev.loupe.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;

import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TiedEmbeddingsTest {

    @TempDir
    Path tmp;

    private static HookedTransformer model(DataType dtype) {
        return HookedTransformer.create(ModelConfig.builder().modelName("tied").nLayers(1).dModel(16).nHeads(2)
                .dVocab(12).nCtx(10).dtype(dtype).build(), 5);
    }

    private static NDArray batch(long step) {
        Random r = new Random(step);
        long[] ids = new long[3 * 10];
        for (int i = 0; i < ids.length; i++) ids[i] = r.nextInt(12);
        return Tensors.ofLongs(ids, new Shape(3, 10));
    }

    private static double[] transposed(NDArray m) {
        return m.transpose().duplicate().toType(DataType.FLOAT64, false).toDoubleArray();
    }

    @Test
    void trainingWithWeightDecayKeepsTheUnembeddingTheEmbeddingsTransposeAndItSavesAsAnOrdinaryModel() throws IOException {
        HookedTransformer m = model(DataType.FLOAT32);
        assertTrue(m.W_U().toFloatArray()[0] != m.W_E().toFloatArray()[0], "untied at creation");
        TiedEmbeddings tied = TiedEmbeddings.tie(m);
        assertArrayEquals(transposed(m.W_E()), m.W_U().toType(DataType.FLOAT64, false).toDoubleArray(), 0);
        new Trainer(m, new AdamW(0.9, 0.98, 1e-8, 0.1), LrSchedule.warmup(1e-2, 3), TiedEmbeddingsTest::batch, 1.0)
                .filterGradients(tied).run(25);
        double[] unembed = m.W_U().toType(DataType.FLOAT64, false).toDoubleArray();
        assertArrayEquals(transposed(m.W_E()), unembed, 0, "still tied, exactly, after 25 steps");

        m.save(tmp.resolve("saved"));
        HookedTransformer back = HookedTransformer.load(tmp.resolve("saved"));
        assertArrayEquals(unembed, back.W_U().toType(DataType.FLOAT64, false).toDoubleArray(), 0);
    }

    /** The summed gradient is the derivative of the loss with one shared matrix, checked by central differences. */
    @Test
    void theGradientIsThatOfTheSharedMatrix() {
        HookedTransformer m = model(DataType.FLOAT64);
        TiedEmbeddings tied = TiedEmbeddings.tie(m);
        NDArray tokens = batch(1);
        Map<String, NDArray> grads = new LinkedHashMap<>();
        m.stateDict().values().forEach(p -> p.setRequiresGradient(true));
        try (GradientCollector c = Engine.getInstance().newGradientCollector()) {
            c.backward(m.loss(tokens));
        }
        m.stateDict().forEach((name, p) -> grads.put(name, p.getGradient().duplicate()));
        m.stateDict().values().forEach(p -> p.setRequiresGradient(false));
        tied.apply(grads);
        double[] gE = grads.get("embed.W_E").toDoubleArray();
        assertArrayEquals(transposed(grads.get("embed.W_E")), grads.get("unembed.W_U").toDoubleArray(), 0);

        Random r = new Random(9);
        double[] d = new double[gE.length];
        double predicted = 0;
        for (int i = 0; i < d.length; i++) {
            d[i] = r.nextGaussian();
            predicted += d[i] * gE[i];
        }
        NDArray direction = Tensors.ofDoubles(d, m.W_E().getShape());
        NDArray e = m.W_E().duplicate();
        double h = 1e-5;
        double[] loss = new double[2];
        for (int s = 0; s < 2; s++) {
            NDArray shared = e.add(direction.mul(s == 0 ? h : -h));
            m.setParameter("embed.W_E", shared);
            m.setParameter("unembed.W_U", shared.transpose().duplicate());
            loss[s] = m.loss(tokens).getDouble();
        }
        double numeric = (loss[0] - loss[1]) / (2 * h);
        // Central differences in float64 with h = 1e-5: error about h² times the third derivative, far below 1e-6.
        assertEquals(numeric, predicted, 1e-6 * Math.max(1, Math.abs(numeric)));
    }

    @Test
    void tyingNeedsOneVocabularyBothWays() {
        HookedTransformer m = HookedTransformer.create(ModelConfig.builder().modelName("odd").nLayers(1).dModel(8).nHeads(1)
                .dVocab(12).dVocabOut(10).nCtx(4).build(), 1);
        var e = assertThrows(IllegalArgumentException.class, () -> TiedEmbeddings.tie(m));
        assertTrue(e.getMessage().contains("12") && e.getMessage().contains("10"), e.getMessage());
    }
}

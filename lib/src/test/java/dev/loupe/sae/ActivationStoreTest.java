package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** What the store serves from a model: every position but BOS of every window, as a whole forward pass makes it. */
class ActivationStoreTest {

    private static final int WINDOWS = 3;
    private static final int CTX = 6;

    private final HookedTransformer model = FeatureActivationsTest.tinyModel();

    private NDArray window(long i) {
        long[] ids = new long[2 * CTX];
        for (int j = 0; j < ids.length; j++) {
            ids[j] = (i * 7 + j * 5 + 1) % 23;
        }
        return Tensors.ofLongs(ids, new Shape(2, CTX));
    }

    @Test
    void anSaesStoreServesTheActivationsOfTheWholeRunAtEveryKindOfHook() {
        for (String hook : List.of("hook_embed", "blocks.1.hook_resid_pre", "blocks.0.hook_mlp_out", "blocks.1.attn.hook_z",
                "ln_final.hook_normalized")) {
            assertServes(ActivationStore.of(model, hook, this::window), hook, hook);
        }
    }

    @Test
    void aTranscodersStoreServesItsInputAndOutputSideBySide() {
        SaeConfig cfg = SaeConfig.transcoder("blocks.1.hook_resid_mid", 16, "blocks.1.hook_mlp_out", 16, 40);
        assertServes(ActivationStore.of(model, cfg, this::window), "blocks.1.hook_resid_mid", "blocks.1.hook_mlp_out");
    }

    /** One refill holds every row; the rows of input and target, side by side, are those of the whole run, reordered. */
    private void assertServes(ActivationStore store, String in, String out) {
        int rows = WINDOWS * 2 * (CTX - 1);
        store.windowsPerRefill(WINDOWS).batchSize(rows / 2);
        List<double[]> served = new ArrayList<>();
        for (int b = 0; b < 2; b++) {
            ActivationStore.Batch batch = store.batch(b);
            served.addAll(rowsOf(batch.input().concat(batch.target(), 1)));
        }
        List<NDArray> expected = new ArrayList<>();
        for (int w = 0; w < WINDOWS; w++) {
            try (ActivationCache cache = model.runWithCache(window(w), n -> n.equals(in) || n.equals(out))) {
                expected.add(flat(cache.get(in)).concat(flat(cache.get(out)), 1));
            }
        }
        List<double[]> whole = sorted(rowsOf(NDArrays.concat(new NDList(expected))));
        served = sorted(served);
        assertEquals(whole.size(), served.size(), in);
        for (int i = 0; i < whole.size(); i++) {
            assertEquals(Arrays.toString(whole.get(i)), Arrays.toString(served.get(i)), in + " row " + i);
        }
    }

    /** [batch, pos, ...] without position 0 as float32 rows, as the store keeps them. */
    private static NDArray flat(NDArray a) {
        NDArray noBos = a.get(":, 1:");
        return noBos.reshape(noBos.getShape().get(0) * noBos.getShape().get(1), -1).toType(DataType.FLOAT32, false);
    }

    private static List<double[]> rowsOf(NDArray a) {
        float[] v = a.toFloatArray();
        int width = (int) a.getShape().get(1);
        List<double[]> rows = new ArrayList<>();
        for (int r = 0; r < v.length / width; r++) {
            double[] row = new double[width];
            for (int c = 0; c < width; c++) {
                row[c] = v[r * width + c];
            }
            rows.add(row);
        }
        return rows;
    }

    private static List<double[]> sorted(List<double[]> rows) {
        List<double[]> s = new ArrayList<>(rows);
        s.sort(Arrays::compare);
        return s;
    }
}

package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.load.ModelFileException;
import dev.loupe.load.Safetensors;
import dev.loupe.model.HookedTransformer;
import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Harvested shards read back equal each window's runWithCache, and SAE training's store streams them. */
class ActivationShardsTest {

    private static final List<String> HOOKS = List.of("blocks.1.hook_resid_pre", "blocks.0.attn.hook_z");

    private final HookedTransformer model = FeatureActivationsTest.tinyModel();
    private final List<int[]> windows = FeatureActivationsTest.windows(9);

    private ActivationShards.Shard harvest() {
        long[] docs = new long[windows.size()];
        int[] starts = new int[windows.size()];
        for (int i = 0; i < docs.length; i++) {
            docs[i] = 100 + i / 3;
            starts[i] = (i % 3) * 10;
        }
        return ActivationShards.harvest(model, HOOKS, windows, docs, starts, true, 2);
    }

    @Test
    void aShardReadBackHoldsEachWindowsActivationsAsRunWithCacheGivesThem(@TempDir Path dir) throws Exception {
        ActivationShards.write(dir.resolve("s.safetensors"), harvest());
        ActivationShards.Shard back = ActivationShards.read(dir.resolve("s.safetensors"));
        int row = 0;
        for (int w = 0; w < windows.size(); w++) {
            int[] window = windows.get(w);
            var cache = model.runWithCache(model.toTokens(window));
            for (String hook : HOOKS) {
                float[] expected = cache.get(hook).toType(DataType.FLOAT32, false).toFloatArray();
                int width = back.width(hook);
                assertArrayEquals(expected, Arrays.copyOfRange(back.activations().get(hook), row * width, (row + window.length) * width),
                        hook + " of window " + w);
            }
            for (int p = 0; p < window.length; p++) {
                assertEquals(window[p], back.tokenIds()[row + p]);
                assertEquals(100 + w / 3, back.docIds()[row + p]);
                assertEquals(p, back.positions()[row + p]);
                assertEquals((w % 3) * 10 + p - 1, back.docPositions()[row + p], "BOS is -1, the document's tokens from 0");
            }
            row += window.length;
        }
        assertEquals(row, back.tokens());
        assertEquals(16, back.width("blocks.0.attn.hook_z"), "hook_z's heads side by side");
    }

    @Test
    void theStoreServesEveryRowButPositionZero(@TempDir Path dir) throws Exception {
        ActivationShards.Shard shard = harvest();
        ActivationShards.write(dir.resolve("a.safetensors"), shard);
        ActivationShards.writeIndex(dir, new ActivationShards.Index("tiny", 12, Map.of(HOOKS.get(0), 16),
                List.of(new ActivationShards.Entry("a.safetensors", shard.tokens()))));
        int rows = shard.tokens() - windows.size();
        ActivationStore store = ActivationStore.fromShards(dir, HOOKS.get(0)).batchSize(rows).windowsPerRefill(1);
        NDArray served = store.batch(0).input();
        List<float[]> expected = new ArrayList<>();
        float[] a = shard.activations().get(HOOKS.get(0));
        for (int t = 0; t < shard.tokens(); t++) {
            if (shard.positions()[t] != 0) {
                expected.add(Arrays.copyOfRange(a, t * 16, (t + 1) * 16));
            }
        }
        float[] got = served.toFloatArray();
        List<float[]> gotRows = new ArrayList<>();
        for (int r = 0; r < rows; r++) {
            gotRows.add(Arrays.copyOfRange(got, r * 16, (r + 1) * 16));
        }
        Comparator<float[]> order = Arrays::compare;
        expected.sort(order);
        gotRows.sort(order);
        for (int r = 0; r < rows; r++) {
            assertArrayEquals(expected.get(r), gotRows.get(r), "row " + r);
        }
        assertThrows(IllegalArgumentException.class, () -> ActivationStore.fromShards(dir, "blocks.0.hook_resid_post"));

        // SAE training reads the store as any other: a few steps run and log a finite loss.
        SaeTrainer run = SaeTraining.of(model, SaeConfig.topK(HOOKS.get(0), 16, 32, 4)).tokens(4L * rows).batchSize(rows)
                .logEvery(1).train(ActivationStore.fromShards(dir, HOOKS.get(0)).windowsPerRefill(1));
        assertTrue(Double.isFinite(run.log().last("loss")), "loss " + run.log().last("loss"));
    }

    @Test
    void shardsThatLieAreRefusedNamingTheFileAndTensor(@TempDir Path dir) throws Exception {
        Map<String, NDArray> t = new LinkedHashMap<>();
        t.put("blocks.1.hook_resid_pre", Tensors.ofFloats(new float[8], new Shape(2, 4)));
        t.put("token_ids", Tensors.ofLongs(new long[] {1, 2}, new Shape(2)).toType(DataType.INT32, false));
        t.put("doc_ids", Tensors.ofLongs(new long[] {0, 0, 0}, new Shape(3)));
        t.put("positions", Tensors.ofLongs(new long[] {0, 1}, new Shape(2)).toType(DataType.INT32, false));
        t.put("doc_positions", Tensors.ofLongs(new long[] {-1, 0}, new Shape(2)).toType(DataType.INT32, false));
        Path bad = dir.resolve("bad.safetensors");
        Safetensors.write(bad, t);
        ModelFileException e = assertThrows(ModelFileException.class, () -> ActivationShards.read(bad));
        assertTrue(e.getMessage().contains("bad.safetensors") && e.getMessage().contains("doc_ids"), e.getMessage());

        t.put("doc_ids", Tensors.ofLongs(new long[] {0, 0}, new Shape(2)));
        t.put("blocks.1.hook_resid_pre", Tensors.ofFloats(new float[9], new Shape(3, 3)));
        Safetensors.write(bad, t);
        e = assertThrows(ModelFileException.class, () -> ActivationShards.read(bad));
        assertTrue(e.getMessage().contains("blocks.1.hook_resid_pre"), e.getMessage());

        byte[] whole = Files.readAllBytes(bad);
        Files.write(bad, Arrays.copyOf(whole, whole.length - 5));
        assertThrows(ModelFileException.class, () -> ActivationShards.read(bad), "truncated");
        Files.writeString(dir.resolve(ActivationShards.INDEX), "{\"format\": \"loupe-activation-shards\", \"version\": 1}");
        e = assertThrows(ModelFileException.class, () -> ActivationShards.index(dir));
        assertTrue(e.getMessage().contains(ActivationShards.INDEX), e.getMessage());
        Files.writeString(dir.resolve(ActivationShards.INDEX), "{\"format\": \"loupe-activation-shards\", \"version\": 1, \"model\": \"m\","
                + " \"context\": 8, \"hooks\": {\"h\": 4}, \"shards\": [{\"file\": \"../elsewhere.safetensors\", \"tokens\": 2}]}");
        e = assertThrows(ModelFileException.class, () -> ActivationShards.index(dir));
        assertTrue(e.getMessage().contains("elsewhere"), e.getMessage());
    }
}

package dev.loupe.spark;

import ai.djl.ndarray.types.DataType;

import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.sae.ActivationShards;
import dev.loupe.sae.ActivationStore;
import dev.loupe.sae.DocumentWindows;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Harvest on local[2] in several partitions and shards: the shards, read back in the index's order, hold what
 * runWithCache gives for each window of the same documents, exactly (float32), with its tokens, documents and positions.
 */
class HarvestTest {

    private static final List<String> HOOKS = List.of("blocks.2.hook_resid_pre", "blocks.1.mlp.hook_post");

    static SparkSession spark;

    @BeforeAll
    static void start() {
        spark = LocalSpark.start("local[2]");
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    @Test
    void shardsReadBackEqualRunWithCacheOfTheSameTokens(@TempDir Path tmp) throws Exception {
        List<String> docs = MaxActivatingTest.documents(9, 3);
        Path out = tmp.resolve("acts");
        ActivationShards.Index index = Harvest.of(spark, MaxActivatingTest.MODEL, HOOKS, MaxActivatingTest.dataset(spark, docs, 3),
                MaxActivatingTest.CONTEXT, out.toString(), 100, 3, 4);
        assertTrue(index.shards().stream().anyMatch(s -> s.file().startsWith("shard-00002-0001")), "several partitions,"
                + " several shards each: " + index.shards());
        assertEquals(ActivationShards.index(out), index, "the index on disk is the one returned");

        HookedTransformer model = ExecutorModels.model(MaxActivatingTest.MODEL);
        int shard = 0;
        int row = 0;
        ActivationShards.Shard current = ActivationShards.read(out.resolve(index.shards().get(0).file()));
        long tokens = 0;
        for (int d = 0; d < docs.size(); d++) {
            List<int[]> windows = DocumentWindows.of(model.tokenizer().orElseThrow(), docs.get(d), MaxActivatingTest.CONTEXT);
            for (int w = 0; w < windows.size(); w++) {
                if (row == current.tokens()) {
                    current = ActivationShards.read(out.resolve(index.shards().get(++shard).file()));
                    row = 0;
                }
                int[] window = windows.get(w);
                try (ActivationCache cache = model.runWithCache(model.toTokens(window))) {
                    for (String hook : HOOKS) {
                        float[] expected = cache.get(hook).toType(DataType.FLOAT32, false).toFloatArray();
                        int width = current.width(hook);
                        assertArrayEquals(expected, Arrays.copyOfRange(current.activations().get(hook), row * width,
                                (row + window.length) * width), hook + ", document " + d + " window " + w);
                    }
                }
                for (int p = 0; p < window.length; p++) {
                    assertEquals(window[p], current.tokenIds()[row + p]);
                    assertEquals(d, current.docIds()[row + p]);
                    assertEquals(p, current.positions()[row + p]);
                    assertEquals(w * (MaxActivatingTest.CONTEXT - 1) + p - 1, current.docPositions()[row + p]);
                }
                row += window.length;
                tokens += window.length;
            }
        }
        assertEquals(index.shards().size() - 1, shard, "every shard read");
        assertEquals(current.tokens(), row);
        assertEquals(tokens, index.tokens());

        ActivationStore store = ActivationStore.fromShards(out, HOOKS.get(0)).batchSize(64).windowsPerRefill(2);
        assertEquals(List.of(64L, 128L), List.of(store.batch(0).input().getShape().get(0), store.batch(0).input().getShape().get(1)));

        IllegalArgumentException again = assertThrows(IllegalArgumentException.class, () -> Harvest.of(spark, MaxActivatingTest.MODEL,
                HOOKS, MaxActivatingTest.dataset(spark, docs, 3), MaxActivatingTest.CONTEXT, out.toString()));
        assertTrue(again.getMessage().contains("not empty"), again.getMessage());
        assertTrue(Files.list(out).noneMatch(f -> f.toString().endsWith(".partial")), "no temporary files left");
    }
}

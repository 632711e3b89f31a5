package dev.loupe.tensor;

import ai.djl.ndarray.NDArray;

import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Arrays nobody references are freed; closed arrays are freed at once; nothing is freed twice. */
class NativeMemoryTest {

    private final HookedTransformer model = HookedTransformer.create(ModelConfig.builder().nLayers(2).dModel(64)
            .nHeads(4).dVocab(100).nCtx(64).build(), 1);
    private final NDArray tokens = Tensors.tokens(new int[64]);

    @Test
    void droppedCachesAreFreedByTheCollector() throws InterruptedException {
        model.runWithCache(tokens).close();
        long baseline = settledLiveBytes();
        long perCache;
        try (ActivationCache cache = model.runWithCache(tokens)) {
            perCache = cache.memoryBytes();
        }
        for (int i = 0; i < 300; i++) {
            model.runWithCache(tokens); // dropped without close
        }
        long after = settledLiveBytes();
        assertTrue(after - baseline < 5 * perCache, "after 300 dropped caches of " + perCache + " bytes, live bytes grew by "
                + (after - baseline));
    }

    @Test
    void closedCachesFreeAtOnceAndClosedArraysFailClearly() {
        ActivationCache cache = model.runWithCache(tokens);
        NDArray pattern = cache.get("pattern", 0);
        long before = Tensors.liveBytes();
        cache.close();
        assertTrue(Tensors.liveBytes() <= before - 300_000, "closing frees the cache's memory at once");
        assertTrue(pattern.isReleased());
        assertThrows(IllegalStateException.class, pattern::toFloatArray);
    }

    @Test
    void anArrayMovedToAnotherManagerIsNotFreedByUs() throws InterruptedException {
        try (var other = ai.djl.ndarray.NDManager.newBaseManager()) {
            NDArray moved = Tensors.ofFloats(new float[] {1, 2, 3}, new ai.djl.ndarray.types.Shape(3));
            moved.attach(other);
            settledLiveBytes();
            assertEquals(6f, moved.sum().getFloat());
        }
    }

    @Test
    void aViewOfAnArrayMadeFromJavaValuesOnThePublicManagerKeepsItsValues() {
        NDArray longs = Tensors.manager().create(new long[] {1, 2, 3, 4, 5}).reshape(1, 5);
        NDArray floats = Tensors.manager().create(new float[] {1.5f, 2.5f, 3.5f, 4.5f, 5.5f}).reshape(1, 5);
        NDArray viewOfView = Tensors.manager().create(new float[] {1, 2, 3, 4, 5, 6}).reshape(2, 3).get(1).get("1:");
        NDArray transposed = Tensors.manager().create(new double[] {1, 2, 3, 4, 5, 6}).reshape(2, 3).transpose();
        NDArray empty = Tensors.manager().create(new float[0]).reshape(0, 3);
        for (int round = 0; round < 3; round++) {
            System.gc();
            Tensors.collect();
            for (int i = 0; i < 100; i++) { // reuse whatever memory was freed
                Tensors.manager().create(new long[] {-1, -1, -1, -1, -1}).add(1);
                java.nio.ByteBuffer.allocateDirect(40).asLongBuffer().put(new long[] {-7, -7, -7, -7, -7});
            }
        }
        assertArrayEquals(new long[] {1, 2, 3, 4, 5}, longs.toLongArray());
        assertArrayEquals(new float[] {1.5f, 2.5f, 3.5f, 4.5f, 5.5f}, floats.toFloatArray());
        assertArrayEquals(new float[] {5, 6}, viewOfView.toFloatArray());
        assertArrayEquals(new double[] {1, 4, 2, 5, 3, 6}, transposed.toDoubleArray());
        assertEquals(0, empty.toFloatArray().length);
    }

    private static long settledLiveBytes() {
        Tensors.collect();
        return Tensors.liveBytes();
    }
}

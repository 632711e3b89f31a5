package dev.loupe.tensor;

import ai.djl.ndarray.NDArray;

import dev.loupe.cache.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;

import org.junit.jupiter.api.Test;

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

    private static long settledLiveBytes() {
        Tensors.collect();
        return Tensors.liveBytes();
    }
}

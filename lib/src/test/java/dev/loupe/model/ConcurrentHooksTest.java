package dev.loupe.model;

import ai.djl.ndarray.NDArray;

import dev.loupe.hook.Hook;
import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Hooks of a run or a hooks(...) scope act on the runs of the thread that attached them, never on another's. */
class ConcurrentHooksTest {

    private static final int RUNS = 25;

    private final HookedTransformer model = HookedTransformer.create(ModelConfig.builder().nLayers(2).dModel(32).nHeads(4)
            .dVocab(50).nCtx(16).build(), 3);
    private final NDArray tokens = Tensors.tokens(1, 7, 30, 2, 49, 0, 11, 5);
    private final Hook zeroResidPre = Hook.of("blocks.0.hook_resid_pre", (z, h) -> z.mul(0));
    private final Hook doubleAttnOut = Hook.of("blocks.1.hook_attn_out", (a, h) -> a.mul(2));

    @Test
    void hooksInSomeThreadsNeverReachTheCachesOfOthers() throws Exception {
        // Single-threaded references, computed before any other thread runs.
        float[] zeroedLogits = model.runWithHooks(tokens, zeroResidPre).toFloatArray();
        Map<String, float[]> plain = snapshot(model.runWithCache(tokens));
        Map<String, float[]> doubled;
        try (var s = model.hooks(doubleAttnOut)) {
            doubled = snapshot(model.runWithCache(tokens));
        }
        assertTrue(!java.util.Arrays.equals(zeroedLogits, plain.get("logits")), "the hook changes the logits");

        List<Callable<Integer>> threads = List.of(
                () -> { // hooks for one run at a time
                    for (int i = 0; i < RUNS; i++) {
                        assertArrayEquals(zeroedLogits, model.runWithHooks(tokens, zeroResidPre).toFloatArray(), "run " + i);
                    }
                    return RUNS;
                },
                () -> { // hooks for a scope
                    for (int i = 0; i < RUNS; i++) {
                        try (var s = model.hooks(zeroResidPre)) {
                            assertArrayEquals(zeroedLogits, model.forward(tokens).toFloatArray(), "run " + i);
                        }
                    }
                    return RUNS;
                },
                () -> cachesEqual(plain, () -> model.runWithCache(tokens)),
                () -> cachesEqual(doubled, () -> {
                    try (var s = model.hooks(doubleAttnOut)) {
                        return model.runWithCache(tokens);
                    }
                }));
        ExecutorService pool = Executors.newFixedThreadPool(threads.size());
        try {
            List<Future<Integer>> results = new ArrayList<>();
            for (Callable<Integer> t : threads) {
                results.add(pool.submit(t));
            }
            for (Future<Integer> r : results) {
                assertEquals(RUNS, r.get(2, TimeUnit.MINUTES));
            }
        } finally {
            pool.shutdownNow();
        }
        assertArrayEquals(plain.get("logits"), model.forward(tokens).toFloatArray(), "no hook is left behind");
        for (String name : model.hookNames()) {
            assertEquals(0, model.hookPoint(name).hookCount(), name);
        }
    }

    @Test
    void aSessionLeftOpenByAThreadThatEndedActsOnLaterRunsAsInTheNextNotebookCell() throws InterruptedException {
        float[] plain = model.forward(tokens).toFloatArray();
        float[] zeroed = model.runWithHooks(tokens, zeroResidPre).toFloatArray();
        HookSession[] session = new HookSession[1];
        Thread cell = new Thread(() -> session[0] = model.hooks(zeroResidPre));
        cell.start();
        cell.join();
        assertArrayEquals(zeroed, model.forward(tokens).toFloatArray());
        session[0].close();
        assertArrayEquals(plain, model.forward(tokens).toFloatArray());
    }

    private int cachesEqual(Map<String, float[]> expected, Callable<ActivationCache> run) throws Exception {
        for (int i = 0; i < RUNS; i++) {
            Map<String, float[]> got = snapshot(run.call());
            assertEquals(expected.keySet(), got.keySet(), "run " + i);
            for (String name : expected.keySet()) {
                assertArrayEquals(expected.get(name), got.get(name), 1e-6f, name + ", run " + i);
            }
        }
        return RUNS;
    }

    private static Map<String, float[]> snapshot(ActivationCache cache) {
        Map<String, float[]> values = new LinkedHashMap<>();
        for (String name : cache.keys()) {
            values.put(name, cache.get(name).toFloatArray());
        }
        values.put("logits", cache.logits().toFloatArray());
        cache.close();
        return values;
    }
}

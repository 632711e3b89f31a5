package dev.loupe.patching;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.ReferenceCase;
import dev.loupe.hook.Hook;
import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookSession;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sweeps run while the notebook has hooks (a steering vector, an SAE) attached at a block's resid_pre: the batched
 * runs restart at that block, and must pass its activation through those hooks once, as one forward per patch does.
 */
class PatchingUnderHooksTest {

    private final ReferenceCase ref = ReferenceCase.load("gpt2_like");
    private final HookedTransformer model = ref.model(DataType.FLOAT64);
    private final NDArray clean = ref.tokens(); // [2, 12]
    private final NDArray corrupted = clean.flip(1);
    private final Function<NDArray, NDArray> metric = Metrics.logitDiff(new int[] {3, 8}, new int[] {50, 60});

    @Test
    void residPreSweepsUnderASteeringHookEqualOnePatchedRunPerCell() {
        ModelConfig cfg = model.config();
        // Not a constant: LayerNorm would remove that.
        double[] v = new java.util.Random(4).doubles(cfg.dModel()).map(x -> 2 * x - 1).toArray();
        NDArray steer = Tensors.ofDoubles(v, new Shape(cfg.dModel()));
        String steered = "blocks.1.hook_resid_pre";
        try (HookSession s = model.hooks(Hook.of(steered, (x, h) -> x.add(steer)))) {
            ActivationCache cleanCache = model.runWithCache(clean);
            PatchingResult sweep = Patching.residPre(model, corrupted, cleanCache, metric);
            for (int layer = 0; layer < cfg.nLayers(); layer++) {
                for (int pos : List.of(0, 5, 11)) {
                    String name = "blocks." + layer + ".hook_resid_pre";
                    String slice = ":, " + pos + ", :";
                    NDArray cleanAct = cleanCache.get(name);
                    NDArray logits = model.runWithHooks(corrupted, Hook.of(name, (a, h) -> {
                        NDArray copy = a.duplicate();
                        copy.set(new NDIndex(slice), cleanAct.get(slice));
                        return copy;
                    }));
                    double once = metric.apply(logits).getDouble();
                    double batched = Tensors.item(sweep.values(), layer, pos);
                    assertTrue(Math.abs(once - batched) < 1e-9, "layer " + layer + " pos " + pos + ": " + once + " vs " + batched);
                }
            }
            assertThrows(IllegalStateException.class, () -> PathPatching.toLogits(model, corrupted,
                    model.runWithCache(corrupted), cleanCache, metric), "path patching restarts at the steered block");
        }
    }

    /**
     * A hook that reads positions by index (here: steers position 3 only) would act on other positions in runs over the
     * positions from a patch on; with any hook attached, sweeps run every patch on every position.
     */
    @Test
    void sweepsUnderAHookThatActsByPositionEqualOnePatchedRunPerCell() {
        ModelConfig cfg = model.config();
        double[] v = new java.util.Random(5).doubles(cfg.dModel()).map(x -> 2 * x - 1).toArray();
        NDArray steer = Tensors.ofDoubles(v, new Shape(cfg.dModel()));
        Hook atThree = Hook.of("blocks.1.hook_resid_mid", (x, h) -> {
            NDArray copy = x.duplicate();
            copy.set(new NDIndex(":, 3, :"), x.get(":, 3, :").add(steer));
            return copy;
        });
        try (HookSession s = model.hooks(atThree)) {
            ActivationCache cleanCache = model.runWithCache(clean);
            PatchingResult resid = Patching.residPre(model, corrupted, cleanCache, metric);
            PatchingResult values = Patching.headByPos("v", model, corrupted, cleanCache, metric);
            for (int layer = 0; layer < cfg.nLayers(); layer++) {
                for (int pos : List.of(0, 5, 11)) {
                    assertClose(once(corrupted, cleanCache, "blocks." + layer + ".hook_resid_pre", ":, " + pos + ", :"),
                            Tensors.item(resid.values(), layer, pos), "resid_pre L" + layer + " pos " + pos);
                    assertClose(once(corrupted, cleanCache, "blocks." + layer + ".attn.hook_v", ":, " + pos + ", 2, :"),
                            Tensors.item(values.values(), layer, pos, 2), "v L" + layer + " pos " + pos + " head 2");
                }
            }
        }
    }

    private double once(NDArray tokens, ActivationCache source, String name, String slice) {
        NDArray logits = model.runWithHooks(tokens, Hook.of(name, (a, h) -> {
            NDArray copy = a.duplicate();
            copy.set(new NDIndex(slice), source.get(name).get(slice));
            return copy;
        }));
        return metric.apply(logits).getDouble();
    }

    private static void assertClose(double once, double batched, String what) {
        assertTrue(Math.abs(once - batched) < 1e-9, what + ": " + once + " vs " + batched);
    }
}

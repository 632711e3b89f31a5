package dev.loupe.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;

import dev.loupe.hook.ActNames;
import dev.loupe.hook.Hook;
import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.patching.AttributionPatching;
import dev.loupe.patching.Metrics;
import dev.loupe.patching.Patching;

import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Activation patching on a GPT-2-small-shaped model (random weights), 15 positions: Loupe's batched sweeps
 * against one hooked forward pass per patch, the way TransformerLens runs them. Run: {@code ./loupe bench patching}.
 */
public final class PatchingBench {

    public static void main(String[] args) {
        ModelConfig gpt2 = BenchModels.GPT2_SMALL;
        HookedTransformer model = HookedTransformer.create(gpt2, 0);
        Prompts prompts = Prompts.of(gpt2);
        NDArray clean = prompts.clean();
        NDArray corrupted = prompts.corrupted();
        Function<NDArray, NDArray> metric = prompts.metric();
        ActivationCache cleanCache = model.runWithCache(clean);
        System.out.printf("%s, 1×15 tokens; seconds for the whole sweep (one run after a warm-up)%n", gpt2.modelName());
        System.out.printf("%-34s %10s %10s %8s%n", "", "batched", "per patch", "speed-up");
        compare("resid_pre, 12 layers × 15 positions",
                () -> Patching.residPre(model, corrupted, cleanCache, metric),
                () -> onePerPatch(model, corrupted, cleanCache, metric, "resid_pre", 15, p -> ":, " + p + ", :"));
        compare("head outputs, 12 layers × 12 heads",
                () -> Patching.headOutAllPos(model, corrupted, cleanCache, metric),
                () -> onePerPatch(model, corrupted, cleanCache, metric, "z", 12, h -> ":, :, " + h + ", :"));
        AttributionPatching.run(model, clean, corrupted, metric);
        double attribution = seconds(() -> AttributionPatching.run(model, clean, corrupted, metric));
        model.forward(corrupted);
        double forward = seconds(() -> model.forward(corrupted));
        System.out.printf("attribution patching, every residual position, head × position and neuron: %.2f s"
                + " = %.1f forward passes (%.3f s each)%n", attribution, attribution / forward, forward);
    }

    /** A clean and a corrupted prompt of 15 random tokens, one token apart as in IOI-style pairs, and a logit difference. */
    record Prompts(NDArray clean, NDArray corrupted, Function<NDArray, NDArray> metric) {
        static Prompts of(ModelConfig cfg) {
            NDArray clean = BenchModels.randomTokens(1, 15, cfg.dVocab());
            NDArray corrupted = clean.duplicate();
            corrupted.set(new NDIndex("0, 4"), 1234);
            return new Prompts(clean, corrupted, Metrics.logitDiff(new int[] {11}, new int[] {22}));
        }
    }

    private static Object onePerPatch(HookedTransformer model, NDArray tokens, ActivationCache source,
                                      Function<NDArray, NDArray> metric, String act, int cells,
                                      java.util.function.IntFunction<String> slice) {
        double[] values = new double[model.config().nLayers() * cells];
        for (int layer = 0; layer < model.config().nLayers(); layer++) {
            String name = ActNames.actName(act, layer);
            for (int c = 0; c < cells; c++) {
                String s = slice.apply(c);
                NDArray logits = model.runWithHooks(tokens, Hook.of(name, (a, h) -> {
                    NDArray copy = a.duplicate();
                    copy.set(new NDIndex(s), source.get(name).get(s));
                    return copy;
                }));
                values[layer * cells + c] = metric.apply(logits).getFloat();
            }
        }
        return values;
    }

    private static void compare(String label, Supplier<Object> batched, Supplier<Object> perPatch) {
        batched.get();
        double b = seconds(batched);
        perPatch.get();
        double p = seconds(perPatch);
        System.out.printf("%-34s %10.2f %10.2f %7.1f×%n", label, b, p, p / b);
    }

    private static double seconds(Supplier<Object> body) {
        long start = System.nanoTime();
        body.get();
        return (System.nanoTime() - start) / 1e9;
    }
}

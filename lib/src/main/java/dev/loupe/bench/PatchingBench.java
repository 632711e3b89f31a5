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
 * against one hooked forward pass per patch, the way TransformerLens runs them; then attribution patching's cost in
 * forward passes of the same tokens, at 1×15 and 8×128. Run: {@code ./loupe bench patching [runs]}, or
 * {@code ./loupe bench patching attribution [runs]} for the attribution figures alone.
 */
public final class PatchingBench {

    public static void main(String[] args) {
        boolean attributionOnly = args.length > 0 && args[0].equals("attribution");
        int runs = args.length > (attributionOnly ? 1 : 0) ? Integer.parseInt(args[attributionOnly ? 1 : 0]) : 10;
        HookedTransformer model = HookedTransformer.create(BenchModels.GPT2_SMALL, 0);
        if (!attributionOnly) {
            sweeps(model);
        }
        System.out.printf("attribution patching (every residual position, head × position and neuron) in forward passes of"
                + " the same tokens: each of %d runs over the median of %d forward passes interleaved with them%n", runs, runs);
        attribution(model, 1, 15, runs);
        attribution(model, 8, 128, runs);
    }

    private static void sweeps(HookedTransformer model) {
        Prompts prompts = Prompts.of(model.config());
        NDArray clean = prompts.clean();
        NDArray corrupted = prompts.corrupted();
        Function<NDArray, NDArray> metric = prompts.metric();
        ActivationCache cleanCache = model.runWithCache(clean);
        System.out.printf("%s, 1×15 tokens; seconds for the whole sweep (one run after a warm-up)%n", model.config().modelName());
        System.out.printf("%-34s %10s %10s %8s%n", "", "batched", "per patch", "speed-up");
        compare("resid_pre, 12 layers × 15 positions",
                () -> Patching.residPre(model, corrupted, cleanCache, metric),
                () -> onePerPatch(model, corrupted, cleanCache, metric, "resid_pre", 15, p -> ":, " + p + ", :"));
        compare("head outputs, 12 layers × 12 heads",
                () -> Patching.headOutAllPos(model, corrupted, cleanCache, metric),
                () -> onePerPatch(model, corrupted, cleanCache, metric, "z", 12, h -> ":, :, " + h + ", :"));
        cleanCache.close();
    }

    /**
     * One attribution run in forward passes: its time over the median time of a forward pass of the same tokens.
     * Forward passes and attribution runs alternate, so that whatever else loads the machine weighs on both alike.
     */
    private static void attribution(HookedTransformer model, int batch, int pos, int runs) {
        NDArray clean = BenchModels.randomTokens(batch, pos, model.config().dVocab());
        NDArray corrupted = clean.duplicate();
        corrupted.set(new NDIndex(":, 4"), 1234);
        int[] answers = new int[batch];
        int[] wrong = new int[batch];
        java.util.Arrays.fill(answers, 11);
        java.util.Arrays.fill(wrong, 22);
        Function<NDArray, NDArray> metric = Metrics.logitDiff(answers, wrong);
        Supplier<Object> forward = () -> {
            model.forward(corrupted).close();
            return null;
        };
        Supplier<Object> attribution = () -> {
            AttributionPatching.Estimates e = AttributionPatching.run(model, clean, corrupted, metric);
            e.residPre().values().close();
            e.headOut().values().close();
            e.neurons().values().close();
            return null;
        };
        forward.get();
        attribution.get();
        double[] forwards = new double[runs];
        double[] attributions = new double[runs];
        for (int i = 0; i < runs; i++) {
            forwards[i] = seconds(forward);
            attributions[i] = seconds(attribution);
        }
        java.util.Arrays.sort(forwards);
        java.util.Arrays.sort(attributions);
        double f = forwards[runs / 2];
        System.out.printf("  %d×%-4d %.2f forward passes (min %.2f); attribution median %.3f s, min %.3f s; forward median"
                + " %.3f s, min %.3f s%n", batch, pos, attributions[runs / 2] / f, attributions[0] / f, attributions[runs / 2],
                attributions[0], f, forwards[0]);
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

package dev.loupe.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.tensor.Tensors;

import java.util.Arrays;
import java.util.Random;
import java.util.function.Supplier;

/**
 * Forward and runWithCache on a GPT-2-small-shaped model with random weights, 1×128 and 8×128 tokens.
 * Prints the median and minimum of timed runs after warm-up, and the cache's memory.
 * Run: {@code ./loupe bench forward [runs]}.
 */
public final class ForwardBench {

    public static void main(String[] args) {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        ModelConfig gpt2 = ModelConfig.builder().modelName("gpt2-small-shaped").nLayers(12).dModel(768).nHeads(12)
                .dMlp(3072).dVocab(50257).nCtx(1024).build();
        HookedTransformer model = HookedTransformer.create(gpt2, 0);
        System.out.printf("%s, %,d parameters, %d runs after 2 warm-up runs, %d threads%n",
                gpt2.modelName(), model.parameterCount(), runs, Runtime.getRuntime().availableProcessors());
        System.out.printf("%-28s %10s %10s %12s%n", "", "median s", "min s", "cache MB");
        for (int batch : new int[] {1, 8}) {
            NDArray tokens = randomTokens(batch, 128, gpt2.dVocab());
            report("forward " + batch + "x128", runs, () -> {
                model.forward(tokens).close();
                return 0L;
            });
            report("runWithCache " + batch + "x128", runs, () -> {
                try (ActivationCache cache = model.runWithCache(tokens)) {
                    return cache.memoryBytes();
                }
            });
        }
    }

    static NDArray randomTokens(int batch, int pos, int vocab) {
        Random random = new Random(0);
        long[] ids = new long[batch * pos];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = random.nextInt(vocab);
        }
        return Tensors.ofLongs(ids, new Shape(batch, pos));
    }

    private static void report(String label, int runs, Supplier<Long> body) {
        for (int i = 0; i < 2; i++) {
            body.get();
        }
        double[] seconds = new double[runs];
        long bytes = 0;
        for (int i = 0; i < runs; i++) {
            long start = System.nanoTime();
            bytes = body.get();
            seconds[i] = (System.nanoTime() - start) / 1e9;
        }
        Arrays.sort(seconds);
        System.out.printf("%-28s %10.3f %10.3f %12s%n", label, seconds[runs / 2], seconds[0],
                bytes > 0 ? String.format("%.1f", bytes / 1e6) : "-");
    }
}

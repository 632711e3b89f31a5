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
 * Forward and runWithCache on a model with random weights: GPT-2 small's shape at 1×128 and 8×128 tokens, or
 * Llama 3.2 1B's at 1×128 (grouped-query attention, rotary positions, gated MLP, 128,256-token vocabulary).
 * Prints the median and minimum of timed runs after warm-up, the achieved GFLOP/s, and the cache's memory.
 * Run: {@code ./loupe bench forward [runs]} or {@code ./loupe bench forward llama-3.2-1b [runs]}.
 */
public final class ForwardBench {

    public static void main(String[] args) {
        boolean llama = args.length > 0 && args[0].equals("llama-3.2-1b");
        int runs = args.length > (llama ? 1 : 0) ? Integer.parseInt(args[llama ? 1 : 0]) : llama ? 5 : 10;
        ModelConfig cfg = llama ? LLAMA_3_2_1B : GPT2_SMALL;
        HookedTransformer model = HookedTransformer.create(cfg, 0);
        System.out.printf("%s, %,d parameters, %d runs after 2 warm-up runs, %d threads%n",
                cfg.modelName(), model.parameterCount(), runs, Runtime.getRuntime().availableProcessors());
        System.out.printf("%-28s %10s %10s %10s %12s%n", "", "median s", "min s", "GFLOP/s", "cache MB");
        for (int batch : llama ? new int[] {1} : new int[] {1, 8}) {
            NDArray tokens = randomTokens(batch, 128, cfg.dVocab());
            double flops = forwardFlops(cfg, batch, 128);
            report("forward " + batch + "x128", runs, flops, () -> {
                model.forward(tokens).close();
                return 0L;
            });
            report("runWithCache " + batch + "x128", runs, flops, () -> {
                try (ActivationCache cache = model.runWithCache(tokens)) {
                    return cache.memoryBytes();
                }
            });
        }
    }

    static final ModelConfig GPT2_SMALL = ModelConfig.builder().modelName("gpt2-small-shaped").nLayers(12).dModel(768)
            .nHeads(12).dMlp(3072).dVocab(50257).nCtx(1024).build();

    /** Llama 3.2 1B's published shape (its config.json), untied here: random weights need no tying. */
    static final ModelConfig LLAMA_3_2_1B = ModelConfig.builder().modelName("llama-3.2-1b-shaped").nLayers(16).dModel(2048)
            .nHeads(32).dHead(64).nKeyValueHeads(8).dMlp(8192).dVocab(128256).nCtx(131072)
            .actFn(ModelConfig.ActFn.SILU).normalization(ModelConfig.Normalization.RMS).eps(1e-5)
            .positionalEmbedding(ModelConfig.PositionalEmbedding.ROTARY).rotaryBase(500000)
            .ropeScaling(ModelConfig.RopeScaling.llama3(32, 1, 4, 8192)).gatedMlp(true).initRange(0.02).build();

    /** Multiply-adds ×2 of the matrix products of one forward pass: projections, MLP, unembedding, and attention. */
    static double forwardFlops(ModelConfig c, int batch, int pos) {
        double tokens = (double) batch * pos;
        double perLayer = (double) c.dModel() * c.dHead() * (2L * c.nHeads() + 2L * c.nKeyValueHeads())
                + (double) c.dModel() * c.dMlp() * (c.gatedMlp() ? 3 : 2);
        double attention = 2.0 * pos * c.nHeads() * c.dHead(); // scores and pattern × values, per query token
        return 2 * tokens * (c.nLayers() * (perLayer + attention) + (double) c.dModel() * c.dVocabOut());
    }

    static NDArray randomTokens(int batch, int pos, int vocab) {
        Random random = new Random(0);
        long[] ids = new long[batch * pos];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = random.nextInt(vocab);
        }
        return Tensors.ofLongs(ids, new Shape(batch, pos));
    }

    private static void report(String label, int runs, double flops, Supplier<Long> body) {
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
        System.out.printf("%-28s %10.3f %10.3f %10.1f %12s%n", label, seconds[runs / 2], seconds[0], flops / seconds[runs / 2] / 1e9,
                bytes > 0 ? String.format("%.1f", bytes / 1e6) : "-");
    }
}

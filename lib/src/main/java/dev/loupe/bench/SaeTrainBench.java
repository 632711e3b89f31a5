package dev.loupe.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.sae.ActivationStore;
import dev.loupe.sae.SaeConfig;
import dev.loupe.sae.SaeTrainer;
import dev.loupe.sae.SaeTraining;
import dev.loupe.tensor.Tensors;

import java.util.Locale;
import java.util.Random;

/**
 * SAE training throughput: a standard SAE (d_in 512, d_sae 8192, batch 4096, Adam) on {@code blocks.1.hook_resid_pre}
 * of a random 2-layer model (d_model 512, 8 heads, d_mlp 2048, vocabulary 4096) fed random tokens, 32 × 128 per token
 * batch and 8 token batches a refill; once with the activations harvested as training goes (the model's block 0 runs,
 * block 1 never does), once from activations already in memory (the SAE step, the store's shuffle and the optimizer
 * alone). The SAE step's FLOPs (12 · batch · d_in · d_sae: encoder and decoder, forward and both backward products)
 * are set against the 1024² GEMM rate measured in the same run. Run: {@code ./loupe bench sae-train [refills]}.
 * The PyTorch-eager peer of the same loop is {@code bench/peers/sae_train_torch.py}.
 */
public final class SaeTrainBench {

    static final int D = 512;
    static final int D_SAE = 8192;
    static final int BATCH = 4096;
    static final int ROWS = 32;
    static final int CTX = 128;
    static final int WINDOWS = 8;
    static final String HOOK = "blocks.1.hook_resid_pre";

    public static void main(String[] args) throws Exception {
        int refills = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        HookedTransformer model = HookedTransformer.create(ModelConfig.builder().modelName("bench-512").nLayers(2)
                .dModel(D).nHeads(8).dHead(64).dMlp(2048).dVocab(4096).nCtx(CTX).seed(0).build());
        SaeConfig cfg = SaeConfig.standard(HOOK, D, D_SAE);
        long perRefill = (long) WINDOWS * ROWS * (CTX - 1) / BATCH;

        ActivationStore harvested = ActivationStore.of(model, cfg, SaeTrainBench::tokens).windowsPerRefill(WINDOWS);
        double withHarvest = tokensPerSecond(model, cfg, harvested, perRefill, refills);

        NDArray block = Tensors.manager().randomNormal(new Shape((long) ROWS * (CTX - 1) * WINDOWS, D));
        ActivationStore inMemory = ActivationStore.ofActivations(HOOK, i -> block.duplicate()).windowsPerRefill(1);
        double stepOnly = tokensPerSecond(model, cfg, inMemory, perRefill, refills);

        double gemm = ForwardGemms.square1024();
        double stepFlops = 12.0 * BATCH * D * D_SAE;
        System.out.printf(Locale.ROOT, "SAE training, standard, d_in %d, d_sae %d, batch %d, %d refills of %d steps:%n",
                D, D_SAE, BATCH, refills, perRefill);
        System.out.printf(Locale.ROOT, "  with harvesting (2-layer d_model %d model, block 0 only): %,.0f tokens/s%n", D, withHarvest);
        System.out.printf(Locale.ROOT, "  SAE step alone (activations in memory): %,.0f tokens/s = %.1f steps/s,"
                + " %.1f GFLOP/s (%.1f GFLOP a step)%n", stepOnly, stepOnly / BATCH, stepOnly / BATCH * stepFlops / 1e9,
                stepFlops / 1e9);
        System.out.printf(Locale.ROOT, "  1024x1024 GEMM in the same run: %.1f GFLOP/s; the SAE step reaches %.0f%% of it%n",
                gemm / 1e9, 100 * stepOnly / BATCH * stepFlops / gemm);
    }

    /** Tokens per second over {@code refills} refills after one refill of warm-up. */
    private static double tokensPerSecond(HookedTransformer model, SaeConfig cfg, ActivationStore store, long perRefill,
                                          int refills) throws Exception {
        SaeTrainer trainer = SaeTraining.of(model, cfg).tokens((long) BATCH * perRefill * (refills + 1)).batchSize(BATCH)
                .logEvery(1_000_000).trainer(store);
        trainer.run(perRefill);
        long start = System.nanoTime();
        trainer.run(perRefill * (refills + 1));
        return (double) perRefill * refills * BATCH / ((System.nanoTime() - start) / 1e9);
    }

    private static NDArray tokens(long index) {
        Random r = new Random(index);
        long[] ids = new long[ROWS * CTX];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = r.nextInt(4096);
        }
        return Tensors.ofLongs(ids, new Shape(ROWS, CTX));
    }
}

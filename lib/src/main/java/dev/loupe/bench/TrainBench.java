package dev.loupe.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.tensor.Tensors;
import dev.loupe.train.AdamW;
import dev.loupe.train.LrSchedule;
import dev.loupe.train.Trainer;

import java.util.Random;

/**
 * Training throughput of a 2-layer attention-only language model (d_model 256, 8 heads, n_ctx 256, d_vocab 4096,
 * shortformer positions, batch 16 × 256 tokens), AdamW, random tokens. Run: {@code ./loupe bench train [steps]}.
 */
public final class TrainBench {

    public static void main(String[] args) throws Exception {
        int steps = args.length > 0 ? Integer.parseInt(args[0]) : 20;
        ModelConfig cfg = ModelConfig.builder().modelName("attn-only-2l-shaped").nLayers(2).dModel(256).nHeads(8)
                .attnOnly(true).positionalEmbedding(ModelConfig.PositionalEmbedding.SHORTFORMER)
                .dVocab(4096).nCtx(256).build();
        HookedTransformer model = HookedTransformer.create(cfg, 0);
        Trainer trainer = new Trainer(model, new AdamW(0.9, 0.99, 1e-8, 0.05), LrSchedule.constant(1e-3), TrainBench::batch, 1.0);
        trainer.run(3); // warm-up
        long start = System.nanoTime();
        trainer.run(3 + steps);
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("%s: %d steps of 16×256 tokens in %.2f s: %.0f tokens/s%n", cfg.modelName(), steps, seconds,
                steps * 16 * 256 / seconds);
    }

    private static NDArray batch(long step) {
        Random r = new Random(step);
        long[] ids = new long[16 * 256];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = r.nextInt(4096);
        }
        return Tensors.ofLongs(ids, new Shape(16, 256));
    }
}

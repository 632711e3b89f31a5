package dev.loupe.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.tasks.induction.AttnOnly2l;
import dev.loupe.tensor.Tensors;
import dev.loupe.train.AdamW;
import dev.loupe.train.LrSchedule;
import dev.loupe.train.Trainer;

import java.util.Random;

/**
 * Training throughput of {@code loupe/attn-only-2l}'s configuration and batch ({@link AttnOnly2l#config},
 * {@link AttnOnly2l#BATCH} × {@link AttnOnly2l#CTX} tokens), AdamW, random tokens, no evaluations.
 * Run: {@code ./loupe bench train [steps]}.
 */
public final class TrainBench {

    public static void main(String[] args) throws Exception {
        int steps = args.length > 0 ? Integer.parseInt(args[0]) : 20;
        ModelConfig cfg = AttnOnly2l.config(0);
        HookedTransformer model = HookedTransformer.create(cfg);
        Trainer trainer = new Trainer(model, new AdamW(0.9, 0.99, 1e-8, 0.05), LrSchedule.constant(1e-3), TrainBench::batch, 1.0);
        trainer.run(3); // warm-up
        long start = System.nanoTime();
        trainer.run(3 + steps);
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("%s: %d steps of %d×%d tokens in %.2f s: %.0f tokens/s%n", cfg.modelName(), steps,
                AttnOnly2l.BATCH, AttnOnly2l.CTX, seconds,
                steps * AttnOnly2l.BATCH * AttnOnly2l.CTX / seconds);
    }

    private static NDArray batch(long step) {
        Random r = new Random(step);
        long[] ids = new long[AttnOnly2l.BATCH * AttnOnly2l.CTX];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = r.nextInt(AttnOnly2l.VOCAB);
        }
        return Tensors.ofLongs(ids, new Shape(AttnOnly2l.BATCH, AttnOnly2l.CTX));
    }
}

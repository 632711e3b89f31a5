package dev.loupe.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import dev.loupe.model.HookedTransformer;
import dev.loupe.tasks.modular.FastLastPosition;
import dev.loupe.tasks.modular.ModularAddition;
import dev.loupe.train.AdamW;
import dev.loupe.train.LrSchedule;
import dev.loupe.train.Trainer;

/**
 * Full-batch training epochs of the grokking model (p = 113, 3,830 training pairs, AdamW lr 1e-3, weight decay 1,
 * betas 0.9/0.98): the short last-position path against the plain forward pass. Run: {@code ./loupe bench grok [epochs]}.
 */
public final class GrokBench {

    public static void main(String[] args) throws Exception {
        int epochs = args.length > 0 ? Integer.parseInt(args[0]) : 50;
        ModularAddition task = ModularAddition.paper(0);
        NDArray tokens = task.trainTokens();
        NDArray labels = task.trainLabels();
        for (DataType dtype : new DataType[] {DataType.FLOAT32, DataType.FLOAT64}) {
            double fast = epochsPerSecond(task, dtype, epochs, (m, batch) -> FastLastPosition.loss(m, tokens, labels));
            double plain = epochsPerSecond(task, dtype, epochs, (m, batch) -> {
                NDArray logProbs = m.forward(tokens).get(":, 2, :").logSoftmax(-1);
                return logProbs.gather(labels.reshape(-1, 1), 1).mean().neg();
            });
            System.out.printf("%s: short path %.1f epochs/s, plain forward %.1f epochs/s (%.1f×)%n",
                    dtype, fast, plain, fast / plain);
        }
    }

    private static double epochsPerSecond(ModularAddition task, DataType dtype, int epochs,
                                          java.util.function.BiFunction<HookedTransformer, NDArray, NDArray> loss) throws Exception {
        HookedTransformer model = HookedTransformer.create(task.modelConfig(dtype, 0));
        Trainer trainer = new Trainer(model, new AdamW(0.9, 0.98, 1e-8, 1.0), LrSchedule.constant(1e-3), step -> null, 0)
                .withLoss(loss);
        trainer.run(5);
        long start = System.nanoTime();
        trainer.run(5 + epochs);
        return epochs / ((System.nanoTime() - start) / 1e9);
    }
}

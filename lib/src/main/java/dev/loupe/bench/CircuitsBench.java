package dev.loupe.bench;

import dev.loupe.circuits.Circuits;
import dev.loupe.circuits.HeadDetector;
import dev.loupe.circuits.RepeatedTokens;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;

import java.util.Arrays;
import java.util.function.Supplier;

/**
 * The circuits toolkit on a GPT-2-small-shaped model with random weights: all composition scores, the SVD and the
 * eigenvalues of one layer's full OV circuits (12 heads of 50,257 x 50,257, kept factored), and the three head
 * detectors on 8 x 101 repeated tokens. Prints the median and minimum of timed runs after one warm-up run.
 * Run: {@code ./loupe bench circuits [runs]}.
 */
public final class CircuitsBench {

    public static void main(String[] args) {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        ModelConfig gpt2 = BenchModels.GPT2_SMALL;
        HookedTransformer model = HookedTransformer.create(gpt2, 0);
        System.out.printf("%s, %d runs after 1 warm-up run, %d threads%n", gpt2.modelName(), runs,
                Runtime.getRuntime().availableProcessors());
        System.out.printf("%-44s %10s %10s%n", "", "median s", "min s");
        report("allCompositionScores(Q)", runs, () -> Circuits.allCompositionScores(model, Circuits.Mode.Q));
        report("fullOV(layer).eigenvalues() (12 heads)", runs, () -> Circuits.fullOV(model, 5).eigenvalues());
        report("fullOV(layer).svd() (12 heads)", runs, () -> Circuits.fullOV(model, 5).svd());
        report("OV(layer).svd() (12 heads)", runs, () -> Circuits.OV(model, 5).svd());
        RepeatedTokens rep = RepeatedTokens.generate(8, 50, gpt2.dVocab(), 0, 50256);
        report("HeadDetector.scoreAll 8x101 (with forward)", runs, () -> HeadDetector.scoreAll(model, rep.tokens()));
    }

    private static void report(String label, int runs, Supplier<Object> body) {
        body.get();
        double[] seconds = new double[runs];
        for (int i = 0; i < runs; i++) {
            long start = System.nanoTime();
            body.get();
            seconds[i] = (System.nanoTime() - start) / 1e9;
        }
        Arrays.sort(seconds);
        System.out.printf("%-44s %10.3f %10.3f%n", label, seconds[runs / 2], seconds[0]);
    }
}

package dev.loupe.model;

import java.util.Arrays;
import java.util.Comparator;
import java.util.Random;

/** Picks the next token from one row of logits: greedy, or sampled after temperature, top-k and top-p. */
final class Sampler {

    private final GenerateOptions options;
    private final Random random;

    Sampler(GenerateOptions options) {
        this.options = options;
        this.random = options.seed() != null ? new Random(options.seed()) : new Random();
    }

    int next(double[] logits) {
        if (options.temperature() == 0) {
            return argmax(logits);
        }
        int n = logits.length;
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> -logits[i]));
        int keep = options.topK() > 0 ? Math.min(options.topK(), n) : n;
        double max = logits[order[0]] / options.temperature();
        double[] p = new double[keep];
        double total = 0;
        for (int r = 0; r < keep; r++) {
            p[r] = Math.exp(logits[order[r]] / options.temperature() - max);
            total += p[r];
        }
        // top-p: the smallest prefix (most likely first) whose probability reaches topP; always at least one token
        double cumulative = 0;
        int nucleus = 0;
        while (nucleus < keep) {
            cumulative += p[nucleus++] / total;
            if (cumulative >= options.topP()) {
                break;
            }
        }
        double mass = 0;
        for (int r = 0; r < nucleus; r++) {
            mass += p[r];
        }
        double u = random.nextDouble() * mass;
        for (int r = 0; r < nucleus; r++) {
            u -= p[r];
            if (u <= 0) {
                return order[r];
            }
        }
        return order[nucleus - 1];
    }

    static int argmax(double[] values) {
        int best = 0;
        for (int i = 1; i < values.length; i++) {
            if (values[i] > values[best]) {
                best = i;
            }
        }
        return best;
    }
}

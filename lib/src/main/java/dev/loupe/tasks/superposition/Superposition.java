package dev.loupe.tasks.superposition;

/**
 * The experiments of Elhage et al. (2022), <i>Toy Models of Superposition</i>, on {@link ToyModel}, each one batched
 * training run that returns a result which shows itself in a notebook. The settings are the paper's unless said;
 * the step counts are smaller (thousands, not tens of thousands) so that the three run in a minute or two on two cores.
 */
public final class Superposition {

    private Superposition() {}

    /** The paper's sparsities for its 2-D demonstration: 1 − 20^−t for ten t evenly from 0 to 1 (S = 0 to 0.95). */
    public static double[] geometrySparsities() {
        double[] s = new double[10];
        for (int i = 0; i < s.length; i++) {
            s[i] = 1 - Math.pow(20, -i / 9.0);
        }
        return s;
    }

    /**
     * Five features in two dimensions with importance 0.9^i, one instance per sparsity of {@link #geometrySparsities()}:
     * the paper's opening figure. 3,000 AdamW steps of 1,024 inputs at learning rate 0.01.
     */
    public static FeatureGeometry featureGeometry(long seed) {
        return featureGeometry(geometrySparsities(), 3_000, seed);
    }

    public static FeatureGeometry featureGeometry(double[] sparsities, int steps, long seed) {
        double[] importance = ToyModel.decayingImportance(0.9, 5);
        ToyModel model = trained(2, importance, sparsities, steps, seed);
        return new FeatureGeometry(sparsities.clone(), importance, weights(model), model.evaluate(16_384));
    }

    /** The paper's sparsities for its 20-feature sweep. */
    public static double[] sweepSparsities() {
        return new double[] {0, 0.7, 0.9, 0.97, 0.99, 0.997, 0.999};
    }

    /**
     * Twenty features in five dimensions with importance 0.7^i, one instance per sparsity of {@link #sweepSparsities()}:
     * the paper's WᵀW and feature-norm figure. 4,000 AdamW steps of 1,024 inputs at learning rate 0.01.
     */
    public static SparsitySweep acrossSparsity(long seed) {
        return acrossSparsity(sweepSparsities(), 4_000, seed);
    }

    public static SparsitySweep acrossSparsity(double[] sparsities, int steps, long seed) {
        double[] importance = ToyModel.decayingImportance(0.7, 20);
        ToyModel model = trained(5, importance, sparsities, steps, seed);
        return new SparsitySweep(sparsities.clone(), importance, weights(model), model.evaluate(16_384));
    }

    /**
     * The paper's phase diagram for two features in one dimension: feature 0 has importance 1, the extra feature 1 an
     * importance from 0.1 to 10, both the same density (1 − S) from 1 to 0.01, each on a log grid of {@code points}
     * values; {@code seeds} models per cell, of which the one with the lowest loss is classified, as the paper does.
     * Batches of 512 inputs at learning rate 0.01; losses are compared on 65,536 fresh inputs, so that even at density
     * 0.01 each feature is active about 655 times.
     */
    public static PhaseDiagram phaseChange(int points, int seeds, int steps, long seed) {
        double[] densities = logGrid(1, 0.01, points);
        double[] importances = logGrid(10, 0.1, points);
        int cells = points * points;
        double[][] importance = new double[cells * seeds][];
        double[] sparsity = new double[cells * seeds];
        for (int r = 0; r < points; r++) {
            for (int c = 0; c < points; c++) {
                for (int s = 0; s < seeds; s++) {
                    int k = (r * points + c) * seeds + s;
                    importance[k] = new double[] {1, importances[r]};
                    sparsity[k] = 1 - densities[c];
                }
            }
        }
        ToyModel model = ToyModel.create(2, 1, importance, sparsity, seed);
        model.train(steps, 512, 1e-2);
        double[] losses = model.evaluate(65_536);
        double[][][] best = new double[points][points][];
        for (int r = 0; r < points; r++) {
            for (int c = 0; c < points; c++) {
                int first = (r * points + c) * seeds;
                int lowest = first;
                for (int k = first; k < first + seeds; k++) {
                    lowest = losses[k] < losses[lowest] ? k : lowest;
                }
                best[r][c] = model.weights(lowest)[0];
            }
        }
        return new PhaseDiagram(densities, importances, best);
    }

    /** A 10 × 10 grid, 3 seeds per cell, 2,000 steps. */
    public static PhaseDiagram phaseChange(long seed) {
        return phaseChange(10, 3, 2_000, seed);
    }

    /** {@code points} values from {@code from} to {@code to}, evenly spaced in log. */
    static double[] logGrid(double from, double to, int points) {
        double[] out = new double[points];
        for (int i = 0; i < points; i++) {
            out[i] = from * Math.pow(to / from, points == 1 ? 0 : i / (points - 1.0));
        }
        return out;
    }

    /** One model per sparsity, trained on batches of 1,024 at learning rate 0.01. */
    private static ToyModel trained(int hidden, double[] importance, double[] sparsities, int steps, long seed) {
        ToyModel model = ToyModel.create(hidden, importance, sparsities, seed);
        model.train(steps, 1024, 1e-2);
        return model;
    }

    private static double[][][] weights(ToyModel model) {
        double[][][] out = new double[model.instances()][][];
        for (int i = 0; i < out.length; i++) {
            out[i] = model.weights(i);
        }
        return out;
    }
}

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
     * Five features in two dimensions with importance 0.9^i at each sparsity of {@link #geometrySparsities()}: the
     * paper's opening figure. Six models per sparsity, 3,000 AdamW steps of 1,024 inputs at learning rate 0.01; the one
     * with the lowest loss is kept, as the paper does (with one or three, the best model at S = 0.90 still kept four
     * features of five).
     */
    public static FeatureGeometry featureGeometry(long seed) {
        return featureGeometry(geometrySparsities(), 6, 3_000, seed);
    }

    public static FeatureGeometry featureGeometry(double[] sparsities, int seeds, int steps, long seed) {
        double[] importance = ToyModel.decayingImportance(0.9, 5);
        Best best = bestOf(2, importance, sparsities, seeds, steps, seed);
        return new FeatureGeometry(sparsities.clone(), importance, best.weights(), best.losses());
    }

    /** The paper's sparsities for its 20-feature sweep. */
    public static double[] sweepSparsities() {
        return new double[] {0, 0.7, 0.9, 0.97, 0.99, 0.997, 0.999};
    }

    /**
     * Twenty features in five dimensions with importance 0.7^i at each sparsity of {@link #sweepSparsities()}: the
     * paper's WᵀW and feature-norm figure. Three models per sparsity, 4,000 AdamW steps of 1,024 inputs at learning
     * rate 0.01, the lowest loss kept.
     */
    public static SparsitySweep acrossSparsity(long seed) {
        return acrossSparsity(sweepSparsities(), 3, 4_000, seed);
    }

    public static SparsitySweep acrossSparsity(double[] sparsities, int seeds, int steps, long seed) {
        double[] importance = ToyModel.decayingImportance(0.7, 20);
        Best best = bestOf(5, importance, sparsities, seeds, steps, seed);
        return new SparsitySweep(sparsities.clone(), importance, best.weights(), best.losses());
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
        Best cellsBest = lowest(model, seeds, 65_536);
        double[][][] best = new double[points][points][];
        for (int r = 0; r < points; r++) {
            for (int c = 0; c < points; c++) {
                best[r][c] = cellsBest.weights()[r * points + c][0];
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

    /** Of each group of models, the weights and loss of the one with the lowest loss. */
    private record Best(double[][][] weights, double[] losses) {}

    /** {@code seeds} models per sparsity trained together on batches of 1,024 at learning rate 0.01. */
    private static Best bestOf(int hidden, double[] importance, double[] sparsities, int seeds, int steps, long seed) {
        double[] each = new double[sparsities.length * seeds];
        for (int i = 0; i < each.length; i++) {
            each[i] = sparsities[i / seeds];
        }
        ToyModel model = ToyModel.create(hidden, importance, each, seed);
        model.train(steps, 1024, 1e-2);
        return lowest(model, seeds, 16_384);
    }

    /** Instances k·seeds .. k·seeds + seeds − 1 form group k; losses on {@code batch} fresh inputs. */
    private static Best lowest(ToyModel model, int seeds, int batch) {
        double[] losses = model.evaluate(batch);
        int groups = model.instances() / seeds;
        double[][][] weights = new double[groups][][];
        double[] kept = new double[groups];
        for (int g = 0; g < groups; g++) {
            int best = g * seeds;
            for (int k = best; k < (g + 1) * seeds; k++) {
                best = losses[k] < losses[best] ? k : best;
            }
            weights[g] = model.weights(best);
            kept[g] = losses[best];
        }
        return new Best(weights, kept);
    }
}

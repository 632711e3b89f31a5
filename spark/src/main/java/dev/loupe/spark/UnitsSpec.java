package dev.loupe.spark;

import dev.loupe.model.HookedTransformer;
import dev.loupe.sae.Units;

import java.io.Serializable;

/**
 * Which {@link Units} a job reads, as something that travels to executors: each builds the units itself, from the SAE
 * folder or the hook point and neurons or vectors.
 */
public final class UnitsSpec implements Serializable {

    private static final long serialVersionUID = 1L;

    private final String sae;
    private final String hook;
    private final int[] neurons;
    private final float[][] directions;

    private UnitsSpec(String sae, String hook, int[] neurons, float[][] directions) {
        this.sae = sae;
        this.hook = hook;
        this.neurons = neurons;
        this.directions = directions;
    }

    /** The features of the SAE in {@code folder} (a path every executor can read, or {@code loupe/NAME}). */
    public static UnitsSpec features(String folder) {
        return new UnitsSpec(folder, null, null, null);
    }

    /** Neurons of a hook point: the columns given, or all of them. */
    public static UnitsSpec neurons(String hook, int... columns) {
        return new UnitsSpec(null, hook, columns.clone(), null);
    }

    /** Directions in a hook point's activation, one per row. */
    public static UnitsSpec directions(String hook, float[][] vectors) {
        return new UnitsSpec(null, hook, null, vectors.clone());
    }

    Units build(HookedTransformer model) {
        if (sae != null) {
            return Units.features(ExecutorModels.sae(sae));
        }
        return neurons != null ? Units.neurons(model, hook, neurons) : Units.directions(model, hook, directions);
    }
}

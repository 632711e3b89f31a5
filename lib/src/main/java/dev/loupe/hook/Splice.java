package dev.loupe.hook;

import ai.djl.ndarray.NDArray;

import java.util.List;

/**
 * Something spliced into a model's forward pass that replaces one activation and has hook points of its own, as an
 * SAE (read and replace at one hook point) or a transcoder (read at one, replace another). A model attaches it with
 * {@code model.saes(...)}; while attached, its hook points are the model's, so caches, hooks and patching reach them.
 */
public interface Splice {

    /** The model hook point it reads. */
    String inputHook();

    /** The model hook point whose activation it replaces; the input hook for an SAE. */
    String outputHook();

    /** Its hook points made while reading the input, in the order a run reaches them. */
    List<HookPoint> inputPoints();

    /** Its hook points made while producing the output, in order (after the input's for an SAE). */
    List<HookPoint> outputPoints();

    /** One attachment's state for the runs of one thread: what the input side leaves for the output side. */
    interface Run {
        /** Sees the model's activation at the input hook (and may keep it); returns the activation to go on with. */
        NDArray atInput(NDArray activation);

        /** Returns the replacement for the model's activation at the output hook. */
        NDArray atOutput(NDArray activation);
    }

    Run start();
}

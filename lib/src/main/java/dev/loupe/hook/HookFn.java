package dev.loupe.hook;

import ai.djl.ndarray.NDArray;

/**
 * A function run on an activation as the model makes it, TransformerLens's {@code hook_fn(tensor, hook)}.
 * Return the activation (or a replacement of the same shape) to use from then on; {@code null} means
 * "unchanged", so a hook that only reads can return nothing useful.
 */
@FunctionalInterface
public interface HookFn {
    NDArray apply(NDArray activation, HookPoint hook);
}

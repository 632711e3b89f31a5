package dev.loupe.hook;

import ai.djl.ndarray.types.Shape;

/** A hook returned an activation whose shape differs from the one it was given. */
public final class HookShapeException extends IllegalStateException {
    public HookShapeException(String hookName, Shape expected, Shape actual) {
        super("The hook at " + hookName + " returned shape " + actual + " but the activation has shape "
                + expected + ". A hook must return an activation of the shape it was given"
                + " (edit a copy, e.g. act.duplicate(), and return that).");
    }
}

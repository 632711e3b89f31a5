package dev.loupe.model;

import dev.loupe.hook.HookPoint;
import dev.loupe.model.Params.Init;
import dev.loupe.model.Params.Param;

/**
 * Where a component declares its parameters and hook points: a name prefix ("blocks.3.attn.") over the model's
 * parameter and hook registries, so that a component names its own parts ("W_Q", "hook_q") and the full
 * TransformerLens names follow from where it sits.
 */
final class Scope {

    private final String prefix;
    private final Params params;
    private final HookRegistry hooks;

    Scope(Params params, HookRegistry hooks) {
        this("", params, hooks);
    }

    private Scope(String prefix, Params params, HookRegistry hooks) {
        this.prefix = prefix;
        this.params = params;
        this.hooks = hooks;
    }

    /** The scope of a part of this component: child("attn") of "blocks.3." is "blocks.3.attn.". */
    Scope child(String name) {
        return new Scope(prefix + name + ".", params, hooks);
    }

    Param param(String name, Init init, long... shape) {
        return params.declare(prefix + name, init, shape);
    }

    /** Makes the hook point; components call this in the order the forward pass reaches the activation. */
    HookPoint hook(String name) {
        return hooks.point(prefix + name);
    }
}

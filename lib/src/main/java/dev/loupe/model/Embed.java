package dev.loupe.model;

import ai.djl.ndarray.NDArray;

import dev.loupe.hook.HookPoint;

import java.util.Map;

/** Token embedding: tokens [batch, pos] to rows of W_E [d_vocab, d_model]. */
final class Embed {

    private final Map<String, NDArray> params;
    private final HookPoint hookEmbed;

    Embed(Map<String, NDArray> params, HookRegistry hooks) {
        this.params = params;
        this.hookEmbed = hooks.point("hook_embed");
    }

    NDArray forward(NDArray tokens) {
        NDArray W_E = params.get("embed.W_E");
        return hookEmbed.apply(W_E.get(tokens)); // [batch, pos, d_model]
    }
}

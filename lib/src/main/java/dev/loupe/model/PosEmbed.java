package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

import dev.loupe.hook.HookPoint;

import java.util.Map;

/** Learned positional embedding: rows of W_pos [n_ctx, d_model] for each token's position. */
final class PosEmbed {

    private final Map<String, NDArray> params;
    private final HookPoint hookPosEmbed;

    PosEmbed(Map<String, NDArray> params, HookRegistry hooks) {
        this.params = params;
        this.hookPosEmbed = hooks.point("hook_pos_embed");
    }

    /** positions: [batch, pos] (counted from each row's first real token) or [pos] shared by the batch. */
    NDArray forward(NDArray positions, long batch) {
        return hookPosEmbed.apply(table(positions, batch)); // [batch, pos, d_model]
    }

    /** The embedding rows without passing the hook point (for runs that start after the embeddings). */
    NDArray table(NDArray positions, long batch) {
        NDArray W_pos = params.get("pos_embed.W_pos");
        NDArray pos = W_pos.get(positions);
        if (positions.getShape().dimension() == 1) {
            pos = pos.broadcast(new Shape(batch, positions.size(), W_pos.getShape().get(1)));
        }
        return pos;
    }
}

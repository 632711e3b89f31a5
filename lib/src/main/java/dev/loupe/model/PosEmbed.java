package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

import dev.loupe.hook.HookPoint;
import dev.loupe.model.Params.Init;
import dev.loupe.model.Params.Param;

/** Learned positional embedding: rows of W_pos for each token's position. */
final class PosEmbed {

    private final Param W_pos;             // [n_ctx, d_model]
    private final HookPoint hookPosEmbed;  // [batch, pos, d_model]

    PosEmbed(Scope s, ModelConfig cfg) {
        W_pos = s.child("pos_embed").param("W_pos", Init.NORMAL, cfg.nCtx(), cfg.dModel());
        hookPosEmbed = s.hook("hook_pos_embed");
    }

    /** positions: [batch, pos] (counted from each row's first real token) or [pos] shared by the batch. */
    NDArray forward(NDArray positions, long batch) {
        return hookPosEmbed.apply(table(positions, batch));
    }

    /** The embedding rows without passing the hook point (for runs that start after the embeddings). */
    NDArray table(NDArray positions, long batch) {
        NDArray pos = W_pos.get().get(positions);
        if (positions.getShape().dimension() == 1) {
            pos = pos.broadcast(new Shape(batch, positions.size(), W_pos.get().getShape().get(1)));
        }
        return pos;
    }
}

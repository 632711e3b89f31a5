package dev.loupe.model;

import ai.djl.ndarray.NDArray;

import java.util.List;

/**
 * What every block of one forward pass shares: the attention mask, each token's position (for rotary
 * attention), the shortformer position embedding added to queries' and keys' inputs (or null) and the keys
 * and values of earlier positions that attention sees before the pass's own (or null). A pass over several runs
 * packed along the position axis ({@link #packed} not null) has per-token positions and no mask of its own: attention
 * takes each run's tokens apart and attends within the run, by its own pass.
 */
record Pass(AttentionMask mask, NDArray positions, NDArray shortformerPos, Earlier earlier, List<Run> packed) {

    Pass(AttentionMask mask, NDArray positions, NDArray shortformerPos, Earlier earlier) {
        this(mask, positions, shortformerPos, earlier, null);
    }

    /** One run of a packed pass: {@code rows} × {@code length} tokens, in that order, and its own pass. */
    record Run(long rows, long length, Pass pass) {}

    /** Keys and values of positions before a pass's own: a {@link KvCache} being filled, or a read-only prefix of one. */
    interface Earlier {
        /** This layer's keys and values [batch, pos, kv_head, d_head] of the earlier positions followed by {@code k}, {@code v}. */
        NDArray[] prepend(int layer, NDArray k, NDArray v);
    }
}

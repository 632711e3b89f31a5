package dev.loupe.model;

import ai.djl.ndarray.NDArray;

/**
 * What every block of one forward pass shares: the attention mask, each token's position (for rotary
 * attention), the shortformer position embedding added to queries' and keys' inputs (or null) and the keys
 * and values of earlier positions that attention sees before the pass's own (or null).
 */
record Pass(AttentionMask mask, NDArray positions, NDArray shortformerPos, Earlier earlier) {

    /** Keys and values of positions before a pass's own: a {@link KvCache} being filled, or a read-only prefix of one. */
    interface Earlier {
        /** This layer's keys and values [batch, pos, kv_head, d_head] of the earlier positions followed by {@code k}, {@code v}. */
        NDArray[] prepend(int layer, NDArray k, NDArray v);
    }
}

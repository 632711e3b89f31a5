package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Which keys each query may attend to: earlier or same positions (causal), and, with padding, only real
 * tokens. {@code padding} is the user's attention mask [batch, pos], 1 for real tokens and 0 for padding.
 */
final class AttentionMask {

    private final NDArray allowed; // [batch or 1, 1, query_pos, key_pos]
    private final boolean padded;
    private NDArray bias; // 0 where allowed, -inf elsewhere, per dtype of the scores

    private AttentionMask(NDArray allowed, boolean padded) {
        this.allowed = allowed;
        this.padded = padded;
    }

    static AttentionMask causal(NDManager manager, long pos, NDArray padding) {
        NDArray index = manager.arange(pos);
        NDArray causal = index.reshape(1, pos).lte(index.reshape(pos, 1)); // key <= query
        if (padding == null) {
            return new AttentionMask(causal.reshape(1, 1, pos, pos), false);
        }
        NDArray real = padding.toType(DataType.BOOLEAN, false).reshape(padding.getShape().get(0), 1, 1, pos);
        return new AttentionMask(causal.reshape(1, 1, pos, pos).logicalAnd(real), true);
    }

    /** Queries at positions past..past+pos-1 over keys 0..past+pos-1 (a run continuing from a {@link KvCache}). */
    static AttentionMask causalAfter(NDManager manager, long past, long pos) {
        NDArray queries = manager.arange(past, past + pos).reshape(pos, 1);
        NDArray keys = manager.arange(past + pos).reshape(1, past + pos);
        return new AttentionMask(keys.lte(queries).reshape(1, 1, pos, past + pos), false);
    }

    /** Masked scores: -inf where a key may not be seen. Adding 0 elsewhere leaves the scores exactly as they were. */
    NDArray apply(NDArray scores) {
        if (bias == null || bias.getDataType() != scores.getDataType()) {
            Shape shape = allowed.getShape();
            NDManager m = scores.getManager();
            bias = NDArrays.where(allowed, m.zeros(shape, scores.getDataType()),
                    m.full(shape, Float.NEGATIVE_INFINITY, scores.getDataType()));
            NDScope.unregister(bias); // made inside the first block's scope, used by every block: the collector frees it
        }
        return scores.add(bias);
    }

    /** With left padding a padding query has no real key; its softmax row is NaN and is set to zero. */
    boolean mayMaskWholeRows() {
        return padded;
    }
}

package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.util.HashMap;
import java.util.Map;

/**
 * Which keys each query may attend to: earlier or same positions (causal), within the layer's window for local
 * attention (query − key < window), and, with padding, only real tokens. {@code padding} is the user's attention
 * mask [batch, pos], 1 for real tokens and 0 for padding.
 */
final class AttentionMask {

    private final NDArray queries; // [pos, 1] absolute positions
    private final NDArray keys;    // [1, key_pos]
    private final NDArray real;    // [batch, 1, 1, key_pos] or null
    private final Map<String, NDArray> biases = new HashMap<>(); // 0 where allowed, -inf elsewhere, per window and dtype

    private AttentionMask(NDArray queries, NDArray keys, NDArray real) {
        this.queries = queries;
        this.keys = keys;
        this.real = real;
    }

    static AttentionMask causal(NDManager manager, long pos, NDArray padding) {
        NDArray real = padding == null ? null
                : padding.toType(DataType.BOOLEAN, false).reshape(padding.getShape().get(0), 1, 1, pos);
        return new AttentionMask(manager.arange(pos).reshape(pos, 1), manager.arange(pos).reshape(1, pos), real);
    }

    /** Queries at positions past..past+pos-1 over keys 0..past+pos-1 (a run continuing from a {@link KvCache}). */
    static AttentionMask causalAfter(NDManager manager, long past, long pos) {
        return new AttentionMask(manager.arange(past, past + pos).reshape(pos, 1), manager.arange(past + pos).reshape(1, past + pos), null);
    }

    /** Masked scores [batch, head, query, key]: -inf where a key may not be seen; window 0 for global attention. */
    NDArray apply(NDArray scores, int window) {
        NDArray bias = biases.computeIfAbsent(window + " " + scores.getDataType(), key -> {
            NDArray allowed = keys.lte(queries);
            if (window > 0) {
                allowed = allowed.logicalAnd(keys.gt(queries.sub(window)));
            }
            Shape shape = new Shape(1, 1, allowed.getShape().get(0), allowed.getShape().get(1));
            allowed = allowed.reshape(shape);
            if (real != null) {
                allowed = allowed.logicalAnd(real);
            }
            NDManager m = scores.getManager();
            NDArray b = NDArrays.where(allowed, m.zeros(allowed.getShape(), scores.getDataType()),
                    m.full(allowed.getShape(), Float.NEGATIVE_INFINITY, scores.getDataType()));
            NDScope.unregister(b); // made inside the first block's scope, used by every block: the collector frees it
            return b;
        });
        return scores.add(bias); // adding 0 leaves the allowed scores exactly as they were
    }

    /** With left padding a padding query has no real key; its softmax row is NaN and is set to zero. */
    boolean mayMaskWholeRows() {
        return real != null;
    }
}

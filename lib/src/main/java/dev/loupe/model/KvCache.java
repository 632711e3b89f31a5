package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;

/**
 * Keys and values of the positions already run, per layer, so that the next tokens attend to them without
 * recomputing them (TransformerLens's past_kv_cache): generation costs one position per step instead of the
 * whole sequence. Hooks on a run with a cache see the new positions only. A run that fails leaves the cache as
 * it was.
 */
public final class KvCache {

    private final NDArray[] keys;   // [batch, cached positions, head, d_head] per layer
    private final NDArray[] values;
    private final NDArray[] pendingKeys;
    private final NDArray[] pendingValues;
    private long length;

    KvCache(int layers) {
        keys = new NDArray[layers];
        values = new NDArray[layers];
        pendingKeys = new NDArray[layers];
        pendingValues = new NDArray[layers];
    }

    /** Positions cached so far. */
    public long length() {
        return length;
    }

    /** This layer's keys and values for all positions: the cached ones followed by {@code k}, {@code v}. */
    NDArray[] extend(int layer, NDArray k, NDArray v) {
        NDArray allK = keys[layer] == null ? k : NDArrays.concat(new NDList(keys[layer], k), 1);
        NDArray allV = values[layer] == null ? v : NDArrays.concat(new NDList(values[layer], v), 1);
        NDScope.unregister(allK, allV); // they outlive the forward pass that made them
        pendingKeys[layer] = allK;
        pendingValues[layer] = allV;
        return new NDArray[] {allK, allV};
    }

    /** Takes the keys and values of a forward pass that completed. */
    void commit(long newPositions) {
        System.arraycopy(pendingKeys, 0, keys, 0, keys.length);
        System.arraycopy(pendingValues, 0, values, 0, values.length);
        length += newPositions;
    }
}

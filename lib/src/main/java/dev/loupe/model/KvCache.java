package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;

import dev.loupe.tensor.Tensors;

/**
 * Keys and values of the positions already run, per layer, so that the next tokens attend to them without
 * recomputing them (TransformerLens's past_kv_cache): generation costs one position per step instead of the
 * whole sequence. Hooks on a run with a cache see the new positions only. A run that fails leaves the cache as
 * it was. A filled cache also serves as the read-only prefix of runs over later positions only
 * ({@link HookedTransformer#residualAt(int, int, NDArray, KvCache, int)}).
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

    /** Rows of the batch the cache was filled with (0 while empty). */
    long batch() {
        return keys[0] == null ? 0 : keys[0].getShape().get(0);
    }

    /**
     * This layer's keys and values of the first {@code positions} cached positions followed by {@code k}, {@code v},
     * whose rows are copies of the cached batch (row i continues cached row i mod batch). The cache is not changed.
     */
    NDArray[] prefix(int layer, long positions, NDArray k, NDArray v) {
        return new NDArray[] {before(keys[layer], positions, k), before(values[layer], positions, v)};
    }

    private static NDArray before(NDArray cached, long positions, NDArray own) {
        NDArray prefix = cached.get(":, :" + positions);
        return NDArrays.concat(new NDList(Tensors.tile(prefix, own.getShape().get(0) / prefix.getShape().get(0)), own), 1);
    }

    /** Takes the keys and values of a forward pass that completed. */
    void commit(long newPositions) {
        System.arraycopy(pendingKeys, 0, keys, 0, keys.length);
        System.arraycopy(pendingValues, 0, values, 0, values.length);
        length += newPositions;
    }
}

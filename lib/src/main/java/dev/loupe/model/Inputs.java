package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The checks on what a caller hands the model (token ids, attention masks, residual streams, layer indices), each
 * failing with a message that names the thing, what was expected and what came.
 */
final class Inputs {

    private Inputs() {}

    /** Token ids [batch, pos] (a [pos] sequence is one row) as INT64, each in the vocabulary, that fit n_ctx after {@code cached}. */
    static NDArray tokens(ModelConfig cfg, NDArray tokens, long cached) {
        Shape s = tokens.getShape();
        if (s.dimension() == 1) {
            tokens = tokens.reshape(1, s.get(0));
            s = tokens.getShape();
        }
        if (s.dimension() != 2 || s.get(1) == 0) {
            throw new IllegalArgumentException("Tokens must have shape [batch, pos] (or [pos]), got " + s);
        }
        DataType t = tokens.getDataType();
        if (t != DataType.INT64 && t != DataType.INT32) {
            throw new IllegalArgumentException("Tokens must be integer ids (int64 or int32), got " + t
                    + ". Make them with model.toTokens(...).");
        }
        if (cached + s.get(1) > cfg.nCtx()) {
            throw new IllegalArgumentException("The sequence has " + (cached + s.get(1)) + " tokens"
                    + (cached > 0 ? " (" + cached + " cached)" : "") + " but " + cfg.modelName()
                    + " has n_ctx = " + cfg.nCtx() + ". Truncate or split it into pieces of at most " + cfg.nCtx() + " tokens.");
        }
        NDArray ids64 = t == DataType.INT64 ? tokens : tokens.toType(DataType.INT64, false);
        long[] ids = ids64.toLongArray();
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= cfg.dVocab()) {
                throw new IllegalArgumentException("Token id " + ids[i] + " at [" + i / s.get(1) + ", " + i % s.get(1)
                        + "] is out of range: " + cfg.modelName() + " has d_vocab = " + cfg.dVocab()
                        + ", so ids must be in [0, " + (cfg.dVocab() - 1) + "].");
            }
        }
        return ids64;
    }

    /** The mask [batch, pos] as INT64 (null stays null); it must have the tokens' shape. */
    static NDArray mask(NDArray mask, Shape tokenShape) {
        if (mask == null) {
            return null;
        }
        if (mask.getShape().dimension() == 1) {
            mask = mask.reshape(1, mask.getShape().get(0));
        }
        if (!mask.getShape().equals(tokenShape)) {
            throw new IllegalArgumentException("The attention mask has shape " + mask.getShape()
                    + " but the tokens have shape " + tokenShape + "; they must match.");
        }
        return mask.toType(DataType.INT64, false);
    }

    /** A residual stream [batch, pos <= n_ctx, d_model]; its shape. */
    static Shape residual(ModelConfig cfg, NDArray residual) {
        Shape s = residual.getShape();
        if (s.dimension() != 3 || s.get(2) != cfg.dModel() || s.get(1) > cfg.nCtx()) {
            throw new IllegalArgumentException("The residual stream must be [batch, pos <= " + cfg.nCtx() + ", "
                    + cfg.dModel() + "], got " + s);
        }
        return s;
    }

    /** A residual stream {@code s} at positions from.. that attends to the first {@code from} positions of {@code prefix}. */
    static void after(ModelConfig cfg, Shape s, KvCache prefix, int from) {
        if (from == 0) {
            return;
        }
        if (from < 0 || prefix == null || prefix.length() < from) {
            throw new IllegalArgumentException("Positions from " + from + " attend to the keys and values of the positions"
                    + " before them, but the cache holds " + (prefix == null ? "none" : prefix.length() + " positions"));
        }
        if (from + s.get(1) > cfg.nCtx()) {
            throw new IllegalArgumentException("Positions " + from + ".." + (from + s.get(1) - 1) + " do not fit n_ctx = "
                    + cfg.nCtx());
        }
        if (s.get(0) % prefix.batch() != 0) {
            throw new IllegalArgumentException("The residual stream " + s + " has " + s.get(0) + " rows, not copies of the"
                    + " cache's batch of " + prefix.batch());
        }
    }

    /** One position per row of the input {@code s}, [batch, pos, ...] (null: all positions). */
    static void unembedAt(long[] unembedAt, Shape s) {
        if (unembedAt == null) {
            return;
        }
        if (unembedAt.length != s.get(0)) {
            throw new IllegalArgumentException("unembedAt names a position for " + unembedAt.length + " rows but the input "
                    + s + " has " + s.get(0));
        }
        for (int i = 0; i < unembedAt.length; i++) {
            if (unembedAt[i] < 0 || unembedAt[i] >= s.get(1)) {
                throw new IllegalArgumentException("unembedAt[" + i + "] = " + unembedAt[i] + " is not a position of the"
                        + " input " + s);
            }
        }
    }

    /** {@code startLayer} as the first block to run: 0..n_layers (n_layers runs none). */
    static void startLayer(ModelConfig cfg, int startLayer) {
        if (startLayer < 0 || startLayer > cfg.nLayers()) {
            throw new IllegalArgumentException("startLayer must be in [0, " + cfg.nLayers() + "], got " + startLayer);
        }
    }

    /** {@code stopAtLayer} as the number of blocks a run from the tokens goes through: 0..n_layers. */
    static void stopAtLayer(ModelConfig cfg, int stopAtLayer) {
        if (stopAtLayer < 0 || stopAtLayer > cfg.nLayers()) {
            throw new IllegalArgumentException("stopAtLayer must be in [0, " + cfg.nLayers() + "] (the run goes through blocks"
                    + " 0..stopAtLayer-1 of " + cfg.modelName() + "), got " + stopAtLayer);
        }
    }

    /** Blocks {@code startLayer..stopAtLayer-1}, possibly none. */
    static void layerRange(ModelConfig cfg, int startLayer, int stopAtLayer) {
        if (startLayer < 0 || stopAtLayer < startLayer || stopAtLayer > cfg.nLayers()) {
            throw new IllegalArgumentException("Need 0 <= startLayer <= stopAtLayer <= " + cfg.nLayers() + ", got " + startLayer
                    + " and " + stopAtLayer);
        }
    }

    /** A layer that exists. */
    static void layer(ModelConfig cfg, int layer) {
        if (layer < 0 || layer >= cfg.nLayers()) {
            throw new IllegalArgumentException("Layer " + layer + " does not exist; " + cfg.modelName()
                    + " has layers 0.." + (cfg.nLayers() - 1));
        }
    }

    /** Every parameter of {@code expected} with its shape, and nothing else. */
    static void stateDict(ModelConfig cfg, Map<String, Shape> expected, Map<String, NDArray> stateDict) {
        List<String> problems = new ArrayList<>();
        expected.forEach((name, shape) -> {
            NDArray a = stateDict.get(name);
            if (a == null) {
                problems.add("missing " + name + " " + shape);
            } else if (!a.getShape().equals(shape)) {
                problems.add(name + " has shape " + a.getShape() + ", expected " + shape);
            }
        });
        for (String name : stateDict.keySet()) {
            if (!expected.containsKey(name)) {
                problems.add("unexpected " + name);
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("The state dict does not fit " + cfg.modelName() + " (" + cfg + "): "
                    + String.join("; ", problems));
        }
    }
}

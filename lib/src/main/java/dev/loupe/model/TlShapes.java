package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

import dev.loupe.load.HfWeights;
import dev.loupe.load.ModelFileException;

import java.util.Map;

/**
 * Hugging Face's linear layers (weight [out, in], y = x Wᵀ) in TransformerLens's shapes, which multiply on the
 * right and keep attention weights per head.
 */
final class TlShapes {

    private TlShapes() {}

    /** A query/key/value projection [heads·d_head, d_model] as [heads, d_model, d_head]. */
    static NDArray perHead(NDArray w, int heads, int dHead) {
        return w.reshape(heads, dHead, w.getShape().get(1)).transpose(0, 2, 1);
    }

    /** An output projection [d_model, heads·d_head] as [heads, d_head, d_model]. */
    static NDArray outPerHead(NDArray w, int heads, int dHead) {
        return w.transpose().reshape(heads, dHead, w.getShape().get(0));
    }

    /** A linear layer [out, in] as [in, out]. */
    static NDArray rightMultiplied(NDArray w) {
        return w.transpose();
    }

    /** A LayerNorm's HF {@code prefix.weight} and {@code prefix.bias} as TransformerLens's {@code name.w} and {@code name.b}. */
    static void layerNorm(Map<String, NDArray> w, String name, HfWeights in, String prefix, long d) throws ModelFileException {
        w.put(name + ".w", in.take(prefix + ".weight", d));
        w.put(name + ".b", in.take(prefix + ".bias", d));
    }

    /** A bias the family does not have, as TransformerLens keeps it: zeros. */
    static NDArray zeros(NDArray like, long... shape) {
        return like.getManager().zeros(new Shape(shape), like.getDataType());
    }
}

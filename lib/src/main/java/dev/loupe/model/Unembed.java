package dev.loupe.model;

import ai.djl.ndarray.NDArray;

import java.util.Map;

/** Unembedding: residual [batch, pos, d_model] to logits [batch, pos, d_vocab_out] by W_U and b_U. */
final class Unembed {

    private final Map<String, NDArray> params;

    Unembed(Map<String, NDArray> params) {
        this.params = params;
    }

    NDArray forward(NDArray x) {
        return x.matMul(params.get("unembed.W_U")).add(params.get("unembed.b_U"));
    }
}

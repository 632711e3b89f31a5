package dev.loupe.model;

import ai.djl.ndarray.NDArray;

import dev.loupe.model.Params.Init;
import dev.loupe.model.Params.Param;
import dev.loupe.tensor.Tensors;

/** Unembedding: residual [batch, pos, d_model] to logits [batch, pos, d_vocab_out], soft-capped in Gemma 2. */
final class Unembed {

    private final Param W_U; // [d_model, d_vocab_out]
    private final Param b_U; // [d_vocab_out]
    private final double softCap;

    Unembed(Scope s, ModelConfig cfg) {
        Scope u = s.child("unembed");
        W_U = u.param("W_U", Init.NORMAL, cfg.dModel(), cfg.dVocabOut());
        b_U = u.param("b_U", Init.ZEROS, cfg.dVocabOut());
        softCap = cfg.outputLogitsSoftCap();
    }

    NDArray forward(NDArray x) {
        NDArray logits = x.matMul(W_U.get()).addi(b_U.get()); // in place: at 8 × 128 tokens the logits are 206 MB
        if (softCap > 0) {
            NDArray cap = Tensors.scalar(softCap, logits.getDataType());
            logits = logits.div(cap).tanh().mul(cap);
        }
        return logits;
    }
}

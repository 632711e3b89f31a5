package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;

import dev.loupe.hook.HookPoint;
import dev.loupe.model.ModelConfig.Normalization;
import dev.loupe.model.ModelConfig.PositionalEmbedding;
import dev.loupe.model.Params.Init;
import dev.loupe.model.Params.Param;
import dev.loupe.tensor.Tensors;

import java.util.List;

/**
 * Causal self-attention, multi-head or grouped-query (key and value heads shared by groups of query heads;
 * one key/value head is multi-query). Weights are per head, as TransformerLens keeps them. Options by family:
 * per-head q/k RMS norms (Qwen 3, Gemma 3), rotary positions, a score scale (1/sqrt(d_head) by default),
 * soft-capped scores (Gemma 2) and a local window (GPT-Neo, Mistral, Gemma).
 */
final class Attention {

    private final int layer;
    private final int nHeads;
    private final int nKeyValueHeads;
    private final int window;
    private final double scale;
    private final double softCap;

    private final Param W_Q; // [head, d_model, d_head]
    private final Param b_Q; // [head, d_head]
    private final Param W_K; // [kv_head, d_model, d_head]
    private final Param b_K; // [kv_head, d_head]
    private final Param W_V; // [kv_head, d_model, d_head]
    private final Param b_V; // [kv_head, d_head]
    private final Param W_O; // [head, d_head, d_model]
    private final Param b_O; // [d_model]
    private final Norm qNorm; // over d_head, per head; or null
    private final Norm kNorm;
    private final Rotary rotary; // or null

    private final HookPoint hookQ;          // [batch, pos, head, d_head]
    private final HookPoint hookK;          // [batch, pos, kv_head, d_head]
    private final HookPoint hookV;          // [batch, pos, kv_head, d_head]
    private final HookPoint hookRotQ;       // [batch, pos, head, d_head], rotary models
    private final HookPoint hookRotK;       // [batch, pos, kv_head, d_head]
    private final HookPoint hookAttnScores; // [batch, head, query_pos, key_pos], -inf where masked
    private final HookPoint hookPattern;    // [batch, head, query_pos, key_pos]
    private final HookPoint hookZ;          // [batch, pos, head, d_head]
    private final HookPoint hookResult;     // [batch, pos, head, d_model], made only when someone looks

    Attention(Scope s, ModelConfig cfg, int layer) {
        int d = cfg.dModel();
        int h = cfg.nHeads();
        int kv = cfg.nKeyValueHeads();
        int dh = cfg.dHead();
        this.layer = layer;
        this.nHeads = h;
        this.nKeyValueHeads = kv;
        this.window = cfg.window(layer);
        this.scale = cfg.attnScale();
        this.softCap = cfg.attnScoresSoftCap();
        W_Q = s.param("W_Q", Init.NORMAL, h, d, dh);
        b_Q = s.param("b_Q", Init.ZEROS, h, dh);
        W_K = s.param("W_K", Init.NORMAL, kv, d, dh);
        b_K = s.param("b_K", Init.ZEROS, kv, dh);
        W_V = s.param("W_V", Init.NORMAL, kv, d, dh);
        b_V = s.param("b_V", Init.ZEROS, kv, dh);
        W_O = s.param("W_O", Init.NORMAL, h, dh, d);
        b_O = s.param("b_O", Init.ZEROS, d);

        hookQ = s.hook("hook_q");
        hookK = s.hook("hook_k");
        hookV = s.hook("hook_v");
        Normalization qk = cfg.normalization().isRms() ? Normalization.RMS : Normalization.LN; // never folded
        qNorm = cfg.useQkNorm() ? new Norm(s.child("q_norm"), qk, cfg.eps(), dh) : null;
        kNorm = cfg.useQkNorm() ? new Norm(s.child("k_norm"), qk, cfg.eps(), dh) : null;
        boolean rotate = cfg.positionalEmbedding() == PositionalEmbedding.ROTARY;
        rotary = rotate ? new Rotary(cfg, layer) : null;
        hookRotQ = rotate ? s.hook("hook_rot_q") : null;
        hookRotK = rotate ? s.hook("hook_rot_k") : null;
        hookAttnScores = s.hook("hook_attn_scores");
        hookPattern = s.hook("hook_pattern");
        hookZ = s.hook("hook_z");
        hookResult = s.hook("hook_result");
    }

    /**
     * Inputs [batch, pos, d_model] (queries and keys may carry shortformer positions); returns [batch, pos, d_model].
     * With earlier positions (a cache, or a prefix of one), their keys and values come before this run's.
     */
    NDArray forward(NDArray queryInput, NDArray keyInput, NDArray valueInput, Pass pass) {
        NDArray q = hookQ.apply(project(queryInput, W_Q, b_Q, nHeads));
        NDArray k = hookK.apply(project(keyInput, W_K, b_K, nKeyValueHeads));
        NDArray v = hookV.apply(project(valueInput, W_V, b_V, nKeyValueHeads));
        if (qNorm != null) {
            q = qNorm.forward(q);
            k = kNorm.forward(k);
        }
        if (rotary != null) {
            q = hookRotQ.apply(rotary.rotate(q, pass.positions()));
            k = hookRotK.apply(rotary.rotate(k, pass.positions()));
        }
        NDArray z = hookZ.apply(pass.packed() == null ? attend(q, k, v, pass) : attendByRun(q, k, v, pass.packed()));

        Shape zShape = z.getShape();
        if (hookResult.isActive()) {
            // Per-head contributions to the residual stream, only made when someone looks at them.
            NDArray result = z.transpose(0, 2, 1, 3).matMul(W_O.get()).transpose(0, 2, 1, 3);
            return hookResult.apply(result).sum(new int[] {2}).addi(b_O.get());
        }
        NDArray flatZ = z.reshape(zShape.get(0), zShape.get(1), zShape.get(2) * zShape.get(3));
        return flatZ.matMul(W_O.get().reshape(zShape.get(2) * zShape.get(3), -1)).addi(b_O.get());
    }

    /** What each query reads, [batch, pos, head, d_head], from q [batch, pos, head, d_head] and k, v [batch, pos, kv_head, d_head]. */
    private NDArray attend(NDArray q, NDArray k, NDArray v, Pass pass) {
        if (pass.earlier() != null) { // earlier positions' keys and values come first
            NDArray[] kv = pass.earlier().prepend(layer, k, v);
            k = kv[0];
            v = kv[1];
        }

        NDArray scores = q.transpose(0, 2, 1, 3).matMul(perQueryHead(k).transpose(0, 1, 3, 2))
                .divi(Tensors.scalar(scale, q.getDataType())); // in place: the product is this pass's own array
        if (softCap > 0) {
            scores = scores.div(Tensors.scalar(softCap, q.getDataType())).tanh().mul(Tensors.scalar(softCap, q.getDataType()));
        }
        scores = hookAttnScores.apply(pass.mask().apply(scores, window));
        NDArray pattern = scores.softmax(-1);
        if (pass.mask().mayMaskWholeRows()) {
            pattern = NDArrays.where(pattern.isNaN(), pattern.zerosLike(), pattern); // padding queries see nothing
        }
        pattern = hookPattern.apply(pattern);

        return pattern.matMul(perQueryHead(v)).transpose(0, 2, 1, 3);
    }

    /**
     * {@link #attend} for runs packed along the position axis (q, k, v [1, tokens, head, d_head]): each run's tokens are
     * its rows one after another, and each run attends within itself by its own pass.
     */
    private NDArray attendByRun(NDArray q, NDArray k, NDArray v, List<Pass.Run> runs) {
        NDList z = new NDList();
        long at = 0;
        for (Pass.Run run : runs) {
            String tokens = ":, " + at + ":" + (at + run.rows() * run.length());
            z.add(attend(byRow(q.get(tokens), run), byRow(k.get(tokens), run), byRow(v.get(tokens), run), run.pass())
                    .reshape(1, run.rows() * run.length(), q.getShape().get(2), q.getShape().get(3)));
            at += run.rows() * run.length();
        }
        return NDArrays.concat(z, 1);
    }

    private static NDArray byRow(NDArray packed, Pass.Run run) {
        Shape s = packed.getShape();
        return packed.reshape(run.rows(), run.length(), s.get(2), s.get(3));
    }

    /** Keys or values [batch, pos, kv_head, d_head] as [batch, head, pos, d_head]: each serves its group of query heads. */
    private NDArray perQueryHead(NDArray kv) {
        NDArray byHead = kv.transpose(0, 2, 1, 3);
        return nKeyValueHeads == nHeads ? byHead : byHead.repeat(1, nHeads / nKeyValueHeads);
    }

    /**
     * x [batch, pos, d_model] times W [heads, d_model, d_head] plus b [heads, d_head]: [batch, pos, heads, d_head], a view
     * of the product taken head by head against W as stored. Flattening W to [d_model, heads · d_head] for one product
     * would copy it on every pass, a quarter of the projection's time at 128 tokens.
     */
    private static NDArray project(NDArray x, Param W, Param b, int heads) {
        Shape s = x.getShape();
        long dHead = W.get().getShape().get(2);
        NDArray byHead = x.reshape(1, s.get(0) * s.get(1), s.get(2)).matMul(W.get()) // [heads, batch · pos, d_head]
                .addi(b.get().reshape(heads, 1, dHead));
        return byHead.reshape(heads, s.get(0), s.get(1), dHead).transpose(1, 2, 0, 3);
    }
}

package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;

import dev.loupe.hook.HookPoint;
import dev.loupe.model.ModelConfig.Normalization;

/**
 * One block. Sequential: resid_mid = resid_pre + attn(ln1(resid_pre)); resid_post = resid_mid + mlp(ln2(resid_mid)).
 * Parallel (GPT-J, GPT-NeoX): resid_post = resid_pre + attn(ln1(resid_pre)) + mlp(ln2(resid_pre)), where GPT-J's
 * MLP reads ln1's output and has no ln2. Post norms (Gemma) normalise attn and mlp outputs before they are added.
 */
final class TransformerBlock {

    private final boolean parallel;
    private final HookPoint hookResidPre;  // [batch, pos, d_model]
    private final Norm ln1;                // or null
    private final Attention attn;
    private final Norm ln1Post;            // or null
    private final HookPoint hookAttnOut;   // [batch, pos, d_model]
    private final HookPoint hookResidMid;  // sequential blocks with an MLP
    private final Norm ln2;                // or null (no norm, attention only, GPT-J)
    private final Mlp mlp;                 // or null (attention only)
    private final Norm ln2Post;
    private final HookPoint hookMlpOut;
    private final HookPoint hookResidPost;

    TransformerBlock(Scope s, ModelConfig cfg, int layer) {
        Normalization norm = cfg.normalization();
        Normalization post = norm.isRms() ? Normalization.RMS : Normalization.LN; // post norms are never folded
        boolean hasMlp = !cfg.attnOnly();
        parallel = cfg.parallelAttnMlp();
        // Hook points are made in the order the forward pass reaches them.
        hookResidPre = s.hook("hook_resid_pre");
        ln1 = Norm.orNone(s.child("ln1"), norm, cfg.eps(), cfg.dModel());
        attn = new Attention(s.child("attn"), cfg, layer);
        ln1Post = cfg.postNorms() ? new Norm(s.child("ln1_post"), post, cfg.eps(), cfg.dModel()) : null;
        hookAttnOut = s.hook("hook_attn_out");
        hookResidMid = hasMlp && !parallel ? s.hook("hook_resid_mid") : null;
        ln2 = hasMlp && !cfg.parallelSharedNorm() ? Norm.orNone(s.child("ln2"), norm, cfg.eps(), cfg.dModel()) : null;
        mlp = hasMlp ? new Mlp(s.child("mlp"), cfg) : null;
        ln2Post = hasMlp && cfg.postNorms() ? new Norm(s.child("ln2_post"), post, cfg.eps(), cfg.dModel()) : null;
        hookMlpOut = hasMlp ? s.hook("hook_mlp_out") : null;
        hookResidPost = s.hook("hook_resid_post");
    }

    /**
     * The block's temporaries are freed when it ends, not when the whole forward pass does, so a pass needs one
     * block's working memory rather than every block's (what hooks and caches kept is theirs, see HookPoint).
     */
    NDArray forward(NDArray resid, Pass pass) {
        NDArray residPre = enter(resid);
        NDArray out;
        try (NDScope scope = new NDScope()) {
            out = residualAfter(residPre, pass);
            NDScope.unregister(out);
        }
        if (!hookResidPost.isActive()) {
            NDScope.register(out); // a plain temporary of the enclosing forward pass
        }
        return out;
    }

    /** The residual stream through {@code hook_resid_pre}, where the block starts. */
    NDArray enter(NDArray resid) {
        // The input belongs to the enclosing scope: a cache or hook keeping it must take it from there.
        return hookResidPre.apply(resid);
    }

    private NDArray residualAfter(NDArray residPre, Pass pass) {
        NDArray x = ln1 != null ? ln1.forward(residPre) : residPre;
        NDArray qk = pass.shortformerPos() != null ? x.add(pass.shortformerPos()) : x;
        NDArray attnOut = attn.forward(qk, qk, x, pass);
        attnOut = hookAttnOut.apply(ln1Post != null ? ln1Post.forward(attnOut) : attnOut);
        if (mlp == null) {
            return hookResidPost.apply(residPre.add(attnOut));
        }
        if (parallel) {
            NDArray mlpOut = mlpOut(ln2 != null ? ln2.forward(residPre) : x);
            return hookResidPost.apply(residPre.add(attnOut).add(mlpOut));
        }
        NDArray residMid = hookResidMid.apply(residPre.add(attnOut));
        NDArray mlpOut = mlpOut(ln2 != null ? ln2.forward(residMid) : residMid);
        return hookResidPost.apply(residMid.add(mlpOut));
    }

    private NDArray mlpOut(NDArray x) {
        NDArray out = mlp.forward(x);
        return hookMlpOut.apply(ln2Post != null ? ln2Post.forward(out) : out);
    }
}

package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;

import dev.loupe.hook.HookPoint;
import dev.loupe.model.ModelConfig.Normalization;

import java.util.Map;

/** One block: resid_mid = resid_pre + attn(ln1(resid_pre)); resid_post = resid_mid + mlp(ln2(resid_mid)). */
final class TransformerBlock {

    private final HookPoint hookResidPre;
    private final LayerNorm ln1;
    private final Attention attn;
    private final HookPoint hookAttnOut;
    private final HookPoint hookResidMid;
    private final LayerNorm ln2;
    private final Mlp mlp;
    private final HookPoint hookMlpOut;
    private final HookPoint hookResidPost;

    TransformerBlock(int layer, ModelConfig cfg, Map<String, NDArray> params, HookRegistry hooks) {
        String prefix = "blocks." + layer + ".";
        boolean norm = cfg.normalization() != Normalization.NONE;
        // Hook points are made in the order the forward pass reaches them.
        hookResidPre = hooks.point(prefix + "hook_resid_pre");
        ln1 = norm ? new LayerNorm(prefix + "ln1", cfg.normalization(), cfg.eps(), params, hooks) : null;
        attn = new Attention(layer, cfg, params, hooks);
        hookAttnOut = hooks.point(prefix + "hook_attn_out");
        if (cfg.attnOnly()) {
            hookResidMid = null;
            ln2 = null;
            mlp = null;
            hookMlpOut = null;
        } else {
            hookResidMid = hooks.point(prefix + "hook_resid_mid");
            ln2 = norm ? new LayerNorm(prefix + "ln2", cfg.normalization(), cfg.eps(), params, hooks) : null;
            mlp = new Mlp(layer, cfg, params, hooks);
            hookMlpOut = hooks.point(prefix + "hook_mlp_out");
        }
        hookResidPost = hooks.point(prefix + "hook_resid_post");
    }

    /**
     * shortformerPos: positional embedding added to queries' and keys' inputs only, or null; cache may be null.
     * The block's temporaries are freed when it ends, not when the whole forward pass does, so a pass needs one
     * block's working memory rather than every block's (what hooks and caches kept is theirs, see HookPoint).
     */
    NDArray forward(NDArray resid, NDArray shortformerPos, AttentionMask mask, KvCache cache) {
        // The input belongs to the enclosing scope: a cache or hook keeping it must take it from there.
        NDArray residPre = hookResidPre.apply(resid);
        NDArray out;
        try (NDScope scope = new NDScope()) {
            out = residualAfter(residPre, shortformerPos, mask, cache);
            NDScope.unregister(out);
        }
        if (!hookResidPost.isActive()) {
            NDScope.register(out); // a plain temporary of the enclosing forward pass
        }
        return out;
    }

    private NDArray residualAfter(NDArray residPre, NDArray shortformerPos, AttentionMask mask, KvCache cache) {
        NDArray x = ln1 != null ? ln1.forward(residPre) : residPre;
        NDArray qk = shortformerPos != null ? x.add(shortformerPos) : x;
        NDArray attnOut = hookAttnOut.apply(attn.forward(qk, qk, x, mask, cache));
        if (mlp == null) {
            return hookResidPost.apply(residPre.add(attnOut));
        }
        NDArray residMid = hookResidMid.apply(residPre.add(attnOut));
        NDArray mlpOut = hookMlpOut.apply(mlp.forward(ln2 != null ? ln2.forward(residMid) : residMid));
        return hookResidPost.apply(residMid.add(mlpOut));
    }
}

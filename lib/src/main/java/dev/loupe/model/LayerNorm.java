package dev.loupe.model;

import ai.djl.ndarray.NDArray;

import dev.loupe.hook.HookPoint;
import dev.loupe.model.ModelConfig.Normalization;

import java.util.Map;

/**
 * Layer norm over the last axis: centre, divide by the scale sqrt(mean(x²) + eps), then (LN only) the
 * learned w and b. LNPre is the same without w and b, used once they have been folded into the next
 * layer's weights.
 */
final class LayerNorm {

    private final Map<String, NDArray> params;
    private final String prefix;
    private final boolean affine;
    private final double eps;
    private final HookPoint hookScale;
    private final HookPoint hookNormalized;

    /** prefix: e.g. "blocks.0.ln1", "ln_final", "blocks.0.mlp.ln". */
    LayerNorm(String prefix, Normalization kind, double eps, Map<String, NDArray> params, HookRegistry hooks) {
        this.params = params;
        this.prefix = prefix;
        this.affine = kind == Normalization.LN;
        this.eps = eps;
        this.hookScale = hooks.point(prefix + ".hook_scale");
        this.hookNormalized = hooks.point(prefix + ".hook_normalized");
    }

    NDArray forward(NDArray x) {
        int[] last = {-1};
        x = x.sub(x.mean(last, true));
        NDArray scale = hookScale.apply(x.square().mean(last, true).add(eps).sqrt()); // [batch, pos, 1]
        x = x.div(scale);
        if (affine) {
            x = x.mul(params.get(prefix + ".w")).add(params.get(prefix + ".b"));
        }
        return hookNormalized.apply(x);
    }
}

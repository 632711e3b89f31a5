package dev.loupe.model;

import ai.djl.ndarray.NDArray;

import dev.loupe.hook.HookPoint;
import dev.loupe.model.ModelConfig.Normalization;
import dev.loupe.model.Params.Init;
import dev.loupe.model.Params.Param;

/**
 * Normalisation over the last axis. LayerNorm centres, divides by scale = sqrt(mean(x²) + eps), then multiplies
 * by w and adds b; RMSNorm only divides and multiplies. LNPre and RMSPre stop after dividing: their weights were
 * folded into the next layer's. hook_normalized is x / scale, before the weights, as in TransformerLens.
 * Gemma's norms multiply by (1 + w): its converter stores 1 + w as w.
 */
final class Norm {

    private final boolean centre;
    private final double eps;
    private final Param w;          // [length], or null
    private final Param b;          // [length], LayerNorm only
    private final HookPoint hookScale;      // [..., 1]
    private final HookPoint hookNormalized; // [..., length]

    Norm(Scope s, Normalization kind, double eps, long length) {
        if (kind == Normalization.NONE) {
            throw new IllegalArgumentException("Normalization NONE has no norm component");
        }
        this.centre = !kind.isRms();
        this.eps = eps;
        this.w = kind.hasWeights() ? s.param("w", Init.ONES, length) : null;
        this.b = kind == Normalization.LN ? s.param("b", Init.ZEROS, length) : null;
        this.hookScale = s.hook("hook_scale");
        this.hookNormalized = s.hook("hook_normalized");
    }

    /** The model's norm of this kind, or null for Normalization.NONE. */
    static Norm orNone(Scope s, Normalization kind, double eps, long length) {
        return kind == Normalization.NONE ? null : new Norm(s, kind, eps, length);
    }

    NDArray forward(NDArray x) {
        int[] last = {-1};
        if (centre) {
            x = x.sub(x.mean(last, true));
        }
        NDArray scale = hookScale.apply(x.square().mean(last, true).add(eps).sqrt());
        x = hookNormalized.apply(x.div(scale));
        if (w != null) {
            x = x.mul(w.get());
        }
        return b != null ? x.addi(b.get()) : x; // in place: LayerNorm's x is the product with w, made just above
    }
}

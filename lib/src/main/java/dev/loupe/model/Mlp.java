package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;

import dev.loupe.hook.HookPoint;
import dev.loupe.model.ModelConfig.ActFn;
import dev.loupe.model.Params.Init;
import dev.loupe.model.Params.Param;
import dev.loupe.tensor.Tensors;

/**
 * The MLP. Plain: pre = x W_in + b_in, post = act(pre). Gated (SwiGLU, GeGLU): pre = x W_gate,
 * pre_linear = x W_in, post = act(pre) · pre_linear + b_in (where TransformerLens adds it). Then out = post W_out + b_out.
 */
final class Mlp {

    private static final double SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

    private final ActFn actFn;
    private final Param W_in;   // [d_model, d_mlp]
    private final Param b_in;   // [d_mlp]
    private final Param W_gate; // [d_model, d_mlp], gated MLPs
    private final Norm soluLn;  // over d_mlp, solu_ln only
    private final Param W_out;  // [d_mlp, d_model]
    private final Param b_out;  // [d_model]

    private final HookPoint hookPre;       // [batch, pos, d_mlp]
    private final HookPoint hookPreLinear; // [batch, pos, d_mlp], gated MLPs
    private final HookPoint hookMid;       // [batch, pos, d_mlp], solu_ln
    private final HookPoint hookPost;      // [batch, pos, d_mlp]

    Mlp(Scope s, ModelConfig cfg) {
        int d = cfg.dModel();
        int m = cfg.dMlp();
        actFn = cfg.actFn();
        W_in = s.param("W_in", Init.NORMAL, d, m);
        b_in = s.param("b_in", Init.ZEROS, m);
        W_gate = cfg.gatedMlp() ? s.param("W_gate", Init.NORMAL, d, m) : null;
        hookPre = s.hook("hook_pre");
        hookPreLinear = cfg.gatedMlp() ? s.hook("hook_pre_linear") : null;
        boolean solu = actFn == ActFn.SOLU_LN;
        hookMid = solu ? s.hook("hook_mid") : null;
        soluLn = solu ? Norm.orNone(s.child("ln"), cfg.normalization(), cfg.eps(), m) : null;
        hookPost = s.hook("hook_post");
        W_out = s.param("W_out", Init.NORMAL, m, d);
        b_out = s.param("b_out", Init.ZEROS, d);
    }

    NDArray forward(NDArray x) {
        NDArray post;
        // Biases are added in place to products this pass just made: no second array of the product's size.
        if (W_gate != null) {
            NDArray pre = hookPre.apply(x.matMul(W_gate.get()));
            NDArray linear = hookPreLinear.apply(x.matMul(W_in.get()));
            post = hookPost.apply(activation(pre).mul(linear).addi(b_in.get()));
        } else {
            NDArray pre = hookPre.apply(x.matMul(W_in.get()).addi(b_in.get()));
            post = hookPost.apply(activation(pre));
        }
        return post.matMul(W_out.get()).addi(b_out.get());
    }

    /** A constant in libtorch's storage (see {@link Tensors#scalar}: gradients flow through these activations). */
    private static NDArray c(double value, NDArray like) {
        return Tensors.scalar(value, like.getDataType());
    }

    private NDArray activation(NDArray pre) {
        return switch (actFn) {
            case RELU -> Activation.relu(pre);
            case GELU -> Activation.gelu(pre); // libtorch's exact (erf) GELU in one pass
            case GELU_NEW -> {
                // 0.5·x·(1 + tanh(u)), u = sqrt(2/π)·(x + 0.044715·x³), is x·sigmoid(2u): four passes instead of nine,
                // and no cancellation in 1 + tanh(u) for very negative x. In place only where autograd keeps no copy.
                NDArray twiceU = pre.square().muli(c(2 * SQRT_2_OVER_PI * 0.044715, pre)).addi(c(2 * SQRT_2_OVER_PI, pre)).mul(pre);
                yield pre.mul(Activation.sigmoid(twiceU));
            }
            case SILU -> pre.mul(Activation.sigmoid(pre));
            case SOLU_LN -> {
                NDArray mid = hookMid.apply(pre.mul(pre.softmax(-1)));
                yield soluLn != null ? soluLn.forward(mid) : mid;
            }
        };
    }
}

package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;

import java.util.Map;

/**
 * The training losses of each architecture, as SAELens's {@code TrainingSAE} defines them, on training-time parameters
 * {@code W_enc [d_in, d_sae]}, {@code b_enc}, {@code W_dec [d_sae, d_out]}, {@code b_dec} and, for JumpReLU,
 * {@code log_threshold [d_sae]} (θ = exp(log_threshold)). Every loss is MSE (squared error summed over d_out, mean over
 * the batch) plus one architecture term:
 * <ul>
 * <li>standard: {@code l1 · mean_b Σ_i f_i ‖W_dec,i‖}</li>
 * <li>topk, batchtopk: AuxK (Gao et al. 2024): the top {@code k_aux = min(d_in / 2, dead)} pre-activations of dead
 *     features decode (with b_dec) the detached residual; squared error summed over d_out, mean over the batch, times
 *     {@code auxCoefficient · min(dead / (d_in / 2), 1)}; zero without dead features</li>
 * <li>jumprelu: {@code l0 · mean_b Σ_i H(pre_i − θ_i)}</li>
 * </ul>
 * TopK and BatchTopK choose among pre-activations times their decoder rows' norms and divide them back out before
 * decoding when the config says {@code rescaleByDecoderNorm} (SAELens's training default). BatchTopK keeps the
 * {@code int(k · batch)} largest ReLU'd activations of the whole batch, k a float ({@link Terms#batchK}).
 *
 * <p>JumpReLU's pseudo-derivatives (Rajamanoharan et al. 2024, with the rectangle kernel K of width ε):
 * ∂JumpReLU(z; θ)/∂θ = −(θ/ε)·K((z − θ)/ε) and ∂H(z − θ)/∂θ = −(1/ε)·K((z − θ)/ε); with respect to z the true
 * derivatives (H, and 0). DJL has no custom backward functions, so each value is the exact forward value plus
 * {@code θ·c − stop(θ·c)} with {@code c} the detached pseudo-derivative: zero in value, {@code c} in gradient.
 */
public final class SaeLosses {

    private SaeLosses() {}

    /**
     * What a loss needs beyond the weights and the batch.
     *
     * @param sparsity       l1 coefficient (standard) or l0 coefficient (jumprelu) at this step, warm-up included
     * @param bandwidth      ε of JumpReLU's kernel
     * @param auxCoefficient AuxK's coefficient (topk, batchtopk)
     * @param dead           [d_sae] booleans, features counted dead for AuxK; null for none
     * @param batchK         BatchTopK's average number of active features per row, SAELens's float {@code k}: the
     *                       batch keeps {@code int(batchK · rows)}
     */
    public record Terms(double sparsity, double bandwidth, double auxCoefficient, NDArray dead, double batchK) {
        public static Terms of(double sparsity) {
            return new Terms(sparsity, 0.05, 1.0, null, 0);
        }
    }

    /**
     * One batch's loss and what the training loop reads from it.
     *
     * @param total    the scalar trained on
     * @param mse      squared error summed over d_out, mean over the batch
     * @param aux      the architecture's term (l1, AuxK or l0), coefficient included
     * @param hiddenPre pre-activations [batch, d_sae], times the decoder norms when TopK rescales
     * @param features feature activations [batch, d_sae]
     * @param output   reconstructions [batch, d_out]
     */
    public record Result(NDArray total, NDArray mse, NDArray aux, NDArray hiddenPre, NDArray features, NDArray output) {}

    /** The loss of reconstructing {@code target} [batch, d_out] from {@code input} [batch, d_in]; target = input for an SAE. */
    public static Result compute(SaeConfig cfg, Map<String, NDArray> params, NDArray input, NDArray target, Terms terms) {
        NDArray decoderNorm = params.get("W_dec").norm(new int[] {1});
        NDArray pre = preActivations(cfg, params, input, decoderNorm);
        boolean rescale = cfg.rescaleByDecoderNorm();
        NDArray theta = cfg.architecture() == SaeConfig.Architecture.JUMPRELU ? params.get("log_threshold").exp() : null;
        NDArray features = switch (cfg.architecture()) {
            case STANDARD -> pre.maximum(0);
            case TOPK -> Sae.topK(pre, cfg.k());
            case BATCHTOPK -> batchTopK(pre, terms.batchK());
            case JUMPRELU -> jumpRelu(pre, theta, terms.bandwidth());
        };
        NDArray output = decode(features, params, decoderNorm, rescale);
        NDArray mse = output.sub(target).square().sum(new int[] {1}).mean();
        NDArray aux = switch (cfg.architecture()) {
            case STANDARD -> features.mul(decoderNorm).sum(new int[] {1}).mean().mul(terms.sparsity());
            case TOPK, BATCHTOPK -> auxK(cfg, params, decoderNorm, pre, target.sub(output).stopGradient(), terms);
            case JUMPRELU -> step(pre, theta, terms.bandwidth()).sum(new int[] {1}).mean().mul(terms.sparsity());
        };
        return new Result(mse.add(aux), mse, aux, pre, features, output);
    }

    /** (x − b_dec·[apply]) W_enc + b_enc, times the decoder norms when TopK rescales. */
    private static NDArray preActivations(SaeConfig cfg, Map<String, NDArray> params, NDArray input, NDArray decoderNorm) {
        NDArray in = cfg.applyBDecToInput() ? input.sub(params.get("b_dec")) : input;
        NDArray pre = in.matMul(params.get("W_enc")).add(params.get("b_enc"));
        return cfg.rescaleByDecoderNorm() ? pre.mul(decoderNorm) : pre;
    }

    /** AuxK alone, for a residual given as a constant (training passes the detached residual of the batch). */
    static NDArray auxK(SaeConfig cfg, Map<String, NDArray> params, NDArray input, NDArray residual, Terms terms) {
        NDArray decoderNorm = params.get("W_dec").norm(new int[] {1});
        return auxK(cfg, params, decoderNorm, preActivations(cfg, params, input, decoderNorm), residual, terms);
    }

    private static NDArray decode(NDArray features, Map<String, NDArray> params, NDArray decoderNorm, boolean rescale) {
        NDArray f = rescale ? features.div(decoderNorm) : features;
        return f.matMul(params.get("W_dec")).add(params.get("b_dec"));
    }

    /** The {@code int(k · batch)} largest ReLU'd pre-activations of the whole batch, zero elsewhere (SAELens's BatchTopK). */
    static NDArray batchTopK(NDArray pre, double k) {
        NDArray flat = pre.maximum(0).reshape(1, -1);
        return Sae.topK(flat, (int) Math.min(flat.size(), (long) (k * pre.getShape().get(0)))).reshape(pre.getShape());
    }

    /** z·H(z − θ), with gradient H for z and −(θ/ε)·K((z − θ)/ε) for θ. */
    static NDArray jumpRelu(NDArray z, NDArray theta, double bandwidth) {
        NDArray above = z.gt(theta).toType(z.getDataType(), false);
        NDArray pseudo = kernel(z, theta, bandwidth).mul(theta.stopGradient()).div(-bandwidth);
        return z.mul(above).add(zeroWithGradient(theta, pseudo));
    }

    /** H(z − θ), with gradient 0 for z and −(1/ε)·K((z − θ)/ε) for θ. */
    static NDArray step(NDArray z, NDArray theta, double bandwidth) {
        NDArray above = z.gt(theta).toType(z.getDataType(), false).stopGradient();
        return above.add(zeroWithGradient(theta, kernel(z, theta, bandwidth).div(-bandwidth)));
    }

    /** K((z − θ)/ε) for the rectangle kernel: 1 where |z − θ| < ε/2, detached. */
    private static NDArray kernel(NDArray z, NDArray theta, double bandwidth) {
        NDArray u = z.sub(theta).div(bandwidth).stopGradient();
        return u.gt(-0.5).logicalAnd(u.lt(0.5)).toType(z.getDataType(), false);
    }

    /** θ·c − stop(θ·c): zero, with gradient c (broadcast over the batch) for θ. */
    private static NDArray zeroWithGradient(NDArray theta, NDArray c) {
        NDArray surrogate = theta.mul(c.stopGradient());
        return surrogate.sub(surrogate.stopGradient());
    }

    private static NDArray auxK(SaeConfig cfg, Map<String, NDArray> params, NDArray decoderNorm, NDArray pre,
                                NDArray residual, Terms terms) {
        NDArray dead = terms.dead();
        long numDead = dead == null ? 0 : dead.toType(ai.djl.ndarray.types.DataType.INT64, false).sum().getLong();
        if (numDead == 0) {
            return pre.getManager().zeros(new ai.djl.ndarray.types.Shape(), pre.getDataType());
        }
        int kAux = cfg.dIn() / 2;
        double scale = Math.min((double) numDead / kAux, 1.0);
        kAux = (int) Math.min(kAux, numDead);
        NDArray candidates = NDArrays.where(dead.broadcast(pre.getShape()), pre,
                pre.getManager().full(pre.getShape(), Float.NEGATIVE_INFINITY, pre.getDataType()));
        NDList top = candidates.topK(kAux, -1, true, false);
        NDArray auxActs = pre.zerosLike().scatter(top.get(1), top.get(0), -1);
        NDArray recons = decode(auxActs, params, decoderNorm, cfg.rescaleByDecoderNorm());
        return recons.sub(residual).square().sum(new int[] {1}).mean().mul(terms.auxCoefficient() * scale);
    }
}

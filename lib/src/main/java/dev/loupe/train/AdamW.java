package dev.loupe.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Adam with decoupled weight decay (Loshchilov & Hutter), step for step as PyTorch's {@code torch.optim.AdamW}:
 * p ← p·(1 − lr·wd), then p ← p − lr · m̂ / (√v̂ + eps) with bias-corrected moments. Updates are in place.
 */
public final class AdamW {

    private final double beta1;
    private final double beta2;
    private final double eps;
    private final double weightDecay;
    private final Map<String, NDArray> m = new LinkedHashMap<>();
    private final Map<String, NDArray> v = new LinkedHashMap<>();
    private long step;

    public AdamW(double beta1, double beta2, double eps, double weightDecay) {
        if (beta1 < 0 || beta1 >= 1 || beta2 < 0 || beta2 >= 1) {
            throw new IllegalArgumentException("betas must be in [0, 1), got (" + beta1 + ", " + beta2 + ")");
        }
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
    }

    /** PyTorch's defaults: betas (0.9, 0.999), eps 1e-8, weight decay 0.01. */
    public static AdamW defaults() {
        return new AdamW(0.9, 0.999, 1e-8, 0.01);
    }

    /** One update of every parameter from its gradient, at learning rate {@code lr}. */
    public void step(Map<String, NDArray> params, Map<String, NDArray> grads, double lr) {
        step++;
        double correction1 = 1 - Math.pow(beta1, step);
        double correction2 = 1 - Math.pow(beta2, step);
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            String name = e.getKey();
            NDArray p = e.getValue();
            NDArray g = grads.get(name);
            NDArray mt = m.computeIfAbsent(name, k -> kept(p.zerosLike()));
            NDArray vt = v.computeIfAbsent(name, k -> kept(p.zerosLike()));
            mt.muli(beta1).addi(g.mul(1 - beta1));
            vt.muli(beta2).addi(g.square().mul(1 - beta2));
            if (weightDecay != 0) {
                p.muli(1 - lr * weightDecay);
            }
            NDArray denominator = vt.div(correction2).sqrt().add(eps);
            p.subi(mt.div(denominator).mul(lr / correction1));
        }
    }

    /** The moments live across steps, so they must escape the step's NDScope. */
    private static NDArray kept(NDArray state) {
        NDScope.unregister(state);
        return state;
    }

    /** Steps taken. */
    public long steps() {
        return step;
    }

    /** The optimizer's moments by parameter name ("m." and "v." prefixes), for checkpoints. */
    public Map<String, NDArray> state() {
        Map<String, NDArray> s = new LinkedHashMap<>();
        m.forEach((k, a) -> s.put("m." + k, a));
        v.forEach((k, a) -> s.put("v." + k, a));
        return s;
    }

    /** Restores moments and step count written by {@link #state()}. */
    public void restore(Map<String, NDArray> state, long steps) {
        m.clear();
        v.clear();
        state.forEach((k, a) -> (k.startsWith("m.") ? m : v).put(k.substring(2), a));
        step = steps;
    }
}

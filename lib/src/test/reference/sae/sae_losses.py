"""Training losses of SAELens 6.18.0 SAEs and their gradients (lib/src/test/resources/sae/losses/).

Definitions (sae_lens/saes/*.py @ 91ca16c, TrainingSAE.training_forward_pass + each
calculate_aux_loss), written out for a batch x [B, d_in], apply_b_dec_to_input true:
  s = x - b_dec;  z = s @ W_enc + b_enc;  n_j = ||W_dec[j, :]||_2
  mse_loss = mean_b sum_i (x_hat - x)^2                       (all architectures)
standard   f = relu(z); x_hat = f @ W_dec + b_dec
           l1_loss = l1_coefficient * mean_b sum_j |f_j| n_j     (lp_norm 1)
topk       h = z * n (rescale_acts_by_decoder_norm true, the training default) else z
           f = ReLU of the k largest h per row, 0 elsewhere; x_hat = (f / n) @ W_dec + b_dec
           auxiliary_reconstruction_loss (dead mask D, num_dead = |D|):
             k_aux = d_in // 2; scale = min(num_dead / k_aux, 1); k_aux = min(k_aux, num_dead)
             a = the k_aux largest h among dead features per row (raw h, no ReLU), 0 elsewhere
             e = (x - x_hat) DETACHED; r = (a / n) @ W_dec + b_dec
             aux = aux_loss_coefficient * scale * mean_b sum_i (r - e)^2
batchtopk  as topk, but f = ReLU(h) restricted to the int(k * B) largest entries of the whole
           [B, d_sae] batch; same auxiliary loss (inherited from TopKTrainingSAE)
jumprelu   theta = exp(log_threshold); f = z * (z > theta) (JumpReLU.apply; no ReLU)
           x_hat = f @ W_dec + b_dec; l0_loss = l0_coefficient * mean_b sum_j H(z_j - theta_j)
           (jumprelu_sparsity_loss_mode "step"; no decoder norm in this mode)
Gradients: true (almost-everywhere) gradients for W_enc, b_enc, W_dec, b_dec -- computed
analytically and checked against central finite differences -- except that (a) the aux loss
holds e fixed (detach) and (b) SAELens's Step.backward returns no gradient for z, so l0_loss
contributes nothing to W_enc/b_enc/b_dec (its true gradient there is 0 a.e. anyway). The JumpReLU
log_threshold gradient is the straight-through pseudo-gradient (Rajamanoharan et al. 2024,
"Jumping Ahead", eqs. 11-12; SAELens JumpReLU.backward / Step.backward):
  d/dtheta_j [JumpReLU] = -(theta_j / eps) K((z - theta_j)/eps) * dL/df
  d/dtheta_j [Step]     = -(1 / eps) K((z - theta_j)/eps) * dL/dH
  K(u) = 1 if -1/2 < u < 1/2 else 0 (strict), summed over the batch; then dL/dlog_theta =
  theta * dL/dtheta (exp's true derivative).
"""
import os

import numpy as np

import sae_io

B, D_IN, D_SAE = 16, 16, 48
SAELENS = "SAELens 6.18.0 (github.com/jbloomAus/SAELens @ 91ca16ccd068)"
PARAMS = ("W_enc", "b_enc", "W_dec", "b_dec")

ARCHS = {
    "standard": dict(seed=9001, cfg={"l1_coefficient": 0.5, "lp_norm": 1.0, "l1_warm_up_steps": 0,
                                     "apply_b_dec_to_input": True}, aux="l1_loss"),
    "topk": dict(seed=9002, cfg={"k": 4, "rescale_acts_by_decoder_norm": True,
                                 "aux_loss_coefficient": 0.5, "apply_b_dec_to_input": True},
                 aux="auxiliary_reconstruction_loss", n_dead=10),
    "batchtopk": dict(seed=9003, cfg={"k": 3.5, "rescale_acts_by_decoder_norm": True,
                                      "aux_loss_coefficient": 0.5, "apply_b_dec_to_input": True},
                      aux="auxiliary_reconstruction_loss", n_dead=5),
    "jumprelu": dict(seed=9004, cfg={"jumprelu_bandwidth": 0.2, "l0_coefficient": 0.3,
                                     "jumprelu_sparsity_loss_mode": "step",
                                     "pre_act_loss_coefficient": None, "l0_warm_up_steps": 0,
                                     "apply_b_dec_to_input": True}, aux="l0_loss"),
}


def top_mask(v, k, axis_all=False):
    if axis_all:
        flat = v.reshape(-1)
        m = np.zeros(flat.shape, bool)
        m[np.argsort(-flat, kind="stable")[:k]] = True
        return m.reshape(v.shape)
    idx = np.argsort(-v, axis=-1, kind="stable")[:, :k]
    m = np.zeros(v.shape, bool)
    np.put_along_axis(m, idx, True, axis=-1)
    return m


def forward(arch, P, x, cfg, dead=None, e_fixed=None):
    """All intermediates and the loss components. e_fixed: the detached residual to use in
    the aux loss (None -> computed here, as in the training step)."""
    R = cfg.get("rescale_acts_by_decoder_norm", False)
    s = x - P["b_dec"]
    z = s @ P["W_enc"] + P["b_enc"]
    n = np.linalg.norm(P["W_dec"], axis=1)
    h = z * n if R else z
    out = {"s": s, "z": z, "n": n, "h": h, "R": R}
    if arch == "standard":
        mask = z > 0
    elif arch == "topk":
        mask = top_mask(h, cfg["k"]) & (h > 0)
    elif arch == "batchtopk":
        mask = top_mask(np.maximum(h, 0), int(cfg["k"] * x.shape[0]), axis_all=True) & (h > 0)
    else:
        theta = np.exp(P["log_threshold"])
        out["theta"] = theta
        mask = z > theta
    f = h * mask
    u = f / n if R else f
    xh = u @ P["W_dec"] + P["b_dec"]
    out.update(mask=mask, f=f, x_hat=xh, mse_loss=((xh - x) ** 2).sum(-1).mean())
    if arch == "standard":
        out["l1_loss"] = cfg["l1_coefficient"] * np.abs(f * n).sum(-1).mean()
    elif arch in ("topk", "batchtopk"):
        num_dead = int(dead.sum())
        k_aux = x.shape[1] // 2
        scale = min(num_dead / k_aux, 1.0)
        k_aux = min(k_aux, num_dead)
        amask = top_mask(np.where(dead[None], h, -np.inf), k_aux)
        a = np.where(amask, h, 0.0)
        e = (x - xh) if e_fixed is None else e_fixed
        r = ((a / n) if R else a) @ P["W_dec"] + P["b_dec"]
        out.update(amask=amask, e=e, aux_r=r, scale=scale, k_aux=k_aux,
                   auxiliary_reconstruction_loss=cfg["aux_loss_coefficient"] * scale
                   * ((r - e) ** 2).sum(-1).mean())
    else:
        out["l0_loss"] = cfg["l0_coefficient"] * (z > out["theta"]).sum(-1).mean()
    return out


def back_path(P, o, mask, g_out):
    """Gradient of <g_out, ((h*mask)/n if R) @ W_dec + b_dec> w.r.t. the parameters, h
    differentiated through z (and n when R). Returns (grads, dL/d(acts))."""
    R, n, z, s = o["R"], o["n"], o["z"], o["s"]
    a = o["h"] * mask
    u = a / n if R else a
    g = {"W_dec": u.T @ g_out, "b_dec": g_out.sum(0)}
    g_u = g_out @ P["W_dec"].T
    g_a = g_u / n if R else g_u
    g_n = -(g_u * a / n ** 2).sum(0) if R else np.zeros_like(n)
    g_h = g_a * mask
    g_z = g_h * n if R else g_h
    if R:
        g_n = g_n + (g_h * z).sum(0)
    g["W_dec"] = g["W_dec"] + (g_n / n)[:, None] * P["W_dec"]
    g["W_enc"] = s.T @ g_z
    g["b_enc"] = g_z.sum(0)
    g["b_dec"] = g["b_dec"] - (g_z @ P["W_enc"].T).sum(0)
    return g, g_a


def analytic(arch, P, x, cfg, dead):
    o = forward(arch, P, x, cfg, dead)
    Bn = x.shape[0]
    gm, g_f = back_path(P, o, o["mask"], 2 * (o["x_hat"] - x) / Bn)
    comp = {"mse_loss": gm}
    aux = ARCHS[arch]["aux"]
    if arch == "standard":
        c, n, z = cfg["l1_coefficient"], o["n"], o["z"]
        g_z = np.where(z > 0, c / Bn * n, 0.0) * np.ones_like(z)
        comp[aux] = {"W_enc": o["s"].T @ g_z, "b_enc": g_z.sum(0),
                     "b_dec": -(g_z @ P["W_enc"].T).sum(0),
                     "W_dec": (c / Bn * o["f"].sum(0) / n)[:, None] * P["W_dec"]}
    elif arch in ("topk", "batchtopk"):
        coef = cfg["aux_loss_coefficient"] * o["scale"]
        comp[aux], _ = back_path(P, o, o["amask"], coef * 2 * (o["aux_r"] - o["e"]) / Bn)
    else:
        eps, th, z = cfg["jumprelu_bandwidth"], o["theta"], o["z"]
        K = (np.abs((z - th) / eps) < 0.5).astype(float)
        gth_mse = (-(th / eps) * K * g_f).sum(0)
        gth_l0 = (-(1 / eps) * K * (cfg["l0_coefficient"] / Bn)).sum(0)
        comp["mse_loss"]["log_threshold"] = th * gth_mse
        comp[aux] = {p: np.zeros_like(P[p]) for p in PARAMS}
        comp[aux]["log_threshold"] = th * gth_l0
    total = {p: comp["mse_loss"][p] + comp[aux][p] for p in comp["mse_loss"]}
    return o, comp, total


def finite_diff(arch, P, x, cfg, dead, comp_name, e_fixed, step=1e-6):
    g = {}
    for p in PARAMS:
        gp = np.zeros_like(P[p])
        for idx in np.ndindex(P[p].shape):
            vals = []
            for sgn in (1, -1):
                Q = dict(P)
                Q[p] = P[p].copy()
                Q[p][idx] += sgn * step
                vals.append(forward(arch, Q, x, cfg, dead, e_fixed)[comp_name])
            gp[idx] = (vals[0] - vals[1]) / (2 * step)
        g[p] = gp
    return g


def draw(arch, rng):
    P = {"W_enc": rng.standard_normal((D_IN, D_SAE)) / np.sqrt(D_IN),
         "b_enc": -0.2 + 0.2 * rng.standard_normal(D_SAE),
         "W_dec": rng.standard_normal((D_SAE, D_IN)) / np.sqrt(D_IN) * rng.uniform(0.5, 1.5, (D_SAE, 1)),
         "b_dec": 0.2 * rng.standard_normal(D_IN)}
    if arch == "jumprelu":
        P["log_threshold"] = np.log(rng.uniform(0.2, 0.8, D_SAE))
    P = {k: sae_io.quantize(v, "F32") for k, v in P.items()}
    x = sae_io.quantize(rng.standard_normal((B, D_IN)) + 0.3 * rng.standard_normal(D_IN), "F32")
    dead = np.zeros(D_SAE, bool)
    if "n_dead" in ARCHS[arch]:
        dead[rng.choice(D_SAE, ARCHS[arch]["n_dead"], replace=False)] = True
    return P, x, dead


def margins_ok(arch, P, x, cfg, dead, m=1e-4):
    o = forward(arch, P, x, cfg, dead)
    h, z = o["h"], o["z"]
    if np.min(np.abs(h)) < m:
        return False
    if arch == "topk":
        s = np.sort(h, -1)[:, ::-1]
        if np.min(s[:, cfg["k"] - 1] - s[:, cfg["k"]]) < m:
            return False
    if arch == "batchtopk":
        N = int(cfg["k"] * B)
        s = np.sort(np.maximum(h, 0).reshape(-1))[::-1]
        if s[N - 1] - s[N] < m or s[N] <= 0:
            return False
    if arch in ("topk", "batchtopk") and o["k_aux"] < dead.sum():
        s = np.sort(np.where(dead[None], h, -np.inf), -1)[:, ::-1]
        if np.min(s[:, o["k_aux"] - 1] - s[:, o["k_aux"]]) < m:
            return False
    if arch == "jumprelu":
        d = np.abs(z - o["theta"])
        eps = cfg["jumprelu_bandwidth"]
        if d.min() < m or np.min(np.abs(d - eps / 2)) < m or (d < eps / 2).sum() < 10:
            return False
    return True


def build(root):
    base = os.path.join(root, "losses")
    os.makedirs(base)
    summary = {}
    for arch, A in ARCHS.items():
        cfg, aux = A["cfg"], A["aux"]
        rng = np.random.default_rng(A["seed"])
        for draws in range(1, 200):
            P, x, dead = draw(arch, rng)
            if margins_ok(arch, P, x, cfg, dead):
                break
        else:
            raise RuntimeError(arch)
        o, comp, total = analytic(arch, P, x, cfg, dead)
        fd_err = {}
        for cname in ("mse_loss", aux):
            fd = finite_diff(arch, P, x, cfg, dead, cname, o.get("e"))
            for p in PARAMS:
                scale = max(1.0, np.abs(comp[cname][p]).max())
                err = float(np.abs(fd[p] - comp[cname][p]).max() / scale)
                assert err < 1e-6, (arch, cname, p, err)
                fd_err[f"{cname}/{p}"] = float("%.3g" % err)
        d = os.path.join(base, arch)
        os.makedirs(d)
        sae_io.write_safetensors(os.path.join(d, "params.safetensors"),
                                 {k: (v, "F32") for k, v in P.items()})
        E = {"x": x, "hidden_pre": o["h"], "feature_acts": o["f"], "sae_out": o["x_hat"],
             "loss": np.array(o["mse_loss"] + o[aux]), "mse_loss": np.array(o["mse_loss"]),
             aux: np.array(o[aux])}
        if dead.any():
            E["dead_neuron_mask"] = dead.astype(np.float64)
        if arch == "jumprelu":
            E["threshold"] = o["theta"]
        for p, v in total.items():
            E[f"grad.loss.{p}"] = v
        for cname, gs in comp.items():
            for p, v in gs.items():
                E[f"grad.{cname}.{p}"] = v
        sae_io.write_safetensors(os.path.join(d, "expected.safetensors"),
                                 {k: (np.asarray(v, np.float64), "F64") for k, v in E.items()},
                                 {"format": "pt"})
        info = {"architecture": arch, "definitions_from": SAELENS, "draws": draws,
                "training_cfg": dict(cfg, d_in=D_IN, d_sae=D_SAE, normalize_activations="none"),
                "batch": B, "components": ["mse_loss", aux], "loss": "mse_loss + " + aux,
                "params": sorted(P), "finite_difference_max_rel_error": fd_err}
        if arch in ("topk", "batchtopk"):
            info["aux"] = {"num_dead": int(dead.sum()), "k_aux": o["k_aux"], "scale": o["scale"],
                           "residual": "x - sae_out, detached (held constant in the gradients)"}
            info["hidden_pre"] = "z * ||W_dec row|| (rescale_acts_by_decoder_norm true)"
        if arch == "batchtopk":
            info["active_in_batch"] = int(cfg["k"] * B)
        if arch == "jumprelu":
            info["gradients"] = {"W_enc, b_enc, W_dec, b_dec": "true a.e. gradients (mse only; "
                                 "Step passes no gradient to hidden_pre, so grad.l0_loss.* is 0)",
                                 "log_threshold": "straight-through pseudo-gradient, rectangle "
                                 "kernel, bandwidth jumprelu_bandwidth; its true gradient is 0 a.e."}
            info["in_window"] = int((np.abs(o["z"] - o["theta"]) < cfg["jumprelu_bandwidth"] / 2).sum())
        else:
            info["gradients"] = "true a.e. gradients, analytic, checked by central differences"
        info["tensors"] = {
            "x": "[16, d_in] batch (float32 values)", "hidden_pre": "[16, d_sae]",
            "feature_acts": "[16, d_sae]", "sae_out": "[16, d_in]",
            "loss / mse_loss / " + aux: "scalars (shape [])",
            "grad.loss.<param>": "gradient of the total loss",
            "grad.<component>.<param>": "gradient of one component",
        }
        sae_io.write_json(os.path.join(d, "expected.json"), info)
        summary[arch] = fd_err
    return summary


def check(root):
    for arch, A in ARCHS.items():
        d = os.path.join(root, "losses", arch)
        P, dt, meta = sae_io.read_safetensors(os.path.join(d, "params.safetensors"))
        E, _, _ = sae_io.read_safetensors(os.path.join(d, "expected.safetensors"))
        dead = E.get("dead_neuron_mask", np.zeros(D_SAE)) > 0
        o, comp, total = analytic(arch, P, E["x"], A["cfg"], dead)
        assert np.array_equal(o["mse_loss"], E["mse_loss"]) and np.array_equal(o[A["aux"]], E[A["aux"]])
        for p, v in total.items():
            assert np.array_equal(v, E[f"grad.loss.{p}"])
        # a second, dumber route for the losses: per-row loops
        xh = E["sae_out"]
        assert np.isclose(sum(((xh[b] - E["x"][b]) ** 2).sum() for b in range(B)) / B, E["mse_loss"])
        nz = (E["feature_acts"] != 0).sum(-1)
        if arch == "topk":
            assert nz.max() <= A["cfg"]["k"]
        if arch == "batchtopk":
            assert nz.sum() == int(A["cfg"]["k"] * B)

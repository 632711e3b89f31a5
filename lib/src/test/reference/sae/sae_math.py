"""Float64 numpy semantics of SAELens sparse autoencoders and transcoders (inference).

Written from SAELens 6.18.0 (github.com/jbloomAus/SAELens, snapshot 91ca16c, 2025-10-22),
read as documentation; no code copied. Each function cites the definition it follows.

Shapes: inputs [..., d_in]; feature activations [..., d_sae]; outputs [..., d_out]
(d_out == d_in for SAEs). Weights: W_enc [d_in, d_sae], W_dec [d_sae, d_out], b_enc [d_sae],
b_dec [d_out], threshold [d_sae], W_skip [d_out, d_in] -- SAELens's own state-dict layout.
"""
import numpy as np

TRANSCODERS = ("transcoder", "skip_transcoder", "jumprelu_transcoder")


# ---------------------------------------------------------------------------
# run-time activation normalization
# sae_lens/saes/sae.py, SAE._setup_activation_normalization (6.18.0)
# ---------------------------------------------------------------------------

def norm_in(x, mode, d_in):
    """Returns (normalized x, state needed by norm_out).
    "constant_norm_rescale": c = sqrt(d_in) / ||x||_2 (per row); x * c; out divides by c.
    "layer_norm": mu = mean(x); x - mu; std = the UNBIASED (n-1) standard deviation of the
      centred x (torch's Tensor.std default); divide by (std + 1e-5) -- eps added to the std,
      not inside the sqrt; out is y * std + mu (no eps on the way back).
    "none" and "expected_average_only_in": identity at run time (SAELens folds the
      expected-average factor into the weights at from_pretrained time, never at run time)."""
    if mode == "constant_norm_rescale":
        c = np.sqrt(d_in) / np.linalg.norm(x, axis=-1, keepdims=True)
        return x * c, {"coeff": c}
    if mode == "layer_norm":
        mu = x.mean(axis=-1, keepdims=True)
        xc = x - mu
        n = x.shape[-1]
        std = np.sqrt((xc * xc).sum(axis=-1, keepdims=True) / (n - 1))
        return xc / (std + 1e-5), {"mu": mu, "std": std}
    assert mode in ("none", "expected_average_only_in"), mode
    return x, {}


def norm_out(y, mode, state):
    if mode == "constant_norm_rescale":
        return y / state["coeff"]
    if mode == "layer_norm":
        return y * state["std"] + state["mu"]
    return y


# ---------------------------------------------------------------------------
# activation functions
# ---------------------------------------------------------------------------

def relu(x):
    return np.maximum(x, 0.0)


def topk_act(pre, k):
    """sae_lens/saes/topk_sae.py TopK.forward: the k largest pre-activations of each row
    (torch.topk along the last axis), ReLU applied to those k values, scattered into zeros.
    (Top-k-then-ReLU and ReLU-then-top-k give the same values.)"""
    idx = np.argsort(-pre, axis=-1, kind="stable")[..., :k]
    out = np.zeros_like(pre)
    np.put_along_axis(out, idx, relu(np.take_along_axis(pre, idx, axis=-1)), axis=-1)
    return out


def batchtopk_act(pre, k):
    """sae_lens/saes/batchtopk_sae.py BatchTopK.forward (training only): ReLU, then keep the
    int(k * number_of_rows) largest entries of the WHOLE flattened batch, zeros elsewhere."""
    acts = relu(pre)
    flat = acts.reshape(-1)
    n = int(k * int(np.prod(pre.shape[:-1])))
    idx = np.argsort(-flat, kind="stable")[:n]
    out = np.zeros_like(flat)
    out[idx] = flat[idx]
    return out.reshape(pre.shape)


def jumprelu_inference(pre, threshold):
    """sae_lens/saes/jumprelu_sae.py JumpReLUSAE.encode: ReLU(pre) * (pre > threshold),
    strict '>' per feature."""
    return relu(pre) * (pre > threshold)


# ---------------------------------------------------------------------------
# encode / decode / forward -- sae_lens/saes/{sae,standard_sae,topk_sae,jumprelu_sae,
# transcoder}.py (6.18.0)
# ---------------------------------------------------------------------------

def encode(P, spec, x):
    """Returns dict with sae_input (hook_sae_input), normalized (after run-time norm),
    sae_in (what multiplies W_enc: normalized minus b_dec when apply_b_dec_to_input),
    acts_pre (hook_sae_acts_pre), acts_post (hook_sae_acts_post), and the norm state."""
    arch = spec["arch"]
    d_in = P["W_enc"].shape[0]
    r = {"sae_input": x}
    xn, st = norm_in(x, spec.get("normalize", "none"), d_in)
    r["normalized"], r["state"] = xn, st
    # SAE.process_sae_in subtracts b_dec * apply_b_dec_to_input; Transcoder.process_sae_in
    # never does (b_dec lives in the output space).
    if arch not in TRANSCODERS and spec["apply_b_dec_to_input"]:
        xn = xn - P["b_dec"]
    r["sae_in"] = xn
    pre = xn @ P["W_enc"] + P["b_enc"]
    r["acts_pre"] = pre
    if arch in ("standard", "transcoder", "skip_transcoder"):
        post = relu(pre)
    elif arch in ("jumprelu", "jumprelu_transcoder"):
        post = jumprelu_inference(pre, P["threshold"])
    elif arch == "topk":
        assert not spec.get("rescale_acts_by_decoder_norm", False)
        post = topk_act(pre, spec["k"])
    else:
        raise ValueError(arch)
    r["acts_post"] = post
    return r


def decode(P, spec, acts, state):
    """Returns (recons, out): recons = acts @ W_dec + b_dec is hook_sae_recons (BEFORE the
    run-time de-normalization); out = norm_out(recons) for SAEs. Transcoder.decode applies no
    de-normalization (its output lives in another space) and returns recons itself."""
    recons = acts @ P["W_dec"] + P["b_dec"]
    if spec["arch"] in TRANSCODERS:
        return recons, recons
    return recons, norm_out(recons, spec.get("normalize", "none"), state)


def forward(P, spec, x, edit=None, use_error_term=False):
    """SAE.forward (sae.py): acts = encode(x); optional edit of hook_sae_acts_post (a hook);
    out = decode(acts). With use_error_term the error is x - decode(encode(x)) recomputed
    under torch.no_grad() with every SAE hook disabled (_disable_hooks), i.e. from the CLEAN,
    unedited reconstruction, detached; out + error goes through hook_sae_output.
    SkipTranscoder.forward adds x @ W_skip.T (raw input, not normalized) after decode.
    Transcoder.forward has no error term at all and never calls hook_sae_output."""
    e = encode(P, spec, x)
    acts = e["acts_post"] if edit is None else edit(e["acts_post"].copy())
    recons, out = decode(P, spec, acts, e["state"])
    if spec["arch"] == "skip_transcoder":
        out = out + x @ P["W_skip"].T
    res = dict(e, acts_used=acts, recons=recons, output=out)
    if use_error_term:
        assert spec["arch"] not in TRANSCODERS, "SAELens transcoders have no error term"
        c = encode(P, spec, x)
        _, clean = decode(P, spec, c["acts_post"], c["state"])
        res["error"] = x - clean
        res["output_with_error"] = out + res["error"]
    return res

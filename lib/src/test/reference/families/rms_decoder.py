"""The RMSNorm / rotary / gated-MLP decoder shared by the Mistral, Qwen2, Qwen3, Gemma 2 and
Gemma 3 cases (mistral_qwen.py, gemma.py), in numpy float64, built on hf_common.

The forward pass reads the weights under their Hugging Face `*ForCausalLM` state-dict names
(`model.embed_tokens.weight`, `model.layers.{i}.self_attn.q_proj.weight`, ...) and takes its
per-layer choices (window, rotary frequencies) from an `Arch` the family module derives from
config.json the way that family's HF configuration/modeling code does.

Block, as all five families have it (sequential, pre-norm):
    x   = norm(resid_pre)                                   # input_layernorm -> ln1
    q,k,v = x Wq^T (+bq), x Wk^T (+bk), x Wv^T (+bv)       # split per head
    [q_norm / k_norm per head]  -> [rotary]  -> attention (GQA, scale, soft-cap, window)
    attn_out = sum_h z_h W_O_h (no o_proj bias in any of them)
    [attn_out = post_attention_layernorm(attn_out)]         # Gemma only -> ln1_post
    resid_mid = resid_pre + attn_out
    x2 = norm(resid_mid)    # Mistral/Qwen: post_attention_layernorm; Gemma: pre_feedforward_layernorm
    mlp_out = down(act(gate(x2)) * up(x2))
    [mlp_out = post_feedforward_layernorm(mlp_out)]         # Gemma only -> ln2_post
    resid_post = resid_mid + mlp_out
then model.norm -> ln_final, logits = x W_U^T with W_U = lm_head.weight or (tied) the
embedding, then the final soft-cap (Gemma 2).
"""
import json
import math
import os
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

import hf_common as hc


@dataclass
class Arch:
    """What the forward pass needs, already resolved from a config.json."""
    n_layers: int
    d_model: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    d_mlp: int
    vocab: int
    eps: float
    act: str                       # key of hc.ACT
    windows: List[Optional[int]]   # per layer: None = plain causal, w = query sees itself + w-1 earlier
    inv_freqs: List[np.ndarray]    # per layer rotary inverse frequencies [head_dim/2]
    scale: float                   # attention score multiplier
    tied: bool
    plus_one: bool = False         # Gemma RMSNorm: normalized * (1 + w)
    post_norms: bool = False       # Gemma: post_attention_layernorm on attn_out, post_feedforward on mlp_out
    embed_scale: float = 1.0       # Gemma: sqrt(hidden_size)
    qkv_bias: bool = False         # Qwen2
    qk_norm: bool = False          # Qwen3, Gemma 3
    attn_softcap: Optional[float] = None
    final_softcap: Optional[float] = None
    layer_types: List[str] = field(default_factory=list)  # for reports only


# ---------------------------------------------------------------------------
# state dict
# ---------------------------------------------------------------------------

def tensor_shapes(a):
    """HF tensor name -> shape, in the order the family's *ForCausalLM has its parameters."""
    d, H, K, dh, m, V = a.d_model, a.n_heads, a.n_kv_heads, a.head_dim, a.d_mlp, a.vocab
    s = {"model.embed_tokens.weight": (V, d)}
    for i in range(a.n_layers):
        p = f"model.layers.{i}."
        s[p + "self_attn.q_proj.weight"] = (H * dh, d)
        if a.qkv_bias:
            s[p + "self_attn.q_proj.bias"] = (H * dh,)
        s[p + "self_attn.k_proj.weight"] = (K * dh, d)
        if a.qkv_bias:
            s[p + "self_attn.k_proj.bias"] = (K * dh,)
        s[p + "self_attn.v_proj.weight"] = (K * dh, d)
        if a.qkv_bias:
            s[p + "self_attn.v_proj.bias"] = (K * dh,)
        s[p + "self_attn.o_proj.weight"] = (d, H * dh)
        if a.qk_norm:
            s[p + "self_attn.q_norm.weight"] = (dh,)
            s[p + "self_attn.k_norm.weight"] = (dh,)
        s[p + "mlp.gate_proj.weight"] = (m, d)
        s[p + "mlp.up_proj.weight"] = (m, d)
        s[p + "mlp.down_proj.weight"] = (d, m)
        s[p + "input_layernorm.weight"] = (d,)
        s[p + "post_attention_layernorm.weight"] = (d,)
        if a.post_norms:
            s[p + "pre_feedforward_layernorm.weight"] = (d,)
            s[p + "post_feedforward_layernorm.weight"] = (d,)
    s["model.norm.weight"] = (d,)
    if not a.tied:
        s["lm_head.weight"] = (V, d)
    return s


def random_weights(rng, a, dtype, *, embed_std, qk_gain=1.5, unembed_std=None, norm_sd=0.1,
                   qk_norm_center=None, bias_std=0.3):
    """Random weights for every tensor of tensor_shapes(a), drawn from `rng` in that order and
    rounded to `dtype`. Returns {name: (float64 array holding dtype-exact values, dtype)}.
      embedding ~ N(0, embed_std); lm_head ~ N(0, unembed_std) (untied only);
      q/k projections ~ N(0, qk_gain / sqrt(d)) so attention is peaked but not one-hot;
      v, gate, up ~ N(0, 1/sqrt(d)); o_proj ~ N(0, 1/sqrt(H dh)); down ~ N(0, 1/sqrt(m));
      q/k/v biases ~ N(0, bias_std);
      norm weights: 1 + N(0, norm_sd) (plain) or raw N(0, norm_sd) (plus_one, Gemma);
      q_norm/k_norm weights centred on qk_norm_center when given (the normalized q and k have
      unit RMS, so the centre sets how peaked attention is)."""
    d, m = a.d_model, a.d_mlp
    out = {}
    for name, shape in tensor_shapes(a).items():
        if name == "model.embed_tokens.weight":
            x = rng.normal(0.0, embed_std, shape)
        elif name == "lm_head.weight":
            x = rng.normal(0.0, unembed_std, shape)
        elif name.endswith(("q_proj.weight", "k_proj.weight")):
            x = rng.normal(0.0, qk_gain / math.sqrt(d), shape)
        elif name.endswith(("v_proj.weight", "gate_proj.weight", "up_proj.weight")):
            x = rng.normal(0.0, 1.0 / math.sqrt(d), shape)
        elif name.endswith("o_proj.weight"):
            x = rng.normal(0.0, 1.0 / math.sqrt(shape[1]), shape)
        elif name.endswith("down_proj.weight"):
            x = rng.normal(0.0, 1.0 / math.sqrt(m), shape)
        elif name.endswith(".bias"):
            x = rng.normal(0.0, bias_std, shape)
        elif name.endswith(("q_norm.weight", "k_norm.weight")) and qk_norm_center is not None:
            x = qk_norm_center + rng.normal(0.0, norm_sd, shape)
        elif name.endswith("norm.weight"):
            x = rng.normal(0.0, norm_sd, shape) + (0.0 if a.plus_one else 1.0)
        else:
            raise AssertionError(name)
        out[name] = (hc.quantize(x, dtype), dtype)
    return out


# ---------------------------------------------------------------------------
# forward
# ---------------------------------------------------------------------------

def forward(W, a, tokens):
    """Forward pass in float64 from the (decoded) HF state dict W. Returns (logits, cache) with
    cache holding every TransformerLens hook point of the spec for this architecture."""
    cache = {}
    norm = lambda x, w, name: hc.rms_norm(x, w, a.eps, cache, name, a.plus_one)  # noqa: E731
    emb = W["model.embed_tokens.weight"]
    resid = emb[tokens] * a.embed_scale
    cache["hook_embed"] = resid
    H, K = a.n_heads, a.n_kv_heads
    for i in range(a.n_layers):
        p, P = f"model.layers.{i}.", f"blocks.{i}."
        cache[P + "hook_resid_pre"] = resid
        x = norm(resid, W[p + "input_layernorm.weight"], P + "ln1")
        q = hc.split_heads(hc.linear(x, W[p + "self_attn.q_proj.weight"], W.get(p + "self_attn.q_proj.bias")), H)
        k = hc.split_heads(hc.linear(x, W[p + "self_attn.k_proj.weight"], W.get(p + "self_attn.k_proj.bias")), K)
        v = hc.split_heads(hc.linear(x, W[p + "self_attn.v_proj.weight"], W.get(p + "self_attn.v_proj.bias")), K)
        qk_norm = None
        if a.qk_norm:
            qk_norm = {"q": W[p + "self_attn.q_norm.weight"], "k": W[p + "self_attn.k_norm.weight"],
                       "eps": a.eps, "plus_one": a.plus_one}
        w_o = hc.out_proj_per_head(W[p + "self_attn.o_proj.weight"], H)
        attn_out = hc.attention(q, k, v, w_o, cache, P + "attn.", scale=a.scale, softcap=a.attn_softcap,
                                window=a.windows[i], qk_norm=qk_norm,
                                rotary={"inv_freq": a.inv_freqs[i], "interleaved": False})
        if a.post_norms:
            attn_out = norm(attn_out, W[p + "post_attention_layernorm.weight"], P + "ln1_post")
        cache[P + "hook_attn_out"] = attn_out
        resid = resid + attn_out
        cache[P + "hook_resid_mid"] = resid
        ln2_w = W[p + ("pre_feedforward_layernorm.weight" if a.post_norms else "post_attention_layernorm.weight")]
        x2 = norm(resid, ln2_w, P + "ln2")
        mlp_out = hc.mlp_gated(x2, W[p + "mlp.gate_proj.weight"], W[p + "mlp.up_proj.weight"],
                               W[p + "mlp.down_proj.weight"], a.act, cache, P + "mlp.")
        if a.post_norms:
            mlp_out = norm(mlp_out, W[p + "post_feedforward_layernorm.weight"], P + "ln2_post")
        cache[P + "hook_mlp_out"] = mlp_out
        resid = resid + mlp_out
        cache[P + "hook_resid_post"] = resid
    x = norm(resid, W["model.norm.weight"], "ln_final")
    w_u = W["model.embed_tokens.weight"] if a.tied else W["lm_head.weight"]
    logits = hc.linear(x, w_u)
    if a.final_softcap is not None:
        logits = a.final_softcap * np.tanh(logits / a.final_softcap)
    return logits, cache


def hook_set(a):
    return hc.hook_names(a.n_layers, rotary=True, qk_norm=a.qk_norm, post_norms=a.post_norms, gated=True)


def expected_hf_names(a):
    return set(tensor_shapes(a))


# ---------------------------------------------------------------------------
# family-specific checks shared by the five cases
# ---------------------------------------------------------------------------

def check_common(case_dir, arch_from_config, *, windows, freqs, dtype, tied, names_must, names_absent,
                 config_must, scale=None, attn_softcap=None, final_softcap=None):
    """Checks against facts written down literally by the case (not derived by the code under
    test): the per-layer windows, the first two rotary frequencies of every layer, the storage
    dtype, tied or not, tensor names that must / must not be there, config fields, the score
    scale; that the soft-caps are in their non-linear range; that a fresh forward pass from the
    re-read files reproduces expected.safetensors bit for bit. Returns notes."""
    notes = []
    config, W, WD = hc.read_model(os.path.join(case_dir, "model"))
    E, _, _ = hc.read_safetensors(os.path.join(case_dir, "expected.safetensors"))
    a = arch_from_config(config)
    # config fields exactly as the case promises
    for k, v in config_must.items():
        assert k in config and config[k] == v, f"config {k}: {config.get(k)!r} != {v!r}"
    # names
    assert set(W) == expected_hf_names(a), "tensor names differ from the architecture's"
    for n in names_must:
        assert n in W, f"missing tensor {n}"
    for n in names_absent:
        assert n not in W, f"unexpected tensor {n}"
    assert ("lm_head.weight" not in W) == tied
    assert set(WD.values()) == {dtype}, WD
    # windows exactly as stated (the generic check derives them from the -inf set)
    p = E["tokens"].shape[1]
    assert a.windows == windows, (a.windows, windows)
    for i, w in enumerate(windows):
        sc = E[f"blocks.{i}.attn.hook_attn_scores"]
        ii, jj = np.arange(p)[:, None], np.arange(p)[None, :]
        visible = (jj <= ii) & ((ii - jj < w) if w is not None else True)
        assert np.array_equal(np.isneginf(sc), np.broadcast_to(~visible, sc.shape)), f"L{i} mask"
        if w is not None:
            assert w < p and np.any((jj <= ii) & ~visible), f"L{i}: window masks nothing"
    # rotary frequencies: recover the angle of pair 0 and pair 1 at position 1 from hook_rot_q
    dh = a.head_dim
    for i, (f0, f1) in enumerate(freqs):
        pre = E[f"blocks.{i}.attn.q_norm.hook_normalized"] if a.qk_norm else E[f"blocks.{i}.attn.hook_q"]
        if a.qk_norm:
            wq = W[f"model.layers.{i}.self_attn.q_norm.weight"]
            pre = pre * ((1.0 + wq) if a.plus_one else wq)
        rot = E[f"blocks.{i}.attn.hook_rot_q"]
        for j, f in ((0, f0), (1, f1)):
            z0 = pre[:, 1, :, j] + 1j * pre[:, 1, :, j + dh // 2]
            z1 = rot[:, 1, :, j] + 1j * rot[:, 1, :, j + dh // 2]
            ang = np.angle(z1 / z0)
            assert np.allclose(ang, f, rtol=0, atol=1e-9), f"L{i} pair {j}: angle {ang.ravel()[:2]} != {f}"
        # and every position t rotates pair 0 by t * f0 (mod 2 pi)
        t = np.arange(p)
        z0 = pre[..., 0] + 1j * pre[..., dh // 2]
        z1 = rot[..., 0] + 1j * rot[..., dh // 2]
        d = np.angle(z1 / z0) - (t * f0)[None, :, None]
        assert np.allclose(np.angle(np.exp(1j * d)), 0.0, atol=1e-9), f"L{i}: angle not t*f0"
    notes.append("rotary f0,f1 per layer " + " ".join(f"({f0:.4g},{f1:.4g})" for f0, f1 in freqs))
    # score scale and soft-cap
    for i in range(a.n_layers):
        P = f"blocks.{i}.attn."
        rq, rk = E[P + "hook_rot_q"], E[P + "hook_rot_k"]
        raw = np.einsum("bqhd,bkhd->bhqk", rq, np.repeat(rk, a.n_heads // a.n_kv_heads, axis=2)) * scale
        sc = E[P + "hook_attn_scores"]
        vis = ~np.isneginf(sc)
        want = raw if attn_softcap is None else attn_softcap * np.tanh(raw / attn_softcap)
        assert np.allclose(sc[vis], want[vis], rtol=1e-12, atol=1e-12), f"L{i}: scores != capped scaled q.k"
        if attn_softcap is not None:
            frac = float(np.mean(np.abs(raw[vis]) > attn_softcap))
            assert frac > 0.05, f"L{i}: attention soft-cap barely reached ({frac})"
            notes.append(f"L{i} |raw score|>cap in {frac:.0%}")
        pat = E[P + "hook_pattern"]
        mx = pat.max(-1)[..., 2:]
        assert mx.mean() < 0.95 and mx.mean() > 0.2, f"L{i}: pattern max mean {mx.mean()}"
    if final_softcap is not None:
        lg = E["logits"]
        x = E["ln_final.hook_normalized"]
        wn = W["model.norm.weight"]
        w_u = W["model.embed_tokens.weight"] if a.tied else W["lm_head.weight"]
        raw = (x * ((1.0 + wn) if a.plus_one else wn)) @ w_u.T
        assert np.allclose(lg, final_softcap * np.tanh(raw / final_softcap), rtol=1e-12, atol=1e-12)
        frac = float(np.mean(np.abs(raw) > final_softcap))
        assert frac > 0.05, f"final soft-cap barely reached ({frac})"
        notes.append(f"|raw logit|>cap in {frac:.0%}")
    # bit-for-bit recompute from the files as stored
    logits, cache = forward(W, a, E["tokens"])
    assert np.array_equal(logits, E["logits"])
    for k, v in cache.items():
        assert np.array_equal(v, E[k]), k
    assert set(cache) | {"tokens", "logits", "loss_per_token"} == set(E)
    with open(os.path.join(case_dir, "case.json")) as f:
        cj = json.load(f)
    assert cj["what_it_exercises"]
    notes.append("recomputed bit-identical")
    return notes


def run_case(case_dir, batch, pos, *, config, arch_fn, dtype, seed, shards, description, exercises, **wkw):
    """Writes one case: random weights for the family's architecture, the checkpoint, then the forward pass run on
    the weights as read back from it (so the expected values are of the stored, rounded numbers)."""
    rng = np.random.default_rng(seed)
    a = arch_fn(config)
    tensors = random_weights(rng, a, dtype, **wkw)
    tokens = hc.rand_tokens(rng, batch, pos, a.vocab)
    model_dir = os.path.join(case_dir, "model")
    hc.write_model(model_dir, tensors, config, shards=shards)
    config2, W, _ = hc.read_model(model_dir)
    a = arch_fn(config2)
    logits, cache = forward(W, a, tokens)
    hc.write_case(case_dir, family=config["model_type"], description=description, seed=seed,
                  what_it_exercises=exercises, tokens=tokens, logits=logits, cache=cache,
                  expected_hooks=hook_set(a))

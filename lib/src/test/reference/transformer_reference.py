#!/usr/bin/env python3
"""Independent float64 reference forward pass for a TransformerLens-style
GPT-2-architecture transformer, and the generator of the test vectors under
lib/src/test/resources/reference/.

This file does not use (or derive from) the Java code or TransformerLens; the
semantics are written out below, top to bottom, one function per component.

Usage (from the repository root; needs only numpy):
    python3 lib/src/test/reference/transformer_reference.py          # (re)write all cases, then self-check
    python3 lib/src/test/reference/transformer_reference.py --check  # self-check the files already written
"""
import hashlib
import json
import math
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.normpath(os.path.join(HERE, "..", "resources", "reference"))
EPS = 1e-5


# ----------------------------------------------------------------------------
# Cases
# ----------------------------------------------------------------------------

CASES = [
    dict(name="gpt2_like", seed=1001,
         description="LN, gelu_new, standard positional embedding; 2 layers, "
                     "d_model 64, 4 heads x 16, d_mlp 256, d_vocab 97; batch 2 x 12 tokens "
                     "(shorter than n_ctx 32).",
         config=dict(n_layers=2, d_model=64, n_heads=4, d_head=16, d_mlp=256,
                     d_vocab=97, d_vocab_out=97, n_ctx=32, act_fn="gelu_new",
                     normalization_type="LN", attn_only=False,
                     positional_embedding_type="standard", eps=EPS),
         batch=2, pos=12, ablate_layer=1, ablate_head=2),
    dict(name="odd_shapes", seed=2002,
         description="LNPre (no LN weights), exact erf gelu; 3 layers, d_model 40, "
                     "3 heads x 16 (n_heads*d_head = 48 != d_model), d_mlp 72, "
                     "d_vocab 11 but d_vocab_out 7 (so no loss_per_token); batch 3 x 9 = full context.",
         config=dict(n_layers=3, d_model=40, n_heads=3, d_head=16, d_mlp=72,
                     d_vocab=11, d_vocab_out=7, n_ctx=9, act_fn="gelu",
                     normalization_type="LNPre", attn_only=False,
                     positional_embedding_type="standard", eps=EPS),
         batch=3, pos=9, ablate_layer=2, ablate_head=0),
    dict(name="attn_only_shortformer", seed=3003,
         description="Attention-only (no MLP, no ln2, no resid_mid), LN, shortformer "
                     "positional embedding (added to the LN'd query/key inputs only, not to "
                     "the residual stream); 2 layers, d_model 32, 8 heads x 4, d_vocab 23; "
                     "batch 1 x 20 = full context.",
         config=dict(n_layers=2, d_model=32, n_heads=8, d_head=4, d_mlp=None,
                     d_vocab=23, d_vocab_out=23, n_ctx=20, act_fn="gelu_new",
                     normalization_type="LN", attn_only=True,
                     positional_embedding_type="shortformer", eps=EPS),
         batch=1, pos=20, ablate_layer=1, ablate_head=5),
    dict(name="relu_no_norm", seed=4004,
         description="No normalization at all (no LN weights, no LN hooks), relu; 1 layer, "
                     "d_model 32, 4 heads x 8, d_mlp 64, d_vocab 14, d_vocab_out 13 "
                     "(so no loss_per_token); batch 5 x 3 = full context.",
         config=dict(n_layers=1, d_model=32, n_heads=4, d_head=8, d_mlp=64,
                     d_vocab=14, d_vocab_out=13, n_ctx=3, act_fn="relu",
                     normalization_type=None, attn_only=False,
                     positional_embedding_type="standard", eps=EPS),
         batch=5, pos=3, ablate_layer=0, ablate_head=3),
    dict(name="solu", seed=5005,
         description="LN, solu_ln activation (pre * softmax(pre), then a LayerNorm "
                     "'mlp.ln' with weights); 2 layers, d_model 24, 2 heads x 12, d_mlp 48, "
                     "d_vocab 30; batch 2 x 7 (n_ctx 10).",
         config=dict(n_layers=2, d_model=24, n_heads=2, d_head=12, d_mlp=48,
                     d_vocab=30, d_vocab_out=30, n_ctx=10, act_fn="solu_ln",
                     normalization_type="LN", attn_only=False,
                     positional_embedding_type="standard", eps=EPS),
         batch=2, pos=7, ablate_layer=0, ablate_head=1),
]


# ----------------------------------------------------------------------------
# safetensors (hand-written reader / writer)
# ----------------------------------------------------------------------------

DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "I64": np.dtype("<i8")}
DTYPE_NAMES = {np.dtype("<f4"): "F32", np.dtype("<f8"): "F64", np.dtype("<i8"): "I64"}


def write_safetensors(path, tensors):
    """tensors: dict name -> numpy array (float32, float64 or int64). Entries are
    sorted by name and packed contiguously in that order."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        arr = tensors[name]
        dt = arr.dtype.newbyteorder("<")
        data = np.ascontiguousarray(arr, dtype=dt).tobytes()
        header[name] = {"dtype": DTYPE_NAMES[dt], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * ((-len(hbytes)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """Returns (dict name -> numpy array, dict name -> dtype string)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0, "header length not a multiple of 8"
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    assert header.pop("__metadata__") == {"format": "pt"}
    data = raw[8 + n:]
    out, dtypes, expected_begin = {}, {}, 0
    for name in sorted(header, key=lambda k: header[k]["data_offsets"][0]):
        e = header[name]
        b, end = e["data_offsets"]
        assert b == expected_begin, "tensors not contiguous"
        dt = DTYPES[e["dtype"]]
        count = int(np.prod(e["shape"], dtype=np.int64))
        assert end - b == count * dt.itemsize, f"{name}: size mismatch"
        out[name] = np.frombuffer(data[b:end], dtype=dt).reshape(e["shape"])
        dtypes[name] = e["dtype"]
        expected_begin = end
    assert expected_begin == len(data), "trailing bytes after the last tensor"
    assert list(header) == sorted(header), "entries not sorted by name"
    return out, dtypes


# ----------------------------------------------------------------------------
# Weights
# ----------------------------------------------------------------------------

def init_weights(cfg, rng):
    """Random weights in float64, rounded to float32 (the file's values)."""
    dm, nh, dh, dv, dvo = cfg["d_model"], cfg["n_heads"], cfg["d_head"], cfg["d_vocab"], cfg["d_vocab_out"]
    ln = cfg["normalization_type"] == "LN"
    W = {}

    def normal(std, *shape):
        return std * rng.standard_normal(shape)

    def add_ln(prefix, d):
        W[prefix + ".w"] = 1.0 + 0.1 * rng.standard_normal(d)
        W[prefix + ".b"] = 0.1 * rng.standard_normal(d)

    W["embed.W_E"] = normal(1.0, dv, dm)
    W["pos_embed.W_pos"] = normal(0.5, cfg["n_ctx"], dm)
    for i in range(cfg["n_layers"]):
        p = f"blocks.{i}."
        if ln:
            add_ln(p + "ln1", dm)
        W[p + "attn.W_Q"] = normal(2 / math.sqrt(dm), nh, dm, dh)
        W[p + "attn.W_K"] = normal(2 / math.sqrt(dm), nh, dm, dh)
        W[p + "attn.W_V"] = normal(1 / math.sqrt(dm), nh, dm, dh)
        W[p + "attn.W_O"] = normal(1 / math.sqrt(nh * dh), nh, dh, dm)
        W[p + "attn.b_Q"] = normal(0.1, nh, dh)
        W[p + "attn.b_K"] = normal(0.1, nh, dh)
        W[p + "attn.b_V"] = normal(0.1, nh, dh)
        W[p + "attn.b_O"] = normal(0.1, dm)
        if not cfg["attn_only"]:
            dmlp = cfg["d_mlp"]
            if ln:
                add_ln(p + "ln2", dm)
            W[p + "mlp.W_in"] = normal(1 / math.sqrt(dm), dm, dmlp)
            W[p + "mlp.b_in"] = normal(0.1, dmlp)
            W[p + "mlp.W_out"] = normal(1 / math.sqrt(dmlp), dmlp, dm)
            W[p + "mlp.b_out"] = normal(0.1, dm)
            if cfg["act_fn"] == "solu_ln" and ln:
                add_ln(p + "mlp.ln", dmlp)
    if ln:
        add_ln("ln_final", dm)
    W["unembed.W_U"] = normal(1 / math.sqrt(dm), dm, dvo)
    W["unembed.b_U"] = normal(0.1, dvo)
    return {k: v.astype(np.float32) for k, v in W.items()}


# ----------------------------------------------------------------------------
# Components (all float64). `cache` collects hook activations by full name.
# ----------------------------------------------------------------------------

def layer_norm(x, W, name, cfg, cache):
    x = x - x.mean(axis=-1, keepdims=True)
    scale = np.sqrt((x * x).mean(axis=-1, keepdims=True) + cfg["eps"])
    cache[name + ".hook_scale"] = scale
    x = x / scale
    cache[name + ".hook_normalized"] = x  # before the weights, as TransformerLens hooks it
    if cfg["normalization_type"] == "LN":
        x = x * W[name + ".w"] + W[name + ".b"]
    return x


def maybe_layer_norm(x, W, name, cfg, cache):
    if cfg["normalization_type"] is None:
        return x
    return layer_norm(x, W, name, cfg, cache)


def softmax(x, axis=-1):
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)  # exp(-inf) == 0 exactly, so masked entries are exactly 0
    return e / e.sum(axis=axis, keepdims=True)


def attention(x, pos_embed, W, p, cfg, cache, ablate_head=None):
    """x: LN'd residual [b,p,m]. p: prefix 'blocks.i.attn.'."""
    q_in = k_in = x
    if cfg["positional_embedding_type"] == "shortformer":
        q_in = k_in = x + pos_embed
    v_in = x
    q = np.einsum("bpm,hmd->bphd", q_in, W[p + "W_Q"]) + W[p + "b_Q"]
    k = np.einsum("bpm,hmd->bphd", k_in, W[p + "W_K"]) + W[p + "b_K"]
    v = np.einsum("bpm,hmd->bphd", v_in, W[p + "W_V"]) + W[p + "b_V"]
    cache[p + "hook_q"], cache[p + "hook_k"], cache[p + "hook_v"] = q, k, v

    scores = np.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(cfg["d_head"])
    n = x.shape[1]
    future = np.triu(np.ones((n, n), dtype=bool), k=1)  # k > q
    scores = np.where(future, -np.inf, scores)
    cache[p + "hook_attn_scores"] = scores

    pattern = softmax(scores, axis=-1)
    cache[p + "hook_pattern"] = pattern
    z = np.einsum("bhqk,bkhd->bqhd", pattern, v)
    cache[p + "hook_z"] = z
    result = np.einsum("bqhd,hdm->bqhm", z, W[p + "W_O"])
    cache[p + "hook_result"] = result

    heads = [h for h in range(cfg["n_heads"]) if h != ablate_head]
    return result[:, :, heads, :].sum(axis=2) + W[p + "b_O"]


def gelu_new(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def relu(x):
    return np.maximum(x, 0.0)


def mlp(y, W, p, cfg, cache):
    """y: LN'd residual [b,p,m]. p: prefix 'blocks.i.mlp.'."""
    pre = y @ W[p + "W_in"] + W[p + "b_in"]
    cache[p + "hook_pre"] = pre
    act = cfg["act_fn"]
    if act == "solu_ln":
        mid = pre * softmax(pre, axis=-1)
        cache[p + "hook_mid"] = mid
        post = maybe_layer_norm(mid, W, p + "ln", cfg, cache)
    else:
        post = {"gelu_new": gelu_new, "gelu": gelu, "relu": relu}[act](pre)
    cache[p + "hook_post"] = post
    return post @ W[p + "W_out"] + W[p + "b_out"]


def block(resid, pos_embed, W, i, cfg, cache, ablate_head=None):
    p = f"blocks.{i}."
    cache[p + "hook_resid_pre"] = resid
    x = maybe_layer_norm(resid, W, p + "ln1", cfg, cache)
    attn_out = attention(x, pos_embed, W, p + "attn.", cfg, cache, ablate_head)
    cache[p + "hook_attn_out"] = attn_out
    if cfg["attn_only"]:
        resid = resid + attn_out
    else:
        resid = resid + attn_out
        cache[p + "hook_resid_mid"] = resid
        y = maybe_layer_norm(resid, W, p + "ln2", cfg, cache)
        mlp_out = mlp(y, W, p + "mlp.", cfg, cache)
        cache[p + "hook_mlp_out"] = mlp_out
        resid = resid + mlp_out
    cache[p + "hook_resid_post"] = resid
    return resid


def forward(tokens, W32, cfg, ablate=None):
    """tokens int [b,p]; W32: float32 weights. ablate: optional (layer, head) to
    leave out of that layer's sum over heads. Returns (logits, cache)."""
    W = {k: v.astype(np.float64) for k, v in W32.items()}
    cache = {}
    b, n = tokens.shape
    embed = W["embed.W_E"][tokens]
    pos_embed = np.broadcast_to(W["pos_embed.W_pos"][:n], (b, n, cfg["d_model"]))
    cache["hook_embed"], cache["hook_pos_embed"] = embed, pos_embed
    if cfg["positional_embedding_type"] == "shortformer":
        resid = embed
    else:
        resid = embed + pos_embed
    for i in range(cfg["n_layers"]):
        head = ablate[1] if ablate is not None and ablate[0] == i else None
        resid = block(resid, pos_embed, W, i, cfg, cache, head)
    x = maybe_layer_norm(resid, W, "ln_final", cfg, cache)
    logits = x @ W["unembed.W_U"] + W["unembed.b_U"]
    return logits, cache


def loss_per_token(logits, tokens):
    """Cross-entropy of logits[:, :-1] against tokens[:, 1:] -> [b, p-1]."""
    lg = logits[:, :-1]
    m = lg.max(axis=-1, keepdims=True)
    log_probs = lg - m - np.log(np.exp(lg - m).sum(axis=-1, keepdims=True))
    target = tokens[:, 1:]
    return -np.take_along_axis(log_probs, target[..., None], axis=-1)[..., 0]


# ----------------------------------------------------------------------------
# Generation
# ----------------------------------------------------------------------------

def generate_case(case):
    cfg = case["config"]
    rng = np.random.default_rng(case["seed"])
    W32 = init_weights(cfg, rng)
    tokens = rng.integers(0, cfg["d_vocab"], size=(case["batch"], case["pos"]), dtype=np.int64)

    logits, cache = forward(tokens, W32, cfg)
    ablated_logits, _ = forward(tokens, W32, cfg, ablate=(case["ablate_layer"], case["ablate_head"]))

    expected = {"tokens": tokens, "logits": logits, "ablated_logits": ablated_logits}
    for name, act in cache.items():
        expected[name] = np.ascontiguousarray(act, dtype=np.float64)
    if cfg["d_vocab_out"] == cfg["d_vocab"]:
        expected["loss_per_token"] = loss_per_token(logits, tokens)

    d = os.path.join(OUT_DIR, case["name"])
    os.makedirs(d, exist_ok=True)
    config = dict(cfg)
    if config["attn_only"]:
        config["d_mlp"] = None
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    with open(os.path.join(d, "case.json"), "w") as f:
        json.dump({"description": case["description"], "ablate_layer": case["ablate_layer"],
                   "ablate_head": case["ablate_head"], "seed": case["seed"]}, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(d, "model.safetensors"), W32)
    write_safetensors(os.path.join(d, "expected.safetensors"), expected)


# ----------------------------------------------------------------------------
# Self-check (re-reads the files with the parser above)
# ----------------------------------------------------------------------------

def expected_hook_names(cfg):
    names = ["hook_embed", "hook_pos_embed"]
    norm = cfg["normalization_type"] is not None
    ln_hooks = lambda P: [P + ".hook_scale", P + ".hook_normalized"] if norm else []
    for i in range(cfg["n_layers"]):
        p = f"blocks.{i}."
        names += [p + "hook_resid_pre"] + ln_hooks(p + "ln1")
        names += [p + "attn.hook_" + h for h in ("q", "k", "v", "attn_scores", "pattern", "z", "result")]
        names += [p + "hook_attn_out"]
        if not cfg["attn_only"]:
            names += [p + "hook_resid_mid"] + ln_hooks(p + "ln2") + [p + "mlp.hook_pre"]
            if cfg["act_fn"] == "solu_ln":
                names += [p + "mlp.hook_mid"] + ln_hooks(p + "mlp.ln")
            names += [p + "mlp.hook_post", p + "hook_mlp_out"]
        names += [p + "hook_resid_post"]
    names += ln_hooks("ln_final")
    return names


def check_case(case):
    name, d = case["name"], os.path.join(OUT_DIR, case["name"])
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    with open(os.path.join(d, "case.json")) as f:
        meta = json.load(f)
    W, wdt = read_safetensors(os.path.join(d, "model.safetensors"))
    E, edt = read_safetensors(os.path.join(d, "expected.safetensors"))
    assert set(wdt.values()) == {"F32"}, wdt
    b, n = case["batch"], case["pos"]
    dm, nh, dh = cfg["d_model"], cfg["n_heads"], cfg["d_head"]

    # Weight shapes
    want = {"embed.W_E": (cfg["d_vocab"], dm), "pos_embed.W_pos": (cfg["n_ctx"], dm),
            "unembed.W_U": (dm, cfg["d_vocab_out"]), "unembed.b_U": (cfg["d_vocab_out"],)}
    ln = cfg["normalization_type"] == "LN"
    for i in range(cfg["n_layers"]):
        p = f"blocks.{i}."
        for m in "QKV":
            want[p + f"attn.W_{m}"] = (nh, dm, dh)
            want[p + f"attn.b_{m}"] = (nh, dh)
        want[p + "attn.W_O"], want[p + "attn.b_O"] = (nh, dh, dm), (dm,)
        lns = ["ln1"]
        if not cfg["attn_only"]:
            lns.append("ln2")
            want[p + "mlp.W_in"], want[p + "mlp.b_in"] = (dm, cfg["d_mlp"]), (cfg["d_mlp"],)
            want[p + "mlp.W_out"], want[p + "mlp.b_out"] = (cfg["d_mlp"], dm), (dm,)
            if cfg["act_fn"] == "solu_ln" and ln:
                want[p + "mlp.ln.w"] = want[p + "mlp.ln.b"] = (cfg["d_mlp"],)
        if ln:
            for l in lns:
                want[p + l + ".w"] = want[p + l + ".b"] = (dm,)
    if ln:
        want["ln_final.w"] = want["ln_final.b"] = (dm,)
    assert {k: tuple(v.shape) for k, v in W.items()} == want, f"{name}: weight names/shapes"

    # Expected names, dtypes, shapes
    names = set(expected_hook_names(cfg)) | {"tokens", "logits", "ablated_logits"}
    if cfg["d_vocab_out"] == cfg["d_vocab"]:
        names.add("loss_per_token")
    assert set(E) == names, f"{name}: {set(E) ^ names}"
    assert edt.pop("tokens") == "I64" and set(edt.values()) == {"F64"}
    tokens = E["tokens"]
    assert tokens.shape == (b, n) and tokens.min() >= 0 and tokens.max() < cfg["d_vocab"]
    shapes = {"logits": (b, n, cfg["d_vocab_out"]), "ablated_logits": (b, n, cfg["d_vocab_out"]),
              "loss_per_token": (b, n - 1), "hook_embed": (b, n, dm), "hook_pos_embed": (b, n, dm)}
    for k, v in E.items():
        s = k.split(".")[-1]
        if k in shapes:
            exp = shapes[k]
        elif s in ("hook_q", "hook_k", "hook_v", "hook_z"):
            exp = (b, n, nh, dh)
        elif s in ("hook_attn_scores", "hook_pattern"):
            exp = (b, nh, n, n)
        elif s == "hook_result":
            exp = (b, n, nh, dm)
        elif s == "hook_scale":
            exp = (b, n, 1)
        elif ".mlp.hook_" in k or ".mlp.ln.hook_" in k:
            exp = (b, n, cfg["d_mlp"])
        elif k == "tokens":
            continue
        else:
            exp = (b, n, dm)
        assert v.shape == exp, f"{name}: {k} has shape {v.shape}, expected {exp}"
        if s != "hook_attn_scores":
            assert np.all(np.isfinite(v)), f"{name}: {k} not finite"

    # Attention: causal, rows sum to 1, peaked; scores -inf exactly above the diagonal
    future = np.triu(np.ones((n, n), dtype=bool), k=1)
    max_p = 0.0
    for i in range(cfg["n_layers"]):
        pat = E[f"blocks.{i}.attn.hook_pattern"]
        sc = E[f"blocks.{i}.attn.hook_attn_scores"]
        assert np.all(pat[..., future] == 0.0), f"{name}: pattern not causal"
        assert np.all(pat >= 0) and np.allclose(pat.sum(-1), 1.0, rtol=0, atol=1e-12)
        assert np.all(np.isneginf(sc[..., future])) and np.all(np.isfinite(sc[..., ~future]))
        max_p = max(max_p, float(pat[..., 1:, :].max()))

    # Recompute from the file's weights and compare bit-for-bit
    logits, cache = forward(tokens, W, cfg)
    assert np.array_equal(logits, E["logits"]), f"{name}: logits not reproducible"
    for k, v in cache.items():
        assert np.array_equal(v, E[k]), f"{name}: {k} not reproducible"

    # Ablation, independently: zero that head's W_O slice (z kept) and rerun
    L, H = meta["ablate_layer"], meta["ablate_head"]
    W0 = dict(W)
    wo = W[f"blocks.{L}.attn.W_O"].copy()
    wo[H] = 0.0
    W0[f"blocks.{L}.attn.W_O"] = wo
    logits0, _ = forward(tokens, W0, cfg)
    abl_err = np.max(np.abs(logits0 - E["ablated_logits"]))
    assert abl_err < 1e-12, f"{name}: ablation mismatch {abl_err}"
    abl_diff = np.max(np.abs(E["ablated_logits"] - E["logits"]))
    if name == "gpt2_like":
        assert abl_diff > 1e-3, f"{name}: ablation has no effect"

    # Residual stream bookkeeping
    for i in range(cfg["n_layers"]):
        p = f"blocks.{i}."
        mid = E[p + "hook_resid_pre"] + E[p + "hook_attn_out"]
        if cfg["attn_only"]:
            assert np.allclose(E[p + "hook_resid_post"], mid, rtol=0, atol=1e-12)
        else:
            assert np.allclose(E[p + "hook_resid_mid"], mid, rtol=0, atol=1e-12)
            assert np.allclose(E[p + "hook_resid_post"], mid + E[p + "hook_mlp_out"], rtol=0, atol=1e-12)

    # Loss, independently via log of softmax probabilities
    if "loss_per_token" in E:
        lg = E["logits"][:, :-1]
        probs = np.exp(lg - lg.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        ref = -np.log(np.take_along_axis(probs, tokens[:, 1:, None], -1)[..., 0])
        assert np.allclose(ref, E["loss_per_token"], rtol=1e-12, atol=1e-12)

    # gelu via erf against a few known values
    if cfg["act_fn"] == "gelu":
        xs = np.array([-3.0, -1.0, 0.0, 0.5, 2.0])
        known = np.array([-0.0040496940948902835, -0.15865525393145707, 0.0, 0.34573123063700656, 1.9544997361036416])
        assert np.allclose(gelu(xs), known, rtol=1e-13, atol=1e-15)

    print(f"  {name}: ok  ({len(E)} tensors; max off-diagonal pattern {max_p:.3f}; "
          f"max |ablated - logits| {abl_diff:.4f})")


def sha256_tree():
    digests = {}
    for root, _, files in os.walk(OUT_DIR):
        for fn in sorted(files):
            path = os.path.join(root, fn)
            with open(path, "rb") as f:
                digests[os.path.relpath(path, OUT_DIR)] = hashlib.sha256(f.read()).hexdigest()
    return digests


def main(argv):
    if "--check" not in argv:
        for case in CASES:
            generate_case(case)
        first = sha256_tree()
        for case in CASES:  # regenerate and confirm byte-identical output
            generate_case(case)
        assert sha256_tree() == first, "output is not deterministic"
        print(f"wrote {len(first)} files under {OUT_DIR} (regenerated twice: byte-identical)")
    print("self-check:")
    for case in CASES:
        check_case(case)


if __name__ == "__main__":
    main(sys.argv[1:])

"""Shared building blocks for the float64 references of Hugging Face model families.

Everything here is plain numpy float64. Conventions used throughout:
  * activations are [batch, pos, ...]; per-head tensors are [batch, pos, heads, head_dim];
    attention scores / patterns are [batch, heads, query_pos, key_pos];
  * weight matrices are in torch nn.Linear layout, [out_features, in_features], so a
    projection is x @ W.T (+ b), exactly as the HF state dict stores them;
  * `cache` is a dict that collects hook activations under their full TransformerLens
    names; every component that records hooks takes (cache, name/prefix) and records
    only when `cache` is not None.

Storage: weights are drawn in float64, rounded once to the storage dtype with
`quantize`, written with `write_safetensors`/`write_model`, read back with
`read_safetensors` and decoded exactly to float64; the forward pass runs on the
decoded values, so expected values are exact functions of the bytes on disk.
"""
import json
import math
import os
import shutil
import struct

import numpy as np

# ---------------------------------------------------------------------------
# dtypes
# ---------------------------------------------------------------------------

ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "U8": 1, "BOOL": 1}
_NP = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4",
       "U8": "u1", "BOOL": "u1"}


def bf16_encode(x):
    """float64/float32 array -> uint16 bfloat16 bits. Goes through float32 first (as a
    torch float32 tensor .to(bfloat16) would), then rounds the float32 to the nearest
    bfloat16, ties to even. Finite inputs only."""
    bits = np.asarray(x, dtype=np.float64).astype(np.float32).view(np.uint32).astype(np.uint64)
    lsb = (bits >> 16) & 1
    rounded = (bits + 0x7FFF + lsb) >> 16
    return rounded.astype(np.uint16)


def bf16_decode(bits):
    """uint16 bfloat16 bits -> exact float64 values (bits << 16 is the float32)."""
    u = np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16
    return u.view(np.float32).astype(np.float64)


def quantize(x, dtype):
    """Round float64 values to what `dtype` ("F32", "F16", "BF16", "F64") can hold and return
    them as float64 again (exact). Use it on every random weight before it is stored."""
    x = np.asarray(x, dtype=np.float64)
    if dtype == "F64":
        return x.copy()
    if dtype == "F32":
        return x.astype(np.float32).astype(np.float64)
    if dtype == "F16":
        y = x.astype(np.float16)
        assert np.all(np.isfinite(y)), "F16 overflow"
        return y.astype(np.float64)
    if dtype == "BF16":
        return bf16_decode(bf16_encode(x))
    raise ValueError(dtype)


def encode(x, dtype):
    """Array -> little-endian bytes of `dtype` (floats are rounded to nearest; BOOL/U8/I64/I32
    take integer or bool arrays)."""
    x = np.asarray(x)
    if dtype == "BF16":
        return np.ascontiguousarray(bf16_encode(x).astype("<u2")).tobytes()
    if dtype == "BOOL":
        return np.ascontiguousarray(x.astype(bool).astype("u1")).tobytes()
    return np.ascontiguousarray(x.astype(_NP[dtype])).tobytes()


def decode(raw, dtype, shape):
    """Little-endian bytes -> array: floats as exact float64, I64/I32/U8 as int64, BOOL as bool."""
    a = np.frombuffer(raw, dtype=_NP[dtype]).reshape(shape)
    if dtype == "BF16":
        return bf16_decode(a)
    if dtype in ("F64", "F32", "F16"):
        return a.astype(np.float64)
    if dtype == "BOOL":
        assert np.all(a <= 1), "BOOL byte not 0/1"
        return a.astype(bool)
    return a.astype(np.int64)


# ---------------------------------------------------------------------------
# safetensors
# ---------------------------------------------------------------------------

def safetensors_bytes(tensors, metadata=None):
    """tensors: dict name -> (array, dtype string). Entries are sorted by name and packed
    contiguously in that order; header JSON is compact and space-padded to a multiple of 8.
    metadata defaults to {"format": "pt"}. Returns (bytes, total tensor-data byte count)."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        arr, dt = tensors[name]
        data = encode(arr, dt)
        assert len(data) == ITEMSIZE[dt] * int(np.prod(np.shape(arr), dtype=np.int64))
        header[name] = {"dtype": dt, "shape": [int(s) for s in np.shape(arr)],
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = metadata if metadata is not None else {"format": "pt"}
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((-len(hb)) % 8)
    return struct.pack("<Q", len(hb)) + hb + b"".join(blobs), offset


def write_safetensors(path, tensors, metadata=None):
    """Write dict name -> (array, dtype) to `path` (see safetensors_bytes). Returns the
    number of tensor-data bytes written."""
    data, total = safetensors_bytes(tensors, metadata)
    with open(path, "wb") as f:
        f.write(data)
    return total


def read_safetensors(path):
    """Parse a safetensors file strictly (8-multiple header, contiguous in-order data, no
    trailing bytes, sizes match). Returns (dict name -> decoded array [floats as float64],
    dict name -> dtype string, metadata dict)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0, f"{path}: header length {n} not a multiple of 8"
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", None)
    data = raw[8 + n:]
    out, dtypes, pos = {}, {}, 0
    for name in sorted(header, key=lambda k: header[k]["data_offsets"][0]):
        e = header[name]
        b, end = e["data_offsets"]
        assert b == pos, f"{path}: {name} not contiguous"
        count = int(np.prod(e["shape"], dtype=np.int64))
        assert end - b == count * ITEMSIZE[e["dtype"]], f"{path}: {name} size mismatch"
        out[name] = decode(data[b:end], e["dtype"], e["shape"])
        dtypes[name] = e["dtype"]
        pos = end
    assert pos == len(data), f"{path}: trailing bytes"
    return out, dtypes, meta


# ---------------------------------------------------------------------------
# HF model folder
# ---------------------------------------------------------------------------

def write_config(path, config):
    """Write a config.json as transformers' save_pretrained does: indent 2, sorted keys,
    trailing newline."""
    with open(path, "w") as f:
        f.write(json.dumps(config, indent=2, sort_keys=True) + "\n")


def write_model(model_dir, tensors, config, shards=1):
    """Write a HF checkpoint folder: config.json plus model.safetensors (shards == 1) or
    model-0000i-of-0000N.safetensors + model.safetensors.index.json (shards == N > 1;
    tensors, sorted by name, are split into N runs of about equal byte size; index is
    {"metadata": {"total_size": <sum of tensor bytes>}, "weight_map": {name: file}}, sorted keys,
    indent 2). tensors: dict name -> (array, dtype). Any previous folder is removed first."""
    if os.path.isdir(model_dir):
        shutil.rmtree(model_dir)
    os.makedirs(model_dir)
    write_config(os.path.join(model_dir, "config.json"), config)
    names = sorted(tensors)
    if shards == 1:
        write_safetensors(os.path.join(model_dir, "model.safetensors"), tensors)
        return
    sizes = [len(encode(tensors[k][0], tensors[k][1])) for k in names]
    total = sum(sizes)
    groups, acc, cur = [[] for _ in range(shards)], 0, 0
    for k, s in zip(names, sizes):
        # move to the next shard once this one holds its share (keep every shard non-empty)
        if cur < shards - 1 and acc >= total * (cur + 1) / shards and groups[cur]:
            cur += 1
        groups[cur].append(k)
        acc += s
    assert all(groups), "a shard came out empty: too few tensors for that many shards"
    weight_map = {}
    for i, g in enumerate(groups):
        fname = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        write_safetensors(os.path.join(model_dir, fname), {k: tensors[k] for k in g})
        for k in g:
            weight_map[k] = fname
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    with open(os.path.join(model_dir, "model.safetensors.index.json"), "w") as f:
        f.write(json.dumps(index, indent=2, sort_keys=True) + "\n")


def read_model(model_dir):
    """Read a folder written by write_model (single file or index + shards, checking that
    the index names exactly the tensors of each shard and total_size matches). Returns
    (config dict, dict name -> decoded array, dict name -> dtype)."""
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    single = os.path.join(model_dir, "model.safetensors")
    if os.path.exists(single):
        W, D, meta = read_safetensors(single)
        assert meta == {"format": "pt"}
        return config, W, D
    with open(os.path.join(model_dir, "model.safetensors.index.json")) as f:
        index = json.load(f)
    W, D, total = {}, {}, 0
    for fname in sorted(set(index["weight_map"].values())):
        w, d, meta = read_safetensors(os.path.join(model_dir, fname))
        assert meta == {"format": "pt"}
        assert sorted(w) == sorted(k for k, v in index["weight_map"].items() if v == fname)
        for k in w:
            total += w[k].size * ITEMSIZE[d[k]]
        W.update(w)
        D.update(d)
    assert total == index["metadata"]["total_size"], "index total_size mismatch"
    return config, W, D


# ---------------------------------------------------------------------------
# numerics
# ---------------------------------------------------------------------------

def softmax(x, axis=-1):
    """Numerically stable softmax; -inf entries get exactly 0."""
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(axis=axis, keepdims=True)


_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu_exact(x):
    """gelu with the exact erf: 0.5 x (1 + erf(x / sqrt 2)). HF name "gelu"."""
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def gelu_tanh(x):
    """tanh-approximated gelu: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    HF names "gelu_new" and "gelu_pytorch_tanh" (same function)."""
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def silu(x):
    """x * sigmoid(x). HF names "silu" / "swish"."""
    return x / (1.0 + np.exp(-x))


ACT = {"gelu": gelu_exact, "gelu_new": gelu_tanh, "gelu_pytorch_tanh": gelu_tanh,
       "silu": silu, "swish": silu}


def layer_norm(x, w, b, eps, cache=None, name=None):
    """LayerNorm over the last axis: returns normalized * w + b. Records
    name.hook_scale = sqrt(var + eps) [.., 1] and name.hook_normalized = (x - mean) / scale
    (before w and b). w/b may be None (no affine)."""
    c = x - x.mean(axis=-1, keepdims=True)
    scale = np.sqrt((c * c).mean(axis=-1, keepdims=True) + eps)
    normed = c / scale
    if cache is not None:
        cache[name + ".hook_scale"] = scale
        cache[name + ".hook_normalized"] = normed
    out = normed
    if w is not None:
        out = out * w
    if b is not None:
        out = out + b
    return out


def rms_norm(x, w, eps, cache=None, name=None, plus_one=False):
    """RMSNorm over the last axis: normalized * w, or normalized * (1 + w) when plus_one
    (Gemma's raw weight convention). Records name.hook_scale = sqrt(mean(x^2) + eps) [.., 1]
    and name.hook_normalized = x / scale (before the weight). Works per head on
    [b, p, heads, dh] too (scale then [b, p, heads, 1])."""
    scale = np.sqrt((x * x).mean(axis=-1, keepdims=True) + eps)
    normed = x / scale
    if cache is not None:
        cache[name + ".hook_scale"] = scale
        cache[name + ".hook_normalized"] = normed
    return normed * ((1.0 + w) if plus_one else w)


def linear(x, w, b=None):
    """x @ w.T (+ b), with w in nn.Linear layout [out, in]."""
    y = x @ w.T
    return y if b is None else y + b


def split_heads(y, n_heads):
    """[.., n_heads * dh] -> [.., n_heads, dh] (head-major, as every HF family splits)."""
    return y.reshape(y.shape[:-1] + (n_heads, y.shape[-1] // n_heads))


def out_proj_per_head(w_o, n_heads):
    """nn.Linear output projection weight [d, H*dh] -> per-head W_O [H, dh, d] so that
    result[h] = z_h @ W_O[h]."""
    d, hd = w_o.shape
    return w_o.T.reshape(n_heads, hd // n_heads, d)


# ---------------------------------------------------------------------------
# rotary
# ---------------------------------------------------------------------------

def rope_inv_freq(rot_dim, base, scaling=None):
    """Inverse frequencies [rot_dim/2]: base^(-2i/rot_dim), i = 0..rot_dim/2-1, in float64.
    scaling (HF rope_scaling dict) may be None/"default", {"rope_type": "linear", "factor": f}
    (all frequencies / f), or {"rope_type": "llama3", "factor", "low_freq_factor",
    "high_freq_factor", "original_max_position_embeddings"}: with wavelength 2pi/f_i,
    low = orig/low_freq_factor, high = orig/high_freq_factor: wavelength > low -> f_i/factor;
    wavelength < high -> f_i unchanged; otherwise (1-s) f_i/factor + s f_i with
    s = (orig/wavelength - low_freq_factor) / (high_freq_factor - low_freq_factor).
    ("type" is accepted as the older spelling of "rope_type".)"""
    inv = 1.0 / (float(base) ** (np.arange(0, rot_dim, 2, dtype=np.float64) / rot_dim))
    if not scaling:
        return inv
    kind = scaling.get("rope_type", scaling.get("type"))
    if kind in (None, "default"):
        return inv
    if kind == "linear":
        return inv / float(scaling["factor"])
    if kind == "llama3":
        factor = float(scaling["factor"])
        lo, hi = float(scaling["low_freq_factor"]), float(scaling["high_freq_factor"])
        orig = float(scaling["original_max_position_embeddings"])
        wavelen = 2.0 * math.pi / inv
        low_wl, high_wl = orig / lo, orig / hi
        smooth = (orig / wavelen - lo) / (hi - lo)
        mid = (1.0 - smooth) * inv / factor + smooth * inv
        return np.where(wavelen > low_wl, inv / factor, np.where(wavelen < high_wl, inv, mid))
    raise ValueError(f"rope type {kind}")


def llama3_bands(rot_dim, base, scaling):
    """Which llama3 band each frequency falls in: array of "low" (divided by factor),
    "mid" (smoothed), "high" (unchanged). For choosing a config that hits all three."""
    inv = rope_inv_freq(rot_dim, base)
    orig = float(scaling["original_max_position_embeddings"])
    wl = 2.0 * math.pi / inv
    return np.where(wl > orig / scaling["low_freq_factor"], "low",
                    np.where(wl < orig / scaling["high_freq_factor"], "high", "mid"))


def apply_rotary(x, inv_freq, interleaved=False, positions=None):
    """Rotate the first rot_dim = 2*len(inv_freq) features of each head of x [b, p, H, dh]
    by angle pos * inv_freq[i]; the rest pass through. positions default 0..p-1.
    interleaved=False (rotate-half; NeoX, Llama, Mistral, Qwen, Gemma): pair (i, i + rot_dim/2),
      out = x*cos + rotate_half(x)*sin with cos/sin tiled twice and rotate_half(x) = [-x2, x1].
    interleaved=True (GPT-J, rotate every two): pair (2i, 2i+1), cos/sin repeated per pair,
      out[2i] = x[2i] cos - x[2i+1] sin, out[2i+1] = x[2i+1] cos + x[2i] sin."""
    p = x.shape[1]
    pos = np.arange(p, dtype=np.float64) if positions is None else np.asarray(positions, np.float64)
    r = 2 * len(inv_freq)
    ang = pos[:, None] * inv_freq[None, :]  # [p, r/2]
    cos, sin = np.cos(ang), np.sin(ang)
    xr, xp = x[..., :r], x[..., r:]
    if interleaved:
        cos = np.repeat(cos, 2, axis=-1)[None, :, None, :]
        sin = np.repeat(sin, 2, axis=-1)[None, :, None, :]
        rot = np.empty_like(xr)
        rot[..., 0::2] = -xr[..., 1::2]
        rot[..., 1::2] = xr[..., 0::2]
    else:
        cos = np.concatenate([cos, cos], axis=-1)[None, :, None, :]
        sin = np.concatenate([sin, sin], axis=-1)[None, :, None, :]
        rot = np.concatenate([-xr[..., r // 2:], xr[..., :r // 2]], axis=-1)
    return np.concatenate([xr * cos + rot * sin, xp], axis=-1)


# ---------------------------------------------------------------------------
# attention and MLPs
# ---------------------------------------------------------------------------

def attention_mask(p, window=None):
    """Boolean [p, p] (query, key), True = key visible: causal (key <= query) and, if window
    is given, query - key < window (the query sees itself and window-1 earlier keys)."""
    i = np.arange(p)[:, None]
    j = np.arange(p)[None, :]
    ok = j <= i
    if window is not None:
        ok &= (i - j) < window
    return ok


def attention(q, k, v, w_o, cache=None, prefix=None, *, scale, softcap=None, window=None,
              qk_norm=None, rotary=None):
    """One attention layer from projected q [b,p,H,dh], k/v [b,p,K,dh] (biases already added).
    w_o: per-head output weights [H, dh, d] (see out_proj_per_head). Returns the sum over
    heads of hook_result, WITHOUT any output bias (the caller adds it, applies post-norms and
    records hook_attn_out). Records, under prefix (e.g. "blocks.0.attn."):
      hook_q, hook_k, hook_v;
      if qk_norm = {"q": w [dh], "k": w [dh], "eps": e, "plus_one": bool}: per-head RMSNorm hooks
        q_norm.hook_scale/hook_normalized, k_norm.hook_scale/hook_normalized;
      if rotary = {"inv_freq": array, "interleaved": bool}: hook_rot_q, hook_rot_k (after norms);
      hook_attn_scores = (q.k) * scale, then softcap*tanh(s/softcap) if softcap, then -inf where
        masked (see attention_mask(p, window));
      hook_pattern (softmax over keys), hook_z (query head h reads kv head h // (H/K)),
      hook_result [b,p,H,d] = z_h @ w_o[h]."""
    c = cache if cache is not None else {}
    pre = prefix or ""
    c[pre + "hook_q"], c[pre + "hook_k"], c[pre + "hook_v"] = q, k, v
    H, K = q.shape[2], k.shape[2]
    assert H % K == 0
    if qk_norm is not None:
        q = rms_norm(q, qk_norm["q"], qk_norm["eps"], c, pre + "q_norm", qk_norm.get("plus_one", False))
        k = rms_norm(k, qk_norm["k"], qk_norm["eps"], c, pre + "k_norm", qk_norm.get("plus_one", False))
    if rotary is not None:
        q = apply_rotary(q, rotary["inv_freq"], rotary.get("interleaved", False))
        k = apply_rotary(k, rotary["inv_freq"], rotary.get("interleaved", False))
        c[pre + "hook_rot_q"], c[pre + "hook_rot_k"] = q, k
    rep = H // K
    kk = np.repeat(k, rep, axis=2)  # kv head j serves query heads j*rep .. j*rep+rep-1
    vv = np.repeat(v, rep, axis=2)
    s = np.einsum("bqhd,bkhd->bhqk", q, kk) * scale
    if softcap is not None:
        s = softcap * np.tanh(s / softcap)
    mask = attention_mask(q.shape[1], window)
    s = np.where(mask, s, -np.inf)
    c[pre + "hook_attn_scores"] = s
    pat = softmax(s, axis=-1)
    c[pre + "hook_pattern"] = pat
    z = np.einsum("bhqk,bkhd->bqhd", pat, vv)
    c[pre + "hook_z"] = z
    res = np.einsum("bqhd,hdm->bqhm", z, w_o)
    c[pre + "hook_result"] = res
    return res.sum(axis=2)


def mlp_plain(x, w_in, b_in, w_out, b_out, act, cache=None, prefix=None):
    """Plain MLP (nn.Linear layouts w_in [m, d], w_out [d, m]; biases may be None).
    Records prefix+"hook_pre" = x W_in^T + b_in and prefix+"hook_post" = act(pre) (prefix
    e.g. "blocks.0.mlp."). Returns post W_out^T + b_out. act: a key of ACT."""
    pre = linear(x, w_in, b_in)
    post = ACT[act](pre)
    if cache is not None:
        cache[prefix + "hook_pre"] = pre
        cache[prefix + "hook_post"] = post
    return linear(post, w_out, b_out)


def mlp_gated(x, w_gate, w_up, w_down, act, cache=None, prefix=None, b_gate=None, b_up=None,
              b_down=None):
    """Gated MLP (gate_proj, up_proj [m, d], down_proj [d, m]). Records hook_pre = x W_gate^T,
    hook_pre_linear = x W_up^T, hook_post = act(pre) * pre_linear. Returns post W_down^T (+ b)."""
    pre = linear(x, w_gate, b_gate)
    pre_lin = linear(x, w_up, b_up)
    post = ACT[act](pre) * pre_lin
    if cache is not None:
        cache[prefix + "hook_pre"] = pre
        cache[prefix + "hook_pre_linear"] = pre_lin
        cache[prefix + "hook_post"] = post
    return linear(post, w_down, b_down)


def loss_per_token(logits, tokens):
    """-log softmax(logits)[b, t, tokens[b, t+1]] for t < p-1 -> [b, p-1] (no mean)."""
    lg = logits[:, :-1]
    m = lg.max(axis=-1, keepdims=True)
    lp = lg - m - np.log(np.exp(lg - m).sum(axis=-1, keepdims=True))
    return -np.take_along_axis(lp, tokens[:, 1:, None], axis=-1)[..., 0]


# ---------------------------------------------------------------------------
# hook-name sets and the case writer
# ---------------------------------------------------------------------------

def hook_names(n_layers, *, parallel=False, shared_norm=False, pos_embed=False, rotary=False,
               qk_norm=False, post_norms=False, gated=False):
    """The exact set of hook names the spec asks for (without tokens/logits/loss).
    parallel: GPT-J / NeoX parallel block (no hook_resid_mid); shared_norm: GPT-J's single norm
    (no ln2 hooks); post_norms: Gemma's ln1_post / ln2_post; gated: hook_pre_linear."""
    names = {"hook_embed", "ln_final.hook_scale", "ln_final.hook_normalized"}
    if pos_embed:
        names.add("hook_pos_embed")
    for l in range(n_layers):
        p = f"blocks.{l}."
        names |= {p + "hook_resid_pre", p + "ln1.hook_scale", p + "ln1.hook_normalized",
                  p + "hook_attn_out", p + "hook_mlp_out", p + "hook_resid_post",
                  p + "mlp.hook_pre", p + "mlp.hook_post"}
        names |= {p + "attn.hook_" + h for h in ("q", "k", "v", "attn_scores", "pattern", "z", "result")}
        if not shared_norm:
            names |= {p + "ln2.hook_scale", p + "ln2.hook_normalized"}
        if not parallel:
            names.add(p + "hook_resid_mid")
        if rotary:
            names |= {p + "attn.hook_rot_q", p + "attn.hook_rot_k"}
        if qk_norm:
            for n in ("q_norm", "k_norm"):
                names |= {p + f"attn.{n}.hook_scale", p + f"attn.{n}.hook_normalized"}
        if post_norms:
            for n in ("ln1_post", "ln2_post"):
                names |= {p + f"{n}.hook_scale", p + f"{n}.hook_normalized"}
        if gated:
            names.add(p + "mlp.hook_pre_linear")
    return names


def write_case(case_dir, *, family, description, seed, what_it_exercises, tokens, logits, cache,
               expected_hooks=None):
    """Write expected.safetensors (tokens I64; logits, loss_per_token and every cache entry F64)
    and case.json into case_dir (model/ is written separately with write_model). If
    expected_hooks (a set, see hook_names) is given, the cache must hold exactly that set."""
    if expected_hooks is not None:
        got = set(cache)
        assert got == set(expected_hooks), (
            f"hook set mismatch: missing {sorted(set(expected_hooks) - got)}, "
            f"extra {sorted(got - set(expected_hooks))}")
    tensors = {"tokens": (np.asarray(tokens, dtype=np.int64), "I64"),
               "logits": (logits, "F64"),
               "loss_per_token": (loss_per_token(logits, tokens), "F64")}
    for k, v in cache.items():
        assert k not in tensors
        tensors[k] = (np.ascontiguousarray(v, dtype=np.float64), "F64")
    os.makedirs(case_dir, exist_ok=True)
    write_safetensors(os.path.join(case_dir, "expected.safetensors"), tensors)
    with open(os.path.join(case_dir, "case.json"), "w") as f:
        f.write(json.dumps({"family": family, "description": description, "seed": seed,
                            "what_it_exercises": list(what_it_exercises)}, indent=2) + "\n")


def rand_tokens(rng, batch, pos, vocab):
    """Tokens uniform over [0, vocab), int64 [batch, pos]."""
    return rng.integers(0, vocab, size=(batch, pos), dtype=np.int64)

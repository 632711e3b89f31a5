"""Llama (model_type "llama"): RMSNorm, rotate-half rotary (with rope_scaling, e.g. llama3),
grouped-query attention, SiLU-gated MLP.

forward_llama takes the config dict as read back from config.json (LlamaConfig's field names;
missing fields take LlamaConfig's defaults) and the decoded weights."""
import math
import os

import numpy as np

import hf_common as hc
from gpt_families import BATCH, POS, Builder, _angles, _replay, qk_std


def forward_llama(cfg, W, tokens):
    d, H = cfg["hidden_size"], cfg["num_attention_heads"]
    K = cfg.get("num_key_value_heads") or H
    dh = cfg.get("head_dim") or d // H
    eps = cfg.get("rms_norm_eps", 1e-6)
    act = cfg.get("hidden_act", "silu")
    abias, mbias = cfg.get("attention_bias", False), cfg.get("mlp_bias", False)
    rot = int(dh * cfg.get("partial_rotary_factor", 1.0))
    inv = hc.rope_inv_freq(rot, cfg.get("rope_theta", 10000.0), cfg.get("rope_scaling"))
    get = lambda name: W[name] if name in W else None  # optional biases
    c = {}
    x = W["model.embed_tokens.weight"][tokens]
    c["hook_embed"] = x
    for l in range(cfg["num_hidden_layers"]):
        P, t = f"blocks.{l}.", f"model.layers.{l}."
        a = t + "self_attn."
        c[P + "hook_resid_pre"] = x
        h = hc.rms_norm(x, W[t + "input_layernorm.weight"], eps, c, P + "ln1")
        q = hc.split_heads(hc.linear(h, W[a + "q_proj.weight"], get(a + "q_proj.bias") if abias else None), H)
        k = hc.split_heads(hc.linear(h, W[a + "k_proj.weight"], get(a + "k_proj.bias") if abias else None), K)
        v = hc.split_heads(hc.linear(h, W[a + "v_proj.weight"], get(a + "v_proj.bias") if abias else None), K)
        att = hc.attention(q, k, v, hc.out_proj_per_head(W[a + "o_proj.weight"], H), c, P + "attn.",
                           scale=dh ** -0.5, rotary={"inv_freq": inv, "interleaved": False})
        attn_out = att + W[a + "o_proj.bias"] if abias else att
        c[P + "hook_attn_out"] = attn_out
        mid = x + attn_out
        c[P + "hook_resid_mid"] = mid
        h2 = hc.rms_norm(mid, W[t + "post_attention_layernorm.weight"], eps, c, P + "ln2")
        m = t + "mlp."
        mlp_out = hc.mlp_gated(h2, W[m + "gate_proj.weight"], W[m + "up_proj.weight"], W[m + "down_proj.weight"],
                               act, c, P + "mlp.",
                               *((W[m + "gate_proj.bias"], W[m + "up_proj.bias"], W[m + "down_proj.bias"])
                                 if mbias else ()))
        c[P + "hook_mlp_out"] = mlp_out
        x = mid + mlp_out
        c[P + "hook_resid_post"] = x
    f = hc.rms_norm(x, W["model.norm.weight"], eps, c, "ln_final")
    unembed = W["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else W["lm_head.weight"]
    return f @ unembed.T, c


def case_llama3(case_dir):
    seed = 15005
    rng = np.random.default_rng(seed)
    d, H, K, L, V, m = 32, 4, 2, 2, 64, 48
    dh = d // H
    scaling = {"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
               "original_max_position_embeddings": 1024, "rope_type": "llama3"}
    theta = 10000.0
    bands = list(hc.llama3_bands(dh, theta, scaling))
    assert {"low", "mid", "high"} <= set(bands), bands
    config = {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "head_dim": dh,
        "hidden_act": "silu",
        "hidden_size": d,
        "initializer_range": 0.02,
        "intermediate_size": m,
        "max_position_embeddings": 8192,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": H,
        "num_hidden_layers": L,
        "num_key_value_heads": K,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-05,
        "rope_scaling": scaling,
        "rope_theta": theta,
        "tie_word_embeddings": True,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.45.0.dev0",
        "use_cache": True,
        "vocab_size": V,
    }
    B = Builder(rng, "BF16")
    B.normal("model.embed_tokens.weight", 0.4, V, d)
    sqk = qk_std(d, dh, scaled=True)
    for l in range(L):
        t = f"model.layers.{l}."
        a = t + "self_attn."
        B.normal(t + "input_layernorm.weight", 0.1, d, mean=1.0)
        B.normal(a + "q_proj.weight", sqk, H * dh, d)
        B.normal(a + "k_proj.weight", sqk, K * dh, d)
        B.normal(a + "v_proj.weight", 1 / math.sqrt(d), K * dh, d)
        B.normal(a + "o_proj.weight", 1 / math.sqrt(H * dh), d, H * dh)
        B.normal(t + "post_attention_layernorm.weight", 0.1, d, mean=1.0)
        B.normal(t + "mlp.gate_proj.weight", 1 / math.sqrt(d), m, d)
        B.normal(t + "mlp.up_proj.weight", 1 / math.sqrt(d), m, d)
        B.normal(t + "mlp.down_proj.weight", 1 / math.sqrt(m), d, m)
    B.normal("model.norm.weight", 0.1, d, mean=1.0)
    model_dir = os.path.join(case_dir, "model")
    hc.write_model(model_dir, B.t, config, shards=2)
    cfg, W, _ = hc.read_model(model_dir)
    tokens = hc.rand_tokens(rng, BATCH, POS, V)
    logits, cache = forward_llama(cfg, W, tokens)
    hc.write_case(
        case_dir, family="llama", seed=seed, tokens=tokens, logits=logits, cache=cache,
        expected_hooks=hc.hook_names(L, rotary=True, gated=True),
        description=f"Llama 3 style: {L} layers, hidden {d}, {H} query heads / {K} kv heads x {dh}, "
                    f"rope_theta {theta:g} with rope_scaling llama3 (factor 8, low 1, high 4, original 1024: "
                    f"frequency bands {bands}), SiLU gated MLP {m}, RMSNorm eps 1e-5, tied embeddings "
                    f"(no lm_head.weight), vocab {V}, BF16, 2 shards.",
        what_it_exercises=[
            "grouped-query attention: 4 query heads share 2 kv heads (query head h reads kv head h // 2)",
            "rope_scaling rope_type llama3: with wavelength 2pi/f, f/factor above original/low_freq_factor, "
            "f unchanged below original/high_freq_factor, smooth interpolation between; at head_dim 8 "
            "the four frequencies fall in bands " + ", ".join(bands),
            "rotate-half rotary over the whole head (partial_rotary_factor absent = 1)",
            "RMSNorm (plain weight), rms_norm_eps 1e-5",
            "SiLU gated MLP (gate_proj, up_proj, down_proj), no biases",
            "head_dim given explicitly in config.json",
            "tie_word_embeddings true: no lm_head.weight tensor, logits use model.embed_tokens.weight",
            "BF16 storage (round to nearest even from float32)",
            "sharded: model-00001-of-00002 / model-00002-of-00002 + model.safetensors.index.json"])


CASES = {"llama3": case_llama3}


def _llama3_freqs_by_loop(dim, base, s):
    """The llama3 adjustment written per frequency (a second formulation for the check)."""
    out = []
    for i in range(dim // 2):
        f = base ** (-(2.0 * i) / dim)
        wl = 2 * math.pi / f
        lo_wl = s["original_max_position_embeddings"] / s["low_freq_factor"]
        hi_wl = s["original_max_position_embeddings"] / s["high_freq_factor"]
        if wl < hi_wl:
            out.append(f)
        elif wl > lo_wl:
            out.append(f / s["factor"])
        else:
            a = (s["original_max_position_embeddings"] / wl - s["low_freq_factor"]) / (
                s["high_freq_factor"] - s["low_freq_factor"])
            out.append(a * f + (1 - a) * f / s["factor"])
    return np.array(out)


def check_llama3(case_dir):
    cfg, W, E = _replay(case_dir, forward_llama)
    assert "lm_head.weight" not in W
    dh = cfg["head_dim"]
    want = _llama3_freqs_by_loop(dh, cfg["rope_theta"], cfg["rope_scaling"])
    plain = cfg["rope_theta"] ** (-np.arange(0, dh, 2) / dh)
    changed = ~np.isclose(want, plain, rtol=1e-12)
    assert changed.sum() == 2 and not changed[0], "expected the two lowest frequencies to be rescaled"
    p = E["tokens"].shape[1]
    for l in range(cfg["num_hidden_layers"]):
        P = f"blocks.{l}.attn."
        for n in ("q", "k"):
            ang = _angles(E[P + "hook_" + n], E[P + "hook_rot_" + n], False, dh)
            exp = np.angle(np.exp(1j * np.arange(p)[:, None] * want[None, :]))
            assert np.allclose(ang, exp[None, :, None, :], atol=1e-9), (l, n)
    f = E["ln_final.hook_normalized"] * W["model.norm.weight"]
    assert np.allclose(E["logits"], f @ W["model.embed_tokens.weight"].T, rtol=1e-12, atol=1e-12)
    return ["replay bit-identical", "llama3 frequencies recovered from rot_q/rot_k angles "
            + np.array2string(want, precision=6), "tied unembedding"]


CHECKS = {"llama3": check_llama3}

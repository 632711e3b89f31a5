"""Cases `mistral` (model_type mistral), `qwen2` (qwen2) and `qwen3` (qwen3).

Each case draws a tiny random checkpoint in the hub's layout, writes it, reads it back and runs
the float64 forward pass of rms_decoder on the values as stored, with the architecture resolved
from config.json by the family's own rules (below), then writes expected.safetensors.

Config rules, as the HF configuration/modeling files define them:
  * Mistral: head_dim = config.head_dim if present (newer configs) else hidden_size // heads;
    sliding_window (int or null) applies to EVERY layer; scale head_dim^-0.5; no biases.
  * Qwen2: q_proj/k_proj/v_proj carry biases, o_proj does not; head_dim = hidden_size // heads;
    sliding_window is used only when use_sliding_window is true, and then only on layers with
    index >= max_window_layers (an explicit layer_types list, in newer configs, overrides that).
  * Qwen3: explicit head_dim (default 128, need not be hidden_size / heads); q_norm / k_norm:
    RMSNorm over head_dim with a plain weight, applied per head to the projected q / k BEFORE
    rotary; attention_bias (default false) would put biases on q/k/v/o; windows as Qwen2.
"""
import math
import os

import hf_common as hc
import rms_decoder as rd

BATCH, POS = 2, 12


def _windows_qwen(c):
    L = c["num_hidden_layers"]
    if c.get("layer_types"):
        return [c["sliding_window"] if t == "sliding_attention" else None for t in c["layer_types"]]
    sw = c.get("sliding_window") if c.get("use_sliding_window", False) else None
    mwl = c.get("max_window_layers", 28)
    return [sw if sw is not None and i >= mwl else None for i in range(L)]


def _common(c, dh, windows, **kw):
    H = c["num_attention_heads"]
    K = c.get("num_key_value_heads") or H
    inv = hc.rope_inv_freq(dh, c.get("rope_theta", 10000.0), c.get("rope_scaling"))
    return rd.Arch(n_layers=c["num_hidden_layers"], d_model=c["hidden_size"], n_heads=H, n_kv_heads=K,
                   head_dim=dh, d_mlp=c["intermediate_size"], vocab=c["vocab_size"], eps=c["rms_norm_eps"],
                   act=c.get("hidden_act", "silu"), windows=windows,
                   inv_freqs=[inv] * c["num_hidden_layers"], scale=dh ** -0.5,
                   tied=c.get("tie_word_embeddings", False), **kw)


def mistral_arch(c):
    dh = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
    return _common(c, dh, [c.get("sliding_window")] * c["num_hidden_layers"])


def qwen2_arch(c):
    dh = c["hidden_size"] // c["num_attention_heads"]
    return _common(c, dh, _windows_qwen(c), qkv_bias=True)


def qwen3_arch(c):
    assert not c.get("attention_bias", False), "this reference has no o_proj bias path"
    dh = c.get("head_dim", 128)
    return _common(c, dh, _windows_qwen(c), qk_norm=True)


# ---------------------------------------------------------------------------
# mistral
# ---------------------------------------------------------------------------

MISTRAL_CONFIG = {
    "architectures": ["MistralForCausalLM"],
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "hidden_act": "silu",
    "hidden_size": 32,
    "initializer_range": 0.02,
    "intermediate_size": 48,
    "max_position_embeddings": 256,
    "model_type": "mistral",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "num_key_value_heads": 2,
    "rms_norm_eps": 1e-05,
    "rope_theta": 10000.0,
    "sliding_window": 5,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.34.0.dev0",
    "use_cache": True,
    "vocab_size": 64,
}


def case_mistral(case_dir):
    rd.run_case(case_dir, BATCH, POS, config=MISTRAL_CONFIG, arch_fn=mistral_arch, dtype="BF16", seed=3101, shards=1,
         embed_std=1.0, unembed_std=2.5 / math.sqrt(32), qk_gain=1.6,
         description="Mistral (Mistral-7B-v0.1 layout): sliding_window 5 < 12 positions on every layer, "
                     "4 query heads sharing 2 kv heads, untied lm_head, BF16 weights, no head_dim field",
         exercises=["sliding_window on every layer: query i sees keys i-4..i (window 5 incl. itself)",
                    "grouped-query attention 4 query heads / 2 kv heads (query head h reads kv head h // 2)",
                    "head_dim absent from config: hidden_size // num_attention_heads = 8",
                    "rotate-half rotary, rope_theta 10000, no scaling",
                    "RMSNorm eps 1e-5 with plain weight; silu gated MLP",
                    "untied lm_head.weight", "BF16 storage, single model.safetensors"])


def check_mistral(case_dir):
    return rd.check_common(
        case_dir, mistral_arch, windows=[5, 5], freqs=[(1.0, 10000 ** (-2 / 8))] * 2, dtype="BF16",
        tied=False, scale=8 ** -0.5,
        names_must=["lm_head.weight", "model.layers.1.post_attention_layernorm.weight"],
        names_absent=["model.layers.0.self_attn.q_proj.bias", "model.layers.0.self_attn.o_proj.bias"],
        config_must={"model_type": "mistral", "sliding_window": 5, "num_key_value_heads": 2})


# ---------------------------------------------------------------------------
# qwen2
# ---------------------------------------------------------------------------

QWEN2_CONFIG = {
    "architectures": ["Qwen2ForCausalLM"],
    "attention_dropout": 0.0,
    "bos_token_id": 66,
    "eos_token_id": 66,
    "hidden_act": "silu",
    "hidden_size": 32,
    "initializer_range": 0.02,
    "intermediate_size": 48,
    "max_position_embeddings": 256,
    "max_window_layers": 2,
    "model_type": "qwen2",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "num_key_value_heads": 2,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "sliding_window": 6,
    "tie_word_embeddings": True,
    "torch_dtype": "float16",
    "transformers_version": "4.40.1",
    "use_cache": True,
    "use_sliding_window": False,
    "vocab_size": 67,
}


def case_qwen2(case_dir):
    rd.run_case(case_dir, BATCH, POS, config=QWEN2_CONFIG, arch_fn=qwen2_arch, dtype="F16", seed=3201, shards=1,
         embed_std=0.4, qk_gain=1.4, bias_std=0.5,
         description="Qwen2 (Qwen2.5-0.5B layout): q/k/v biases without o_proj bias, 4 query / 2 kv heads, "
                     "tied embeddings, F16 weights; sliding_window 6 is present but use_sliding_window is "
                     "false, so every layer is plain causal",
         exercises=["q_proj/k_proj/v_proj biases (hook_q/k/v include them); no o_proj bias",
                    "grouped-query attention 4 / 2",
                    "use_sliding_window false: sliding_window (6 < 12 positions) must be IGNORED",
                    "rope_theta 1e6",
                    "tied embeddings: no lm_head.weight, unembedding = model.embed_tokens.weight",
                    "F16 storage", "vocab 67 (odd)"])


def check_qwen2(case_dir):
    return rd.check_common(
        case_dir, qwen2_arch, windows=[None, None], freqs=[(1.0, 1e6 ** (-2 / 8))] * 2, dtype="F16",
        tied=True, scale=8 ** -0.5,
        names_must=["model.layers.0.self_attn.q_proj.bias", "model.layers.1.self_attn.k_proj.bias",
                    "model.layers.1.self_attn.v_proj.bias"],
        names_absent=["lm_head.weight", "model.layers.0.self_attn.o_proj.bias"],
        config_must={"model_type": "qwen2", "use_sliding_window": False, "sliding_window": 6,
                     "tie_word_embeddings": True})


# ---------------------------------------------------------------------------
# qwen3
# ---------------------------------------------------------------------------

QWEN3_CONFIG = {
    "architectures": ["Qwen3ForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 62,
    "eos_token_id": 63,
    "head_dim": 10,
    "hidden_act": "silu",
    "hidden_size": 32,
    "initializer_range": 0.02,
    "intermediate_size": 32,
    "max_position_embeddings": 512,
    "max_window_layers": 2,
    "model_type": "qwen3",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "num_key_value_heads": 2,
    "rms_norm_eps": 1e-06,
    "rope_scaling": None,
    "rope_theta": 1000000,
    "sliding_window": None,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.51.0",
    "use_cache": True,
    "use_sliding_window": False,
    "vocab_size": 64,
}


def case_qwen3(case_dir):
    rd.run_case(case_dir, BATCH, POS, config=QWEN3_CONFIG, arch_fn=qwen3_arch, dtype="BF16", seed=3301, shards=1,
         embed_std=1.0, unembed_std=2.5 / math.sqrt(32), qk_gain=1.0, qk_norm_center=1.6, norm_sd=0.15,
         description="Qwen3 (Qwen3-8B layout, untied): per-head q_norm/k_norm RMSNorms (plain weight) "
                     "before rotary, explicit head_dim 10 with 4*10 = 40 != hidden_size 32, 4 query / 2 kv "
                     "heads, no biases, BF16 weights",
         exercises=["q_norm / k_norm: RMSNorm over head_dim per head, weight [head_dim], applied to the "
                    "projected q / k BEFORE rotary (hook_rot_q = rotary(normalized * w))",
                    "explicit head_dim 10: q_proj [40, 32], k_proj [20, 32], o_proj [32, 40]; scale 10^-0.5",
                    "grouped-query attention 4 / 2", "no q/k/v/o biases (attention_bias false)",
                    "sliding_window null, use_sliding_window false", "untied lm_head.weight",
                    "BF16 storage"])


def check_qwen3(case_dir):
    notes = rd.check_common(
        case_dir, qwen3_arch, windows=[None, None], freqs=[(1.0, 1e6 ** (-2 / 10))] * 2, dtype="BF16",
        tied=False, scale=10 ** -0.5,
        names_must=["model.layers.0.self_attn.q_norm.weight", "model.layers.1.self_attn.k_norm.weight",
                    "lm_head.weight"],
        names_absent=["model.layers.0.self_attn.q_proj.bias", "model.layers.0.self_attn.o_proj.bias"],
        config_must={"model_type": "qwen3", "head_dim": 10})
    # q_norm acts on hook_q per head: normalized * scale reproduces hook_q, over the last axis of 10
    E, _, _ = hc.read_safetensors(os.path.join(case_dir, "expected.safetensors"))
    q = E["blocks.0.attn.hook_q"]
    assert q.shape[2:] == (4, 10) and E["blocks.0.attn.q_norm.hook_scale"].shape[2:] == (4, 1)
    assert E["blocks.0.attn.k_norm.hook_scale"].shape[2:] == (2, 1)
    return notes


CASES = {"mistral": case_mistral, "qwen2": case_qwen2, "qwen3": case_qwen3}
CHECKS = {"mistral": check_mistral, "qwen2": check_qwen2, "qwen3": check_qwen3}

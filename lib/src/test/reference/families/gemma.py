"""Cases `gemma2` (model_type gemma2, Gemma2ForCausalLM) and `gemma3` (model_type gemma3_text,
Gemma3ForCausalLM).

Same flow as mistral_qwen.py: random checkpoint in the hub layout -> written -> read back ->
float64 forward of rms_decoder on the stored values, architecture resolved from config.json
by the rules below (as the HF Gemma 2 / Gemma 3 configuration and modeling files define them).

Both families:
  * every RMSNorm is Gemma's: normalized * (1 + w) with the raw stored weight w (zeros = identity);
  * four norms per layer: input_layernorm (-> ln1), post_attention_layernorm applied to the
    attention OUTPUT before the residual add (-> ln1_post; unlike Llama/Mistral/Qwen, where the
    tensor of that name is the pre-MLP norm), pre_feedforward_layernorm (-> ln2),
    post_feedforward_layernorm on the MLP output (-> ln2_post); model.norm (-> ln_final);
  * embeddings multiplied by sqrt(hidden_size) (HF rounds that factor to the activation dtype;
    here it is the float64 sqrt);
  * score scale query_pre_attn_scalar^-0.5 (not head_dim^-0.5); head_dim explicit;
  * gated MLP with hidden_activation (gelu_pytorch_tanh = tanh-approximated gelu);
  * tie_word_embeddings defaults to true (no lm_head.weight in the checkpoints).
Gemma 2: layer i is sliding iff i is even (i + 1 odd), unless config.layer_types lists the types;
  the window is sliding_window; attention scores are soft-capped by attn_logit_softcapping
  (cap * tanh(s / cap), after the scale, before the mask) and the logits by
  final_logit_softcapping; one rotary base rope_theta for all layers.
Gemma 3: layer_types when given, else layer i is sliding iff (i + 1) % sliding_window_pattern != 0
  (pattern default 6: five sliding layers then one global); q_norm / k_norm (Gemma RMSNorm over
  head_dim, 1 + w) on the projected q / k before rotary; sliding layers rotate with base
  rope_local_base_freq and NO scaling, global layers with rope_theta and rope_scaling (e.g. linear:
  all inverse frequencies divided by factor); soft-caps null (none applied).
"""
import math
import os

import numpy as np

import hf_common as hc
import rms_decoder as rd

BATCH, POS = 2, 12


def _base(c, layer_types, inv_freqs, **kw):
    H = c["num_attention_heads"]
    L = c["num_hidden_layers"]
    dh = c.get("head_dim", 256)
    windows = [c["sliding_window"] if t == "sliding_attention" else None for t in layer_types]
    return rd.Arch(n_layers=L, d_model=c["hidden_size"], n_heads=H, n_kv_heads=c.get("num_key_value_heads") or H,
                   head_dim=dh, d_mlp=c["intermediate_size"], vocab=c["vocab_size"],
                   eps=c.get("rms_norm_eps", 1e-6), act=c.get("hidden_activation", "gelu_pytorch_tanh"),
                   windows=windows, inv_freqs=inv_freqs, scale=float(c.get("query_pre_attn_scalar", 256)) ** -0.5,
                   tied=c.get("tie_word_embeddings", True), plus_one=True, post_norms=True,
                   embed_scale=math.sqrt(c["hidden_size"]), layer_types=list(layer_types), **kw)


def gemma2_arch(c):
    L = c["num_hidden_layers"]
    types = c.get("layer_types") or ["sliding_attention" if (i + 1) % 2 else "full_attention" for i in range(L)]
    inv = hc.rope_inv_freq(c.get("head_dim", 256), c.get("rope_theta", 10000.0), c.get("rope_scaling"))
    return _base(c, types, [inv] * L, attn_softcap=c.get("attn_logit_softcapping", 50.0),
                 final_softcap=c.get("final_logit_softcapping", 30.0))


def gemma3_arch(c):
    L = c["num_hidden_layers"]
    dh = c.get("head_dim", 256)
    pattern = c.get("sliding_window_pattern", 6)
    types = c.get("layer_types") or ["sliding_attention" if (i + 1) % pattern else "full_attention"
                                     for i in range(L)]
    local = hc.rope_inv_freq(dh, c.get("rope_local_base_freq", 10000.0))
    glob = hc.rope_inv_freq(dh, c.get("rope_theta", 1000000.0), c.get("rope_scaling"))
    inv = [local if t == "sliding_attention" else glob for t in types]
    return _base(c, types, inv, qk_norm=True, attn_softcap=c.get("attn_logit_softcapping"),
                 final_softcap=c.get("final_logit_softcapping"))


def _check_gemma_specifics(case_dir, qk_norm):
    """Embedding scale, the (1 + w) convention and the norm placement, from the files alone."""
    config, W, _ = hc.read_model(os.path.join(case_dir, "model"))
    E, _, _ = hc.read_safetensors(os.path.join(case_dir, "expected.safetensors"))
    d = config["hidden_size"]
    assert np.array_equal(E["hook_embed"], W["model.embed_tokens.weight"][E["tokens"]] * math.sqrt(d))
    for i in range(config["num_hidden_layers"]):
        p, P = f"model.layers.{i}.", f"blocks.{i}."
        n = E[P + "ln1.hook_normalized"]
        w = W[p + "input_layernorm.weight"]
        q = E[P + "attn.hook_q"].reshape(n.shape[:2] + (-1,))
        assert np.allclose(q, (n * (1 + w)) @ W[p + "self_attn.q_proj.weight"].T, rtol=1e-12, atol=1e-12)
        assert not np.allclose(q, (n * w) @ W[p + "self_attn.q_proj.weight"].T, rtol=1e-3, atol=1e-3)
        # post_attention_layernorm normalizes the attention output (sum of per-head results)
        s = E[P + "attn.hook_result"].sum(axis=2)
        assert np.allclose(E[P + "ln1_post.hook_normalized"] * E[P + "ln1_post.hook_scale"], s, rtol=1e-11,
                           atol=1e-12)
        assert np.allclose(E[P + "hook_attn_out"],
                           E[P + "ln1_post.hook_normalized"] * (1 + W[p + "post_attention_layernorm.weight"]),
                           rtol=1e-12, atol=1e-12)
        # pre_feedforward_layernorm feeds the MLP; post_feedforward_layernorm gives hook_mlp_out
        x2 = E[P + "ln2.hook_normalized"] * (1 + W[p + "pre_feedforward_layernorm.weight"])
        assert np.allclose(E[P + "mlp.hook_pre"], x2 @ W[p + "mlp.gate_proj.weight"].T, rtol=1e-12, atol=1e-12)
        assert np.allclose(E[P + "hook_mlp_out"],
                           E[P + "ln2_post.hook_normalized"] * (1 + W[p + "post_feedforward_layernorm.weight"]),
                           rtol=1e-12, atol=1e-12)
        pre = E[P + "mlp.hook_pre"]
        assert np.allclose(E[P + "mlp.hook_post"], hc.gelu_tanh(pre) * E[P + "mlp.hook_pre_linear"],
                           rtol=1e-12, atol=1e-12)
        if qk_norm:
            qn = E[P + "attn.q_norm.hook_normalized"] * E[P + "attn.q_norm.hook_scale"]
            assert np.allclose(qn, E[P + "attn.hook_q"], rtol=1e-11, atol=1e-12)
    return ["embed x sqrt(d), (1+w) norms, post-norm placement checked"]


# ---------------------------------------------------------------------------
# gemma2
# ---------------------------------------------------------------------------

GEMMA2_CONFIG = {
    "architectures": ["Gemma2ForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "attn_logit_softcapping": 4.0,
    "bos_token_id": 2,
    "cache_implementation": "hybrid",
    "eos_token_id": 1,
    "final_logit_softcapping": 5.0,
    "head_dim": 10,
    "hidden_act": "gelu_pytorch_tanh",
    "hidden_activation": "gelu_pytorch_tanh",
    "hidden_size": 32,
    "initializer_range": 0.02,
    "intermediate_size": 24,
    "max_position_embeddings": 256,
    "model_type": "gemma2",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "num_key_value_heads": 2,
    "pad_token_id": 0,
    "query_pre_attn_scalar": 16,
    "rms_norm_eps": 1e-06,
    "rope_theta": 10000.0,
    "sliding_window": 4,
    "torch_dtype": "float32",
    "transformers_version": "4.42.4",
    "use_cache": True,
    "vocab_size": 64,
}


def case_gemma2(case_dir):
    rd.run_case(case_dir, BATCH, POS, config=GEMMA2_CONFIG, arch_fn=gemma2_arch, dtype="F32", seed=4201, shards=2,
         embed_std=4.0 / math.sqrt(32), qk_gain=2.4,
         description="Gemma 2 (gemma-2-2b layout): (1+w) RMSNorms incl. post-attention and post-feedforward "
                     "norms, embeddings x sqrt(32), attention soft-cap 4 and final soft-cap 5 both active, "
                     "layer 0 sliding (window 4 < 12 positions) and layer 1 global as HF assigns them, "
                     "query_pre_attn_scalar 16 != head_dim 10, 4 query / 2 kv heads, tied, F32 in 2 shards",
         exercises=["Gemma RMSNorm normalized * (1 + w) (raw weights around 0)",
                    "post_attention_layernorm on the attention output (ln1_post), pre_feedforward_layernorm "
                    "(ln2), post_feedforward_layernorm on the MLP output (ln2_post)",
                    "hook_embed = embed_tokens row * sqrt(hidden_size)",
                    "attn_logit_softcapping 4.0: scores = 4 tanh(s / 4) before the mask",
                    "final_logit_softcapping 5.0 on the logits",
                    "no layer_types in config: layer 0 (even) sliding with window 4, layer 1 full causal",
                    "scale query_pre_attn_scalar^-0.5 = 0.25, not head_dim^-0.5",
                    "explicit head_dim 10 with 4*10 = 40 != hidden_size 32",
                    "grouped-query 4 / 2", "gelu_pytorch_tanh gated MLP (hidden_activation)",
                    "tie_word_embeddings absent from config (Gemma default true): no lm_head.weight",
                    "F32 storage sharded into 2 files with model.safetensors.index.json"])


def check_gemma2(case_dir):
    notes = rd.check_common(
        case_dir, gemma2_arch, windows=[4, None], freqs=[(1.0, 10000 ** (-2 / 10))] * 2, dtype="F32",
        tied=True, scale=0.25, attn_softcap=4.0, final_softcap=5.0,
        names_must=["model.layers.0.pre_feedforward_layernorm.weight",
                    "model.layers.1.post_feedforward_layernorm.weight",
                    "model.layers.1.post_attention_layernorm.weight"],
        names_absent=["lm_head.weight", "model.layers.0.self_attn.q_norm.weight"],
        config_must={"model_type": "gemma2", "query_pre_attn_scalar": 16, "head_dim": 10, "sliding_window": 4})
    config, _, _ = hc.read_model(os.path.join(case_dir, "model"))
    assert "tie_word_embeddings" not in config and "layer_types" not in config
    assert os.path.exists(os.path.join(case_dir, "model", "model.safetensors.index.json"))
    return notes + _check_gemma_specifics(case_dir, qk_norm=False)


# ---------------------------------------------------------------------------
# gemma3
# ---------------------------------------------------------------------------

GEMMA3_CONFIG = {
    "architectures": ["Gemma3ForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "attn_logit_softcapping": None,
    "bos_token_id": 2,
    "cache_implementation": "hybrid",
    "eos_token_id": [1, 60],
    "final_logit_softcapping": None,
    "head_dim": 8,
    "hidden_activation": "gelu_pytorch_tanh",
    "hidden_size": 32,
    "initializer_range": 0.02,
    "intermediate_size": 32,
    "max_position_embeddings": 32768,
    "model_type": "gemma3_text",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "num_key_value_heads": 1,
    "pad_token_id": 0,
    "query_pre_attn_scalar": 12,
    "rms_norm_eps": 1e-06,
    "rope_local_base_freq": 10000.0,
    "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
    "rope_theta": 1000000.0,
    "sliding_window": 5,
    "sliding_window_pattern": 2,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.50.0.dev0",
    "use_cache": True,
    "vocab_size": 64,
}


def case_gemma3(case_dir):
    rd.run_case(case_dir, BATCH, POS, config=GEMMA3_CONFIG, arch_fn=gemma3_arch, dtype="BF16", seed=4301, shards=1,
         embed_std=1.5 / math.sqrt(32), qk_gain=1.0, qk_norm_center=0.6,
         description="Gemma 3 text (gemma-3-1b layout, Gemma3ForCausalLM): q_norm/k_norm with (1+w) before "
                     "rotary, sliding_window_pattern 2 (no layer_types): layer 0 sliding (window 5 < 12, "
                     "rope_local_base_freq 10000, unscaled) and layer 1 global (rope_theta 1e6 with linear "
                     "rope_scaling factor 8), post norms, embeddings x sqrt(32), soft-caps null, "
                     "query_pre_attn_scalar 12 != head_dim 8, 4 query heads / 1 kv head, tied, BF16",
         exercises=["q_norm / k_norm: Gemma RMSNorm over head_dim with (1 + w), on projected q / k before rotary",
                    "layer types from sliding_window_pattern 2 (layer_types absent): layer i sliding iff "
                    "(i + 1) % 2 != 0 -> [sliding, full]",
                    "sliding layer: window 5, rotary base rope_local_base_freq 10000, no rope scaling",
                    "global layer: full causal, rotary base rope_theta 1e6 with rope_scaling linear factor 8 "
                    "(inverse frequencies / 8)",
                    "attn_logit_softcapping and final_logit_softcapping null: no capping",
                    "(1+w) RMSNorms incl. post_attention_layernorm and post_feedforward_layernorm",
                    "hook_embed = embed_tokens row * sqrt(hidden_size)",
                    "scale query_pre_attn_scalar^-0.5 = 12^-0.5", "multi-query: 4 query heads, 1 kv head",
                    "tied embeddings: no lm_head.weight", "BF16 storage"])


def check_gemma3(case_dir):
    notes = rd.check_common(
        case_dir, gemma3_arch, windows=[5, None],
        freqs=[(1.0, 10000 ** (-2 / 8)), (1.0 / 8, 1e6 ** (-2 / 8) / 8)], dtype="BF16",
        tied=True, scale=12 ** -0.5,
        names_must=["model.layers.0.self_attn.q_norm.weight", "model.layers.1.self_attn.k_norm.weight",
                    "model.layers.0.pre_feedforward_layernorm.weight",
                    "model.layers.1.post_feedforward_layernorm.weight"],
        names_absent=["lm_head.weight", "model.layers.0.self_attn.q_proj.bias"],
        config_must={"model_type": "gemma3_text", "sliding_window_pattern": 2, "sliding_window": 5,
                     "rope_scaling": {"factor": 8.0, "rope_type": "linear"}, "rope_local_base_freq": 10000.0,
                     "attn_logit_softcapping": None, "final_logit_softcapping": None})
    config, _, _ = hc.read_model(os.path.join(case_dir, "model"))
    assert "layer_types" not in config
    return notes + _check_gemma_specifics(case_dir, qk_norm=True)


CASES = {"gemma2": case_gemma2, "gemma3": case_gemma3}
CHECKS = {"gemma2": check_gemma2, "gemma3": check_gemma3}

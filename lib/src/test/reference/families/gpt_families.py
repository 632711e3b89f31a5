"""EleutherAI families: GPT-Neo (gpt_neo), GPT-J (gptj) and GPT-NeoX / Pythia (gpt_neox).

Each forward function takes the config dict exactly as read back from config.json (the
family's own field names, with the defaults its configuration class applies when a field is
missing) and the weights as read back and decoded from the safetensors files, and returns
(logits, cache of hook activations)."""
import math
import os

import numpy as np

import hf_common as hc

BATCH, POS = 2, 12


# ---------------------------------------------------------------------------
# forward passes
# ---------------------------------------------------------------------------

def expand_attention_types(attention_types):
    """GPT-Neo's [[["global", "local"], n], ...] -> per-layer list (each pattern repeated n times)."""
    out = []
    for kinds, n in attention_types:
        for _ in range(n):
            out.extend(kinds)
    return out


def forward_gpt_neo(cfg, W, tokens):
    d, H = cfg["hidden_size"], cfg["num_heads"]
    dh = d // H
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    act = cfg.get("activation_function", "gelu_new")
    window = cfg.get("window_size", 256)
    kinds = expand_attention_types(cfg["attention_types"])
    assert len(kinds) == cfg["num_layers"]
    b, p = tokens.shape
    c = {}
    emb = W["transformer.wte.weight"][tokens]
    pos = np.ascontiguousarray(np.broadcast_to(W["transformer.wpe.weight"][:p], (b, p, d)))
    c["hook_embed"], c["hook_pos_embed"] = emb, pos
    x = emb + pos
    for l in range(cfg["num_layers"]):
        P, t = f"blocks.{l}.", f"transformer.h.{l}."
        a = t + "attn.attention."
        c[P + "hook_resid_pre"] = x
        h = hc.layer_norm(x, W[t + "ln_1.weight"], W[t + "ln_1.bias"], eps, c, P + "ln1")
        q = hc.split_heads(hc.linear(h, W[a + "q_proj.weight"]), H)
        k = hc.split_heads(hc.linear(h, W[a + "k_proj.weight"]), H)
        v = hc.split_heads(hc.linear(h, W[a + "v_proj.weight"]), H)
        # GPT-Neo does not scale the scores; local layers see the last window_size keys
        att = hc.attention(q, k, v, hc.out_proj_per_head(W[a + "out_proj.weight"], H), c, P + "attn.",
                           scale=1.0, window=window if kinds[l] == "local" else None)
        attn_out = att + W[a + "out_proj.bias"]
        c[P + "hook_attn_out"] = attn_out
        mid = x + attn_out
        c[P + "hook_resid_mid"] = mid
        h2 = hc.layer_norm(mid, W[t + "ln_2.weight"], W[t + "ln_2.bias"], eps, c, P + "ln2")
        mlp_out = hc.mlp_plain(h2, W[t + "mlp.c_fc.weight"], W[t + "mlp.c_fc.bias"],
                               W[t + "mlp.c_proj.weight"], W[t + "mlp.c_proj.bias"], act, c, P + "mlp.")
        c[P + "hook_mlp_out"] = mlp_out
        x = mid + mlp_out
        c[P + "hook_resid_post"] = x
    f = hc.layer_norm(x, W["transformer.ln_f.weight"], W["transformer.ln_f.bias"], eps, c, "ln_final")
    unembed = W["transformer.wte.weight"] if cfg.get("tie_word_embeddings", True) else W["lm_head.weight"]
    return f @ unembed.T, c


def forward_gptj(cfg, W, tokens):
    d, H = cfg["n_embd"], cfg["n_head"]
    dh = d // H
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    act = cfg.get("activation_function", "gelu_new")
    rot = cfg.get("rotary_dim") or dh
    inv = hc.rope_inv_freq(rot, 10000.0)  # GPT-J's base is fixed at 10000, not a config field
    c = {}
    x = W["transformer.wte.weight"][tokens]
    c["hook_embed"] = x
    for l in range(cfg["n_layer"]):
        P, t = f"blocks.{l}.", f"transformer.h.{l}."
        a = t + "attn."
        c[P + "hook_resid_pre"] = x
        h = hc.layer_norm(x, W[t + "ln_1.weight"], W[t + "ln_1.bias"], eps, c, P + "ln1")
        q = hc.split_heads(hc.linear(h, W[a + "q_proj.weight"]), H)
        k = hc.split_heads(hc.linear(h, W[a + "k_proj.weight"]), H)
        v = hc.split_heads(hc.linear(h, W[a + "v_proj.weight"]), H)
        attn_out = hc.attention(q, k, v, hc.out_proj_per_head(W[a + "out_proj.weight"], H), c, P + "attn.",
                                scale=1.0 / math.sqrt(dh), rotary={"inv_freq": inv, "interleaved": True})
        c[P + "hook_attn_out"] = attn_out  # out_proj has no bias
        # parallel block, ONE norm: the MLP reads the same ln_1 output
        mlp_out = hc.mlp_plain(h, W[t + "mlp.fc_in.weight"], W[t + "mlp.fc_in.bias"],
                               W[t + "mlp.fc_out.weight"], W[t + "mlp.fc_out.bias"], act, c, P + "mlp.")
        c[P + "hook_mlp_out"] = mlp_out
        x = x + attn_out + mlp_out
        c[P + "hook_resid_post"] = x
    f = hc.layer_norm(x, W["transformer.ln_f.weight"], W["transformer.ln_f.bias"], eps, c, "ln_final")
    if cfg.get("tie_word_embeddings", True):
        logits = f @ W["transformer.wte.weight"].T
    else:
        logits = f @ W["lm_head.weight"].T
    return logits + W["lm_head.bias"], c


def forward_gpt_neox(cfg, W, tokens):
    d, H = cfg["hidden_size"], cfg["num_attention_heads"]
    dh = d // H
    eps = cfg.get("layer_norm_eps", 1e-5)
    act = cfg.get("hidden_act", "gelu")
    rot = int(dh * cfg.get("rotary_pct", 0.25))
    inv = hc.rope_inv_freq(rot, cfg.get("rotary_emb_base", 10000), cfg.get("rope_scaling"))
    parallel = cfg.get("use_parallel_residual", True)
    bias = cfg.get("attention_bias", True)
    c = {}
    x = W["gpt_neox.embed_in.weight"][tokens]
    c["hook_embed"] = x
    for l in range(cfg["num_hidden_layers"]):
        P, t = f"blocks.{l}.", f"gpt_neox.layers.{l}."
        a = t + "attention."
        c[P + "hook_resid_pre"] = x
        h = hc.layer_norm(x, W[t + "input_layernorm.weight"], W[t + "input_layernorm.bias"], eps, c, P + "ln1")
        # fused projection: output features grouped per head as [H, 3, dh] (q, k, v of head 0, then head 1, ...)
        qkv = hc.linear(h, W[a + "query_key_value.weight"], W[a + "query_key_value.bias"] if bias else None)
        qkv = qkv.reshape(qkv.shape[:-1] + (H, 3 * dh))
        q, k, v = qkv[..., :dh], qkv[..., dh:2 * dh], qkv[..., 2 * dh:]
        att = hc.attention(q, k, v, hc.out_proj_per_head(W[a + "dense.weight"], H), c, P + "attn.",
                           scale=1.0 / math.sqrt(dh), rotary={"inv_freq": inv, "interleaved": False})
        attn_out = att + W[a + "dense.bias"] if bias else att
        c[P + "hook_attn_out"] = attn_out
        ln2w, ln2b = W[t + "post_attention_layernorm.weight"], W[t + "post_attention_layernorm.bias"]
        mw = (W[t + "mlp.dense_h_to_4h.weight"], W[t + "mlp.dense_h_to_4h.bias"],
              W[t + "mlp.dense_4h_to_h.weight"], W[t + "mlp.dense_4h_to_h.bias"])
        if parallel:
            h2 = hc.layer_norm(x, ln2w, ln2b, eps, c, P + "ln2")
            mlp_out = hc.mlp_plain(h2, *mw, act, c, P + "mlp.")
            x = x + attn_out + mlp_out
        else:
            mid = x + attn_out
            c[P + "hook_resid_mid"] = mid
            h2 = hc.layer_norm(mid, ln2w, ln2b, eps, c, P + "ln2")
            mlp_out = hc.mlp_plain(h2, *mw, act, c, P + "mlp.")
            x = mid + mlp_out
        c[P + "hook_mlp_out"] = mlp_out
        c[P + "hook_resid_post"] = x
    f = hc.layer_norm(x, W["gpt_neox.final_layer_norm.weight"], W["gpt_neox.final_layer_norm.bias"],
                      eps, c, "ln_final")
    unembed = W["gpt_neox.embed_in.weight"] if cfg.get("tie_word_embeddings", False) else W["embed_out.weight"]
    return f @ unembed.T, c


# ---------------------------------------------------------------------------
# random weights
# ---------------------------------------------------------------------------

class Builder:
    """Collects tensors name -> (float64 values exactly representable in dtype, dtype)."""

    def __init__(self, rng, dtype):
        self.rng, self.dtype, self.t = rng, dtype, {}

    def normal(self, name, std, *shape, mean=0.0):
        self.t[name] = (hc.quantize(mean + std * self.rng.standard_normal(shape), self.dtype), self.dtype)

    def ln(self, prefix, d):
        self.normal(prefix + ".weight", 0.1, d, mean=1.0)
        self.normal(prefix + ".bias", 0.1, d)

    def raw(self, name, value, dtype):
        self.t[name] = (value, dtype)


def qk_std(d, dh, scaled, target=2.0):
    """Std for W_Q/W_K entries so that unit-variance normalized inputs give score std ~target."""
    return math.sqrt(target / (d * (1.0 if scaled else math.sqrt(dh))))


def finish(case_dir, *, family, seed, description, exercises, tensors, config, shards, rng, forward,
           hooks):
    model_dir = os.path.join(case_dir, "model")
    hc.write_model(model_dir, tensors, config, shards=shards)
    cfg, W, _ = hc.read_model(model_dir)  # the forward pass runs on what was stored
    tokens = hc.rand_tokens(rng, BATCH, POS, cfg["vocab_size"])
    logits, cache = forward(cfg, W, tokens)
    hc.write_case(case_dir, family=family, description=description, seed=seed, what_it_exercises=exercises,
                  tokens=tokens, logits=logits, cache=cache, expected_hooks=hooks)


# ---------------------------------------------------------------------------
# cases
# ---------------------------------------------------------------------------

def case_gpt_neo(case_dir):
    seed = 11001
    rng = np.random.default_rng(seed)
    d, H, L, V, m, npos, window = 32, 2, 2, 64, 48, 32, 4
    dh = d // H
    config = {
        "activation_function": "gelu_new",
        "architectures": ["GPTNeoForCausalLM"],
        "attention_dropout": 0,
        "attention_layers": ["global", "local"],
        "attention_types": [[["global", "local"], 1]],
        "bos_token_id": V - 1,
        "embed_dropout": 0,
        "eos_token_id": V - 1,
        "gradient_checkpointing": False,
        "hidden_size": d,
        "initializer_range": 0.02,
        "intermediate_size": m,
        "layer_norm_epsilon": 1e-05,
        "max_position_embeddings": npos,
        "model_type": "gpt_neo",
        "num_heads": H,
        "num_layers": L,
        "resid_dropout": 0,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "torch_dtype": "float32",
        "transformers_version": "4.9.0.dev0",
        "use_cache": True,
        "vocab_size": V,
        "window_size": window,
    }
    B = Builder(rng, "F32")
    B.normal("transformer.wte.weight", 0.4, V, d)
    B.normal("transformer.wpe.weight", 0.4, npos, d)
    sqk = qk_std(d, dh, scaled=False)
    kinds = expand_attention_types(config["attention_types"])
    for l in range(L):
        t = f"transformer.h.{l}."
        a = t + "attn.attention."
        B.ln(t + "ln_1", d)
        B.normal(a + "q_proj.weight", sqk, d, d)
        B.normal(a + "k_proj.weight", sqk, d, d)
        B.normal(a + "v_proj.weight", 1 / math.sqrt(d), d, d)
        B.normal(a + "out_proj.weight", 1 / math.sqrt(d), d, d)
        B.normal(a + "out_proj.bias", 0.1, d)
        # buffers old GPT-Neo checkpoints carry: uint8 causal (local: banded) mask and the -1e9 fill value
        i, j = np.arange(npos)[:, None], np.arange(npos)[None, :]
        band = (j <= i) & ((i - j < window) if kinds[l] == "local" else True)
        B.raw(a + "bias", band.astype(np.int64).reshape(1, 1, npos, npos), "U8")
        B.raw(a + "masked_bias", np.array(-1e9), "F32")
        B.ln(t + "ln_2", d)
        B.normal(t + "mlp.c_fc.weight", 1 / math.sqrt(d), m, d)
        B.normal(t + "mlp.c_fc.bias", 0.1, m)
        B.normal(t + "mlp.c_proj.weight", 1 / math.sqrt(m), d, m)
        B.normal(t + "mlp.c_proj.bias", 0.1, d)
    B.ln("transformer.ln_f", d)
    finish(case_dir, family="gpt_neo", seed=seed, rng=rng, forward=forward_gpt_neo, shards=1,
           tensors=B.t, config=config,
           hooks=hc.hook_names(L, pos_embed=True),
           description=f"GPT-Neo: {L} layers (global, local), hidden {d}, {H} heads x {dh}, MLP {m}, vocab {V}, "
                       f"window_size {window} < {POS} tokens, learned positions, F32, tied lm_head (absent).",
           exercises=["learned position embeddings (hook_pos_embed, positions 0..p-1)",
                      "attention_types [[['global','local'],1]] expanded to layer 0 global, layer 1 local",
                      f"local layer: key j visible from query i iff 0 <= i-j < window_size ({window})",
                      "UNSCALED attention scores (no 1/sqrt(d_head))",
                      "q/k/v projections without bias, out_proj with bias",
                      "gelu_new", "tied embeddings: no lm_head.weight in the file",
                      "buffers attn.attention.bias (U8 [1,1,32,32]) and attn.attention.masked_bias "
                      "(F32 scalar, shape []) present and to be ignored",
                      "explicit intermediate_size"])


def case_gptj(case_dir):
    seed = 12002
    rng = np.random.default_rng(seed)
    d, H, L, V, m, rot, npos = 32, 2, 2, 80, 64, 8, 64
    dh = d // H
    config = {
        "activation_function": "gelu_new",
        "architectures": ["GPTJForCausalLM"],
        "attn_pdrop": 0.0,
        "bos_token_id": V - 1,
        "embd_pdrop": 0.0,
        "eos_token_id": V - 1,
        "gradient_checkpointing": False,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gptj",
        "n_embd": d,
        "n_head": H,
        "n_inner": m,
        "n_layer": L,
        "n_positions": npos,
        "resid_pdrop": 0.0,
        "rotary": True,
        "rotary_dim": rot,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "tie_word_embeddings": False,
        "tokenizer_class": "GPT2Tokenizer",
        "torch_dtype": "float16",
        "transformers_version": "4.18.0.dev0",
        "use_cache": True,
        "vocab_size": V,
    }
    B = Builder(rng, "F16")
    B.normal("transformer.wte.weight", 1.0, V, d)
    sqk = qk_std(d, dh, scaled=True)
    for l in range(L):
        t = f"transformer.h.{l}."
        a = t + "attn."
        B.ln(t + "ln_1", d)
        B.normal(a + "q_proj.weight", sqk, d, d)
        B.normal(a + "k_proj.weight", sqk, d, d)
        B.normal(a + "v_proj.weight", 1 / math.sqrt(d), d, d)
        B.normal(a + "out_proj.weight", 1 / math.sqrt(d), d, d)
        B.normal(t + "mlp.fc_in.weight", 1 / math.sqrt(d), m, d)
        B.normal(t + "mlp.fc_in.bias", 0.1, m)
        B.normal(t + "mlp.fc_out.weight", 1 / math.sqrt(m), d, m)
        B.normal(t + "mlp.fc_out.bias", 0.1, d)
    B.ln("transformer.ln_f", d)
    B.normal("lm_head.weight", 1 / math.sqrt(d), V, d)
    B.normal("lm_head.bias", 0.3, V)
    finish(case_dir, family="gptj", seed=seed, rng=rng, forward=forward_gptj, shards=1, tensors=B.t,
           config=config, hooks=hc.hook_names(L, parallel=True, shared_norm=True, rotary=True),
           description=f"GPT-J: {L} layers, n_embd {d}, {H} heads x {dh}, rotary_dim {rot} < head dim "
                       f"(interleaved pairs), n_inner {m}, vocab {V}, parallel block with one LayerNorm, "
                       f"lm_head with bias, untied, F16.",
           exercises=["rotary on the first rotary_dim=8 of 16 head features, base 10000",
                      "INTERLEAVED rotary pairs (2i, 2i+1) with sin/cos repeated per pair (rotate every two)",
                      "parallel block with ONE shared ln_1: resid_post = resid_pre + attn_out + mlp_out, "
                      "no hook_resid_mid and no ln2 hooks",
                      "no q/k/v/out_proj biases; MLP biases",
                      "lm_head.bias added to the logits", "untied lm_head.weight",
                      "F16 storage (torch_dtype float16)", "explicit n_inner"])


def neox_config(d, H, L, V, m, npos, rotary_pct, parallel, dtype_name):
    return {
        "architectures": ["GPTNeoXForCausalLM"],
        "bos_token_id": 0,
        "classifier_dropout": 0.1,
        "eos_token_id": 0,
        "hidden_act": "gelu",
        "hidden_size": d,
        "initializer_range": 0.02,
        "intermediate_size": m,
        "layer_norm_eps": 1e-05,
        "max_position_embeddings": npos,
        "model_type": "gpt_neox",
        "num_attention_heads": H,
        "num_hidden_layers": L,
        "rotary_emb_base": 10000,
        "rotary_pct": rotary_pct,
        "tie_word_embeddings": False,
        "torch_dtype": dtype_name,
        "transformers_version": "4.24.0",
        "use_cache": True,
        "use_parallel_residual": parallel,
        "vocab_size": V,
    }


def neox_weights(B, d, H, L, V, m, npos, buffers):
    """buffers: None, or the rotary dimension (then the old-checkpoint buffers are written too)."""
    dh = d // H
    B.normal("gpt_neox.embed_in.weight", 1.0, V, d)
    sqk = qk_std(d, dh, scaled=True)
    for l in range(L):
        t = f"gpt_neox.layers.{l}."
        a = t + "attention."
        B.ln(t + "input_layernorm", d)
        # fused weight rows in per-head order [H, 3, dh]: q rows get the query scale, k the key
        # scale, v the value scale
        stds = np.array([sqk, sqk, 1 / math.sqrt(d)])
        w = B.rng.standard_normal((H, 3, dh, d)) * stds[None, :, None, None]
        B.raw(a + "query_key_value.weight", hc.quantize(w.reshape(3 * d, d), B.dtype), B.dtype)
        B.normal(a + "query_key_value.bias", 0.1, 3 * d)
        B.normal(a + "dense.weight", 1 / math.sqrt(d), d, d)
        B.normal(a + "dense.bias", 0.1, d)
        if buffers:
            rot = buffers
            B.raw(a + "bias", np.tril(np.ones((npos, npos), dtype=bool)).reshape(1, 1, npos, npos), "BOOL")
            B.raw(a + "masked_bias", np.array(-1e9), "F32")
            B.raw(a + "rotary_emb.inv_freq", hc.quantize(hc.rope_inv_freq(rot, 10000), "F32"), "F32")
        B.ln(t + "post_attention_layernorm", d)
        B.normal(t + "mlp.dense_h_to_4h.weight", 1 / math.sqrt(d), m, d)
        B.normal(t + "mlp.dense_h_to_4h.bias", 0.1, m)
        B.normal(t + "mlp.dense_4h_to_h.weight", 1 / math.sqrt(m), d, m)
        B.normal(t + "mlp.dense_4h_to_h.bias", 0.1, d)
    B.ln("gpt_neox.final_layer_norm", d)
    B.normal("embed_out.weight", 1 / math.sqrt(d), V, d)


def case_pythia(case_dir):
    seed = 13003
    rng = np.random.default_rng(seed)
    d, H, L, V, m, npos, pct = 32, 2, 2, 96, 64, 64, 0.25
    dh = d // H
    rot = int(dh * pct)
    B = Builder(rng, "F16")
    neox_weights(B, d, H, L, V, m, npos, buffers=rot)
    finish(case_dir, family="gpt_neox", seed=seed, rng=rng, forward=forward_gpt_neox, shards=2, tensors=B.t,
           config=neox_config(d, H, L, V, m, npos, pct, True, "float16"),
           hooks=hc.hook_names(L, parallel=True, rotary=True),
           description=f"Pythia-style GPT-NeoX: {L} layers, hidden {d}, {H} heads x {dh}, rotary_pct {pct} "
                       f"(rotary on {rot} of {dh} features, rotate-half), parallel residual with two "
                       f"LayerNorms, fused query_key_value, exact gelu, untied embed_out, vocab {V}, F16, "
                       f"2 shards, old-checkpoint buffers.",
           exercises=["rotary_pct 0.25: rotary on the first int(16*0.25)=4 head features, rotate-half pairs "
                      "(i, i+2), rotary_emb_base 10000",
                      "use_parallel_residual true: attn reads input_layernorm(x), MLP reads "
                      "post_attention_layernorm(x) (ln2 hooks on resid_pre), no hook_resid_mid",
                      "fused query_key_value weight [3*hidden, hidden] and bias whose output is viewed "
                      "[H, 3*dh]: per head q, k, v slices (NOT [q all heads; k all heads; v all heads])",
                      "q/k/v and dense biases", "hidden_act gelu (exact erf)",
                      "untied embed_out.weight", "F16 storage",
                      "sharded: model-00001-of-00002 / model-00002-of-00002 + model.safetensors.index.json",
                      "buffers attention.bias (BOOL [1,1,64,64]), attention.masked_bias (F32 scalar []), "
                      "attention.rotary_emb.inv_freq (F32 [2]) present and to be ignored"])


def case_pythia_sequential(case_dir):
    seed = 14004
    rng = np.random.default_rng(seed)
    d, H, L, V, m, npos, pct = 32, 4, 2, 64, 48, 64, 1.0
    dh = d // H
    B = Builder(rng, "F16")
    neox_weights(B, d, H, L, V, m, npos, buffers=None)
    finish(case_dir, family="gpt_neox", seed=seed, rng=rng, forward=forward_gpt_neox, shards=1, tensors=B.t,
           config=neox_config(d, H, L, V, m, npos, pct, False, "float16"),
           hooks=hc.hook_names(L, rotary=True),
           description=f"GPT-NeoX with use_parallel_residual false (sequential block): {L} layers, hidden {d}, "
                       f"{H} heads x {dh}, rotary_pct 1.0 (all {dh} features), vocab {V}, F16, single file, "
                       f"no buffers.",
           exercises=["use_parallel_residual false: resid_mid = resid_pre + attn_out, ln2 on resid_mid",
                      "rotary_pct 1.0: rotate-half over the whole head",
                      "fused query_key_value [H, 3, dh] layout", "exact gelu", "untied embed_out",
                      "single model.safetensors without buffers"])


CASES = {
    "gpt_neo": case_gpt_neo,
    "gptj": case_gptj,
    "pythia": case_pythia,
    "pythia_sequential": case_pythia_sequential,
}


# ---------------------------------------------------------------------------
# family-specific checks (on the written files)
# ---------------------------------------------------------------------------

def _load(case_dir):
    cfg, W, D = hc.read_model(os.path.join(case_dir, "model"))
    E, _, _ = hc.read_safetensors(os.path.join(case_dir, "expected.safetensors"))
    return cfg, W, D, E


def _replay(case_dir, forward):
    """Re-run the forward pass from the files and require every tensor bit for bit."""
    cfg, W, _, E = _load(case_dir)
    logits, cache = forward(cfg, W, E["tokens"])
    assert np.array_equal(logits, E["logits"])
    for k, v in cache.items():
        assert np.array_equal(v, E[k]), k
    return cfg, W, E


def _angles(x, rx, interleaved, r):
    """Rotation angle applied to each pair at each position, from a tensor before and after rotary."""
    if interleaved:
        z0, z1 = x[..., 0:r:2] + 1j * x[..., 1:r:2], rx[..., 0:r:2] + 1j * rx[..., 1:r:2]
    else:
        z0, z1 = x[..., :r // 2] + 1j * x[..., r // 2:r], rx[..., :r // 2] + 1j * rx[..., r // 2:r]
    return np.angle(z1 / z0)  # [b, p, heads, r/2]


def check_gpt_neo(case_dir):
    cfg, W, E = _replay(case_dir, forward_gpt_neo)
    kinds = expand_attention_types(cfg["attention_types"])
    p = E["tokens"].shape[1]
    i, j = np.arange(p)[:, None], np.arange(p)[None, :]
    for l, kind in enumerate(kinds):
        sc = E[f"blocks.{l}.attn.hook_attn_scores"]
        vis = (j <= i) & ((i - j < cfg["window_size"]) if kind == "local" else True)
        assert np.array_equal(np.isneginf(sc), np.broadcast_to(~vis, sc.shape)), l
        q, k = E[f"blocks.{l}.attn.hook_q"], E[f"blocks.{l}.attn.hook_k"]
        raw = np.einsum("bqhd,bkhd->bhqk", q, k)
        assert np.allclose(sc[:, :, vis], raw[:, :, vis], rtol=1e-14, atol=1e-14), "scores are not unscaled q.k"
    assert np.array_equal(E["hook_pos_embed"][0], W["transformer.wpe.weight"][:p])
    return ["replay bit-identical", f"layer kinds {kinds}, window {cfg['window_size']}, unscaled scores"]


def check_gptj(case_dir):
    cfg, W, E = _replay(case_dir, forward_gptj)
    r = cfg["rotary_dim"]
    inv = 1.0 / 10000.0 ** (np.arange(r // 2) * 2.0 / r)
    p = E["tokens"].shape[1]
    for l in range(cfg["n_layer"]):
        P = f"blocks.{l}.attn."
        ang = _angles(E[P + "hook_q"], E[P + "hook_rot_q"], True, r)
        want = np.angle(np.exp(1j * np.arange(p)[:, None] * inv[None, :]))
        assert np.allclose(ang, want[None, :, None, :], atol=1e-9), "interleaved rotary angles"
        assert np.array_equal(E[P + "hook_rot_q"][..., r:], E[P + "hook_q"][..., r:])
        assert f"blocks.{l}.ln2.hook_scale" not in E and f"blocks.{l}.hook_resid_mid" not in E
    f = E["ln_final.hook_normalized"] * W["transformer.ln_f.weight"] + W["transformer.ln_f.bias"]
    assert np.allclose(E["logits"] - f @ W["lm_head.weight"].T, W["lm_head.bias"], atol=1e-12)
    return ["replay bit-identical", f"interleaved rotary angles pos*10000^(-2i/{r}) recovered", "lm_head bias"]


def check_gpt_neox(case_dir):
    cfg, W, E = _replay(case_dir, forward_gpt_neox)
    d, H = cfg["hidden_size"], cfg["num_attention_heads"]
    dh = d // H
    r = int(dh * cfg["rotary_pct"])
    p = E["tokens"].shape[1]
    inv = 1.0 / cfg["rotary_emb_base"] ** (np.arange(r // 2) * 2.0 / r)
    for l in range(cfg["num_hidden_layers"]):
        t, P = f"gpt_neox.layers.{l}.", f"blocks.{l}."
        x = E[P + "ln1.hook_normalized"] * W[t + "input_layernorm.weight"] + W[t + "input_layernorm.bias"]
        wq, bq = W[t + "attention.query_key_value.weight"], W[t + "attention.query_key_value.bias"]
        for h in range(H):
            for which, name in enumerate(("q", "k", "v")):
                rows = slice((3 * h + which) * dh, (3 * h + which + 1) * dh)
                got = x @ wq[rows].T + bq[rows]
                assert np.allclose(got, E[P + "attn.hook_" + name][:, :, h], rtol=1e-12, atol=1e-12), (l, h, name)
        ang = _angles(E[P + "attn.hook_k"], E[P + "attn.hook_rot_k"], False, r)
        want = np.angle(np.exp(1j * np.arange(p)[:, None] * inv[None, :]))
        assert np.allclose(ang, want[None, :, None, :], atol=1e-9), "rotate-half rotary angles"
        if "gpt_neox.layers.0.attention.rotary_emb.inv_freq" in W:
            assert np.allclose(W[t + "attention.rotary_emb.inv_freq"], inv, rtol=1e-7)
    return ["replay bit-identical", "fused qkv rows (3h+{0,1,2})*dh recovered per head",
            f"rotate-half angles on {r} of {dh} features recovered"]


CHECKS = {
    "gpt_neo": check_gpt_neo,
    "gptj": check_gptj,
    "pythia": check_gpt_neox,
    "pythia_sequential": check_gpt_neox,
}

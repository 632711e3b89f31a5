"""The spliced_gpt2 case: a tiny GPT-2 (Hugging Face layout) with a standard SAE spliced into
blocks.1.hook_resid_pre and a transcoder replacing layer 0's MLP.

Model semantics: plain, UNPROCESSED Hugging Face GPT-2 (no LayerNorm folding, no centring of
writing weights, no centred unembedding) -- TransformerLens's from_pretrained_no_processing,
Loupe's fromPretrainedNoProcessing. The forward below is written from the GPT-2 definition
(transformers' modeling_gpt2: Conv1D weights [in, out], pre-LN blocks, gelu_new, tied
lm_head) and cross-checked against ../transformer_reference.py on the same weights.
"""
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..")))
import transformer_reference as tr  # noqa: E402
import sae_io  # noqa: E402
import sae_math as sm  # noqa: E402
from make_saes import cfg_v6, meta_v6, SAELENS  # noqa: E402

D, H, L, V, NPOS = 32, 4, 2, 50, 16
DH = D // H
EPS = 1e-5
SEED = 7001
SAE_HOOK = "blocks.1.hook_resid_pre"
TC_IN, TC_OUT = "blocks.0.hook_resid_mid", "blocks.0.hook_mlp_out"


def hf_weights(rng):
    W = {"transformer.wte.weight": rng.standard_normal((V, D)),
         "transformer.wpe.weight": 0.5 * rng.standard_normal((NPOS, D))}
    for i in range(L):
        p = f"transformer.h.{i}."
        W[p + "ln_1.weight"] = 1 + 0.1 * rng.standard_normal(D)
        W[p + "ln_1.bias"] = 0.1 * rng.standard_normal(D)
        qk = 2 / math.sqrt(D)
        W[p + "attn.c_attn.weight"] = np.concatenate(
            [qk * rng.standard_normal((D, D)), qk * rng.standard_normal((D, D)),
             rng.standard_normal((D, D)) / math.sqrt(D)], axis=1)
        W[p + "attn.c_attn.bias"] = 0.1 * rng.standard_normal(3 * D)
        W[p + "attn.c_proj.weight"] = rng.standard_normal((D, D)) / math.sqrt(D)
        W[p + "attn.c_proj.bias"] = 0.1 * rng.standard_normal(D)
        W[p + "ln_2.weight"] = 1 + 0.1 * rng.standard_normal(D)
        W[p + "ln_2.bias"] = 0.1 * rng.standard_normal(D)
        W[p + "mlp.c_fc.weight"] = rng.standard_normal((D, 4 * D)) / math.sqrt(D)
        W[p + "mlp.c_fc.bias"] = 0.1 * rng.standard_normal(4 * D)
        W[p + "mlp.c_proj.weight"] = rng.standard_normal((4 * D, D)) / math.sqrt(4 * D)
        W[p + "mlp.c_proj.bias"] = 0.1 * rng.standard_normal(D)
    W["transformer.ln_f.weight"] = 1 + 0.1 * rng.standard_normal(D)
    W["transformer.ln_f.bias"] = 0.1 * rng.standard_normal(D)
    return {k: sae_io.quantize(v, "F32") for k, v in W.items()}


def hf_config():
    """config.json as GPT2LMHeadModel.save_pretrained writes it (tied embeddings, so the
    checkpoint has no lm_head.weight)."""
    return {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
            "attn_pdrop": 0.1, "bos_token_id": V - 1, "embd_pdrop": 0.1, "eos_token_id": V - 1,
            "initializer_range": 0.02, "layer_norm_epsilon": EPS, "model_type": "gpt2",
            "n_ctx": NPOS, "n_embd": D, "n_head": H, "n_inner": None, "n_layer": L,
            "n_positions": NPOS, "reorder_and_upcast_attn": False, "resid_pdrop": 0.1,
            "scale_attn_by_inverse_layer_idx": False, "scale_attn_weights": True,
            "summary_activation": None, "summary_first_dropout": 0.1,
            "summary_proj_to_labels": True, "summary_type": "cls_index",
            "summary_use_proj": True, "tie_word_embeddings": True, "torch_dtype": "float32",
            "transformers_version": "4.44.0", "use_cache": True, "vocab_size": V}


def ln(x, w, b):
    c = x - x.mean(-1, keepdims=True)
    return c / np.sqrt((c * c).mean(-1, keepdims=True) + EPS) * w + b


def gpt2_forward(W, tokens, hooks=None):
    """Returns (logits, cache). hooks: dict hook name -> f(value, cache) -> replacement, at
    blocks.i.hook_resid_pre / hook_resid_mid / hook_mlp_out (TransformerLens names)."""
    hooks = hooks or {}
    cache = {}

    def hk(name, v):
        if name in hooks:
            v = hooks[name](v, cache)
        cache[name] = v
        return v

    b, n = tokens.shape
    x = W["transformer.wte.weight"][tokens] + W["transformer.wpe.weight"][:n]
    mask = np.triu(np.ones((n, n), bool), 1)
    for i in range(L):
        p = f"transformer.h.{i}."
        x = hk(f"blocks.{i}.hook_resid_pre", x)
        a = ln(x, W[p + "ln_1.weight"], W[p + "ln_1.bias"])
        qkv = a @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]
        q, k, v = (t.reshape(b, n, H, DH) for t in np.split(qkv, 3, axis=-1))
        s = np.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(DH)
        s = np.where(mask, -np.inf, s)
        pat = tr.softmax(s, -1)
        z = np.einsum("bhqk,bkhd->bqhd", pat, v).reshape(b, n, D)
        x = x + z @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"]
        x = hk(f"blocks.{i}.hook_resid_mid", x)
        m = ln(x, W[p + "ln_2.weight"], W[p + "ln_2.bias"])
        m = tr.gelu_new(m @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"])
        mo = hk(f"blocks.{i}.hook_mlp_out", m @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"])
        x = x + mo
    x = ln(x, W["transformer.ln_f.weight"], W["transformer.ln_f.bias"])
    return x @ W["transformer.wte.weight"].T, cache


def to_tl(W):
    """The same weights under TransformerLens state-dict names (unprocessed), for
    transformer_reference.forward and for tl_model.safetensors."""
    T = {"embed.W_E": W["transformer.wte.weight"], "pos_embed.W_pos": W["transformer.wpe.weight"]}
    for i in range(L):
        p, q = f"transformer.h.{i}.", f"blocks.{i}."
        T[q + "ln1.w"], T[q + "ln1.b"] = W[p + "ln_1.weight"], W[p + "ln_1.bias"]
        T[q + "ln2.w"], T[q + "ln2.b"] = W[p + "ln_2.weight"], W[p + "ln_2.bias"]
        cw, cb = W[p + "attn.c_attn.weight"], W[p + "attn.c_attn.bias"]
        for j, nm in enumerate("QKV"):
            T[q + f"attn.W_{nm}"] = cw[:, j * D:(j + 1) * D].reshape(D, H, DH).transpose(1, 0, 2)
            T[q + f"attn.b_{nm}"] = cb[j * D:(j + 1) * D].reshape(H, DH)
        T[q + "attn.W_O"] = W[p + "attn.c_proj.weight"].reshape(H, DH, D)
        T[q + "attn.b_O"] = W[p + "attn.c_proj.bias"]
        T[q + "mlp.W_in"], T[q + "mlp.b_in"] = W[p + "mlp.c_fc.weight"], W[p + "mlp.c_fc.bias"]
        T[q + "mlp.W_out"], T[q + "mlp.b_out"] = W[p + "mlp.c_proj.weight"], W[p + "mlp.c_proj.bias"]
    T["ln_final.w"], T["ln_final.b"] = W["transformer.ln_f.weight"], W["transformer.ln_f.bias"]
    T["unembed.W_U"] = W["transformer.wte.weight"].T.copy()
    T["unembed.b_U"] = np.zeros(V)
    return T


TL_CFG = dict(n_layers=L, d_model=D, n_heads=H, d_head=DH, d_mlp=4 * D, d_vocab=V, d_vocab_out=V,
              n_ctx=NPOS, act_fn="gelu_new", normalization_type="LN", attn_only=False,
              positional_embedding_type="standard", eps=EPS)


def sae_params(rng, d_in, d_sae, d_out, scale_in):
    P = {"W_enc": rng.standard_normal((d_in, d_sae)) / np.sqrt(d_in) / scale_in,
         "b_enc": -0.3 + 0.2 * rng.standard_normal(d_sae),
         "W_dec": rng.standard_normal((d_sae, d_out)) / np.sqrt(d_sae) * scale_in,
         "b_dec": 0.2 * rng.standard_normal(d_out)}
    return {k: sae_io.quantize(v, "F32") for k, v in P.items()}


def build(root):
    d = os.path.join(root, "spliced_gpt2")
    rng = np.random.default_rng(SEED)
    W = hf_weights(rng)
    tok_a = rng.integers(0, V, (2, 8)).astype(np.int64)
    tok_b = rng.integers(0, V, (2, 8)).astype(np.int64)
    clean_a, cache_a = gpt2_forward(W, tok_a)
    clean_b, cache_b = gpt2_forward(W, tok_b)
    # cross-check against the earlier independent reference on TL-named weights
    ref, rcache = tr.forward(tok_a, {k: v.astype(np.float32) for k, v in to_tl(W).items()}, TL_CFG)
    assert np.allclose(ref, clean_a, atol=1e-10)
    for h in (SAE_HOOK, TC_IN, TC_OUT):
        assert np.allclose(rcache[h], cache_a[h], atol=1e-10)

    spec_sae = {"arch": "standard", "apply_b_dec_to_input": True, "normalize": "none"}
    spec_tc = {"arch": "transcoder", "apply_b_dec_to_input": False, "normalize": "none"}
    for _ in range(200):
        Ps = sae_params(rng, D, 64, D, np.std(cache_a[SAE_HOOK]))
        Pt = sae_params(rng, D, 64, D, np.std(cache_a[TC_IN]))
        ok = True
        for c in (cache_a, cache_b):
            ok &= np.min(np.abs(sm.encode(Ps, spec_sae, c[SAE_HOOK])["acts_pre"])) > 1e-4
            ok &= np.min(np.abs(sm.encode(Pt, spec_tc, c[TC_IN])["acts_pre"])) > 1e-4
        if ok:
            break
    E = {"tokens": (tok_a, "I64"), "tokens_source": (tok_b, "I64"),
         "clean_logits": (clean_a, "F64"), "clean_logits_source": (clean_b, "F64")}
    info_parts = {}

    # ---- the SAE at blocks.1.hook_resid_pre, hooks at blocks.1.hook_resid_pre.hook_sae_* ----
    # ---- the transcoder reading blocks.0.hook_resid_mid and writing blocks.0.hook_mlp_out ----
    for tag, P, spec, hin, hout in (("sae", Ps, spec_sae, SAE_HOOK, SAE_HOOK),
                                    ("transcoder", Pt, spec_tc, TC_IN, TC_OUT)):
        acts_a = sm.encode(P, spec, cache_a[hin])["acts_post"]
        acts_b = sm.encode(P, spec, cache_b[hin])["acts_post"]
        f_abl = int(np.argmax((acts_a > 0).sum((0, 1)) + 1e-3 * acts_a.sum((0, 1))))
        diff = np.abs(acts_b - acts_a).sum(0)  # [pos, d_sae]
        p_pat, f_pat = [int(v) for v in np.unravel_index(np.argmax(diff[1:]), diff[1:].shape)]
        p_pat += 1

        def run(edit, with_error):
            def hook(v, cache):
                x_in = cache[hin] if tag == "transcoder" else v
                r = sm.forward(P, spec, x_in, edit=edit)
                out = r["output"]
                if with_error:
                    clean = sm.forward(P, spec, x_in)["output"]
                    out = out + (v - clean)
                return out
            return gpt2_forward(W, tok_a, {hout: hook})[0]

        def zero(a):
            a[..., f_abl] = 0.0
            return a

        def patch(a):
            a[:, p_pat, f_pat] = acts_b[:, p_pat, f_pat]
            return a

        E[f"{tag}.acts_post"] = (acts_a, "F64")
        E[f"{tag}.acts_post_source"] = (acts_b, "F64")
        E[f"{tag}.logits_spliced"] = (run(None, False), "F64")
        E[f"{tag}.logits_with_error"] = (run(None, True), "F64")
        E[f"{tag}.logits_ablated"] = (run(zero, True), "F64")
        E[f"{tag}.logits_patched"] = (run(patch, True), "F64")
        E[f"{tag}.input"] = (cache_a[hin], "F64")
        if tag == "transcoder":
            E[f"{tag}.target"] = (cache_a[hout], "F64")
        info_parts[tag] = {"ablate_feature": f_abl, "patch_feature": f_pat, "patch_position": p_pat}
        assert np.allclose(E[f"{tag}.logits_with_error"][0], clean_a, atol=1e-10)

    # ---- files ----
    os.makedirs(os.path.join(d, "model"))
    import hf_common
    hf_common.write_model(os.path.join(d, "model"), {k: (v, "F32") for k, v in W.items()}, hf_config())
    sae_io.write_safetensors(os.path.join(d, "tl_model.safetensors"),
                             {k: (v, "F32") for k, v in to_tl(W).items()}, {"format": "pt"})
    sae_io.write_json(os.path.join(d, "tl_config.json"), TL_CFG)
    for tag, P, arch, hin, extra, mextra in (
            ("sae", Ps, "standard", SAE_HOOK, None, None),
            ("transcoder", Pt, "transcoder", TC_IN, {"d_out": D},
             {"hook_name_out": TC_OUT, "hook_head_index_out": None})):
        os.makedirs(os.path.join(d, tag))
        cfg = cfg_v6(arch, D, 64, meta_v6(hin, model="gpt2", extra=mextra),
                     arch == "standard", "none", extra)
        sae_io.write_cfg(os.path.join(d, tag, "cfg.json"), cfg)
        sae_io.write_safetensors(os.path.join(d, tag, "sae_weights.safetensors"),
                                 {k: (v, "F32") for k, v in P.items()})
    sae_io.write_safetensors(os.path.join(d, "expected.safetensors"), E, {"format": "pt"})
    info = {
        "case": "spliced_gpt2", "definitions_from": SAELENS,
        "model": "model/ is a Hugging Face GPT-2 checkpoint (config.json + model.safetensors, "
                 "GPT2LMHeadModel.save_pretrained names with the 'transformer.' prefix, tied "
                 "lm_head so no lm_head.weight); tl_model.safetensors + tl_config.json hold the "
                 "same weights under TransformerLens names in the ../reference case format",
        "model_semantics": "unprocessed weights: fromPretrainedNoProcessing / "
                           "from_pretrained_no_processing (no LN folding, no centring); every "
                           "number here is for those semantics",
        "model_dims": {"n_layer": L, "d_model": D, "n_head": H, "d_mlp": 4 * D, "vocab": V, "n_ctx": NPOS},
        "tokens": tok_a.tolist(), "tokens_source": tok_b.tolist(),
        "sae": dict(info_parts["sae"], folder="sae/", hook_name=SAE_HOOK, d_in=D, d_sae=64,
                    architecture="standard", apply_b_dec_to_input=True,
                    cache_names={"acts_post": SAE_HOOK + ".hook_sae_acts_post"},
                    splice="HookedSAETransformer.add_sae: the SAE module replaces the hook point "
                           "blocks.1.hook_resid_pre; the activation there becomes the SAE's "
                           "forward output"),
        "transcoder": dict(info_parts["transcoder"], folder="transcoder/", hook_name=TC_IN,
                           hook_name_out=TC_OUT, d_in=D, d_out=D, d_sae=64,
                           architecture="transcoder",
                           splice="NOT a SAELens operation (SAELens 6.18 has no transcoder splice: "
                                  "add_sae would put it at hook_name). Defined here: the transcoder "
                                  "reads blocks.0.hook_resid_mid (the residual stream before ln2, so "
                                  "no ln2.hook_normalized ambiguity) and its output REPLACES "
                                  "blocks.0.hook_mlp_out; with the error term the replacement is "
                                  "transcoder(edited acts) + (true mlp_out - transcoder(clean acts))"),
        "tensors": {
            "tokens / tokens_source": "I64 [2, 8] prompts A (run) and B (patch source)",
            "clean_logits / clean_logits_source": "logits of A / B with nothing spliced [2, 8, 50]",
            "<p>.input": "the SAE's / transcoder's input activation on A (hook_name)",
            "<p>.target": "transcoder only: the true blocks.0.hook_mlp_out on A",
            "<p>.acts_post / acts_post_source": "feature activations on A / B [2, 8, 64] "
                                                "(the cached hook_sae_acts_post)",
            "<p>.logits_spliced": "logits with the output replaced, no error term",
            "<p>.logits_with_error": "use_error_term=True (== clean_logits up to rounding)",
            "<p>.logits_ablated": "error term on, feature ablate_feature set to 0 at every position "
                                  "(hook on hook_sae_acts_post)",
            "<p>.logits_patched": "error term on, feature patch_feature at position patch_position "
                                  "set (in both batch rows) to its value in acts_post_source",
        },
        "error_term": "error = x - decode(encode(x)) from the clean, unedited pass (SAE.forward, "
                      "sae.py); edits only change the first term",
    }
    sae_io.write_json(os.path.join(d, "expected.json"), info)


def check(root):
    import hf_common
    d = os.path.join(root, "spliced_gpt2")
    cfg, W, _ = hf_common.read_model(os.path.join(d, "model"))
    E, dt, _ = sae_io.read_safetensors(os.path.join(d, "expected.safetensors"))
    tok = E["tokens"]
    logits, cache = gpt2_forward(W, tok)
    assert np.array_equal(logits, E["clean_logits"])
    T, _, _ = sae_io.read_safetensors(os.path.join(d, "tl_model.safetensors"))
    ref, _ = tr.forward(tok, {k: v.astype(np.float32) for k, v in T.items()}, TL_CFG)
    assert np.allclose(ref, logits, atol=1e-10)
    for tag in ("sae", "transcoder"):
        P, _, meta = sae_io.read_safetensors(os.path.join(d, tag, "sae_weights.safetensors"))
        assert meta is None
        assert np.allclose(E[f"{tag}.logits_with_error"], E["clean_logits"], atol=1e-10)
        assert not np.allclose(E[f"{tag}.logits_spliced"], E["clean_logits"], atol=1e-3)
        assert not np.allclose(E[f"{tag}.logits_ablated"], E["clean_logits"], atol=1e-6)
        assert not np.allclose(E[f"{tag}.logits_patched"], E["clean_logits"], atol=1e-6)
    # the patched run only differs from clean at and after the patch position
    import json
    info = json.load(open(os.path.join(d, "expected.json")))
    for tag in ("sae", "transcoder"):
        p = info[tag]["patch_position"]
        assert np.allclose(E[f"{tag}.logits_patched"][:, :p], E["clean_logits"][:, :p], atol=1e-10)
        f = info[tag]["patch_feature"]
        assert np.any(E[f"{tag}.acts_post"][:, p, f] != E[f"{tag}.acts_post_source"][:, p, f])

#!/usr/bin/env python3
"""Independent float64 reference vectors for SAELens-style SAEs and transcoders.

Writes lib/src/test/resources/sae/<case>/ (see README.md next to this file). Semantics follow
SAELens 6.18.0 (github.com/jbloomAus/SAELens @ 91ca16c) read as documentation, and Gemma
Scope's params.npz layout; nothing here is derived from Loupe's Java code.

    /usr/bin/python3 lib/src/test/reference/sae/make_saes.py          # write twice, compare, self-check
    /usr/bin/python3 lib/src/test/reference/sae/make_saes.py --check  # self-check the written files
"""
import filecmp
import json
import os
import shutil
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sae_io  # noqa: E402
import sae_math as sm  # noqa: E402

OUT = os.path.normpath(os.path.join(HERE, "..", "..", "resources", "sae"))
SAELENS = "SAELens 6.18.0 (github.com/jbloomAus/SAELens @ 91ca16ccd068)"
BATCH, POS = 3, 5
MARGIN = 1e-4  # every decision (ReLU, threshold, top-k rank) is at least this far from a tie

HOOKS = {  # tensor in expected.safetensors -> SAELens HookPoint that carries it
    "sae_input": "hook_sae_input",
    "acts_pre": "hook_sae_acts_pre",
    "acts_post": "hook_sae_acts_post",
    "recons": "hook_sae_recons",
    "error": "hook_sae_error",
    "output": "hook_sae_output (use_error_term=False)",
    "output_with_error": "hook_sae_output (use_error_term=True)",
}
ERROR_TERM = ("SAE.forward (sae_lens/saes/sae.py): with use_error_term the error is "
              "x - decode(encode(x)) recomputed inside torch.no_grad() with every SAE hook "
              "replaced by identity (_disable_hooks): it is the CLEAN reconstruction's error, "
              "detached, unaffected by any hook edit (ablation/patching) of the hooked pass; "
              "output = decode(edited acts) + error, passed through hook_sae_error / "
              "hook_sae_output. x here is the raw input (before run-time normalization) and "
              "decode includes the de-normalization, so the error lives in the input space.")

# ---------------------------------------------------------------------------
# cfg.json layouts
# ---------------------------------------------------------------------------


def meta_v6(hook, model="gpt2-small", extra=None):
    """SAEMetadata as SAELens 6 training writes it (sae.py SAEMetadata.__init__ puts the two
    version fields first; TrainingSAEConfig.from_sae_runner_config adds model_name, hook_name,
    hook_head_index, context_size, prepend_bos, seqpos_slice, model_from_pretrained_kwargs),
    plus dataset_path and neuronpedia_id, which published configs carry
    (pretrained_sae_loaders.py LLM_METADATA_KEYS)."""
    m = {"sae_lens_version": "6.18.0", "sae_lens_training_version": "6.18.0",
         "model_name": model, "hook_name": hook, "hook_head_index": None,
         "context_size": 128, "prepend_bos": True, "seqpos_slice": [None],
         "model_from_pretrained_kwargs": {}, "dataset_path": "Skylion007/openwebtext",
         "neuronpedia_id": None}
    m.update(extra or {})
    return m


def cfg_v6(arch, d_in, d_sae, meta, apply_b_dec, normalize="none", extra=None):
    """SAEConfig.to_dict (sae.py): the dataclass fields in order (d_in, d_sae, dtype, device,
    apply_b_dec_to_input, normalize_activations, reshape_activations, metadata, then the
    subclass's fields such as k / rescale_acts_by_decoder_norm / d_out), then 'architecture'."""
    c = {"d_in": d_in, "d_sae": d_sae, "dtype": "float32", "device": "cpu",
         "apply_b_dec_to_input": apply_b_dec, "normalize_activations": normalize,
         "reshape_activations": "none", "metadata": meta}
    c.update(extra or {})
    c["architecture"] = arch
    return c


def cfg_v5(arch, d_in, d_sae, hook, layer, act, act_kwargs, apply_b_dec, normalize):
    """SAELens 5.x SAEConfig.to_dict, the flat layout (as kept in SAELens's own
    tests/_comparison/sae_lens_old/sae.py): hook_name + hook_layer at top level,
    activation_fn_str + activation_fn_kwargs, no metadata object."""
    return {"architecture": arch, "d_in": d_in, "d_sae": d_sae, "dtype": "float32",
            "device": "cpu", "model_name": "gpt2-small", "hook_name": hook,
            "hook_layer": layer, "hook_head_index": None, "activation_fn_str": act,
            "activation_fn_kwargs": act_kwargs, "apply_b_dec_to_input": apply_b_dec,
            "finetuning_scaling_factor": False, "sae_lens_training_version": "5.5.0",
            "prepend_bos": True, "dataset_path": "Skylion007/openwebtext",
            "dataset_trust_remote_code": True, "context_size": 128,
            "normalize_activations": normalize, "neuronpedia_id": None,
            "model_from_pretrained_kwargs": {}, "seqpos_slice": [None]}


def cfg_legacy(d_in, d_sae, hook, layer):
    """The oldest layout (mats_sae_training / SAELens <= 2, e.g. jbloom/GPT2-Small-SAEs-
    Reformatted, release gpt2-small-res-jb): hook_point / hook_point_layer /
    hook_point_head_index, training-run keys, NO 'architecture' and NO 'apply_b_dec_to_input'
    (SAELens's handle_pre_6_0_config defaults them to "standard" and true), dtype spelled
    "torch.float32"."""
    return {"model_name": "gpt2-small", "hook_point": hook, "hook_point_layer": layer,
            "hook_point_head_index": None, "dataset_path": "Skylion007/openwebtext",
            "is_dataset_tokenized": False, "context_size": 128, "use_cached_activations": False,
            "d_in": d_in, "n_batches_in_buffer": 128, "total_training_tokens": 300000000,
            "store_batch_size": 32, "device": "mps", "seed": 42, "dtype": "torch.float32",
            "b_dec_init_method": "geometric_median", "expansion_factor": d_sae // d_in,
            "from_pretrained_path": None, "l1_coefficient": 8e-05, "lr": 0.0004,
            "lr_scheduler_name": None, "lr_warm_up_steps": 5000, "train_batch_size": 4096,
            "use_ghost_grads": False, "feature_sampling_window": 1000,
            "dead_feature_window": 5000, "dead_feature_threshold": 1e-08,
            "log_to_wandb": True, "wandb_project": "mats_sae_training_gpt2_small",
            "n_checkpoints": 10, "d_sae": d_sae,
            "run_name": f"{d_sae}-L1-8e-05-LR-0.0004-Tokens-3.000e+08"}


# ---------------------------------------------------------------------------
# cases
# ---------------------------------------------------------------------------

CASES = {
    "standard_new": dict(seed=101, arch="standard", layout="v6", d_in=16, d_sae=48,
                         apply_b_dec_to_input=True, normalize="none", hook="blocks.3.hook_resid_pre",
                         sparsity=True,
                         covers="standard ReLU SAE, SAELens 6 cfg layout (architecture + metadata), "
                                "apply_b_dec_to_input true, sparsity.safetensors"),
    "standard_flat": dict(seed=102, arch="standard", layout="v5", d_in=16, d_sae=48,
                          apply_b_dec_to_input=False, normalize="none", hook="blocks.2.hook_resid_post",
                          covers="standard ReLU SAE, SAELens 5 flat cfg (hook_name, hook_layer, "
                                 "activation_fn_str at top level), apply_b_dec_to_input false"),
    "standard_legacy": dict(seed=103, arch="standard", layout="legacy", d_in=16, d_sae=48,
                            apply_b_dec_to_input=True, normalize="none", hook="blocks.1.hook_resid_pre",
                            covers="standard ReLU SAE, oldest flat cfg (hook_point, hook_point_layer; "
                                   "no architecture, no apply_b_dec_to_input key -> defaults "
                                   "standard / true)"),
    "topk": dict(seed=104, arch="topk", layout="v6", d_in=16, d_sae=64, k=5,
                 apply_b_dec_to_input=True, normalize="none", hook="blocks.4.hook_resid_post",
                 covers="TopK k=5 (cfg key 'k', rescale_acts_by_decoder_norm false); row [2,4] "
                        "has fewer than k positive pre-activations, so it keeps < k features"),
    "topk_flat": dict(seed=105, arch="topk", layout="v5", d_in=16, d_sae=48, k=5,
                      apply_b_dec_to_input=True, normalize="layer_norm", hook="blocks.5.hook_resid_post",
                      covers="TopK k=5 in the SAELens 5 flat layout: architecture \"standard\", "
                             "activation_fn_str \"topk\", activation_fn_kwargs {\"k\": 5} "
                             "(handle_pre_6_0_config turns it into architecture topk), with "
                             "normalize_activations layer_norm as in gpt2-small-resid-post-v5-32k"),
    "batchtopk": dict(seed=106, arch="jumprelu", layout="v6", d_in=16, d_sae=64, k=4,
                      apply_b_dec_to_input=True, normalize="none", hook="blocks.2.hook_resid_post",
                      covers="a BatchTopK SAE as SAELens saves it for inference: architecture "
                             "\"jumprelu\", one threshold value (topk_threshold) for all features, "
                             "W_dec rows unit norm (rescale_acts_by_decoder_norm folded); "
                             "acts_post_batchtopk shows the training-time BatchTopK activation"),
    "jumprelu": dict(seed=107, arch="jumprelu", layout="v6", d_in=24, d_sae=64, wdtype="BF16",
                     apply_b_dec_to_input=True, normalize="none", hook="blocks.6.hook_resid_post",
                     covers="JumpReLU with a per-feature threshold; weights stored as BF16 while "
                            "cfg dtype is float32 (SAELens casts every tensor to cfg dtype on load)"),
    "normalized": dict(seed=108, arch="standard", layout="v6", d_in=16, d_sae=48,
                       apply_b_dec_to_input=True, normalize="layer_norm", hook="blocks.0.hook_resid_post",
                       covers="run-time normalize_activations layer_norm (unbiased std, eps on std)"),
    "normalized_cnr": dict(seed=109, arch="standard", layout="v6", d_in=16, d_sae=48,
                           apply_b_dec_to_input=True, normalize="constant_norm_rescale",
                           hook="blocks.0.hook_resid_post",
                           covers="run-time normalize_activations constant_norm_rescale"),
    "transcoder": dict(seed=110, arch="transcoder", layout="v6", d_in=24, d_sae=48, d_out=16,
                       apply_b_dec_to_input=False, normalize="none",
                       hook="blocks.0.ln2.hook_normalized", hook_out="blocks.0.hook_mlp_out",
                       covers="ReLU transcoder, d_out (16) != d_in (24) so no shape can be confused; "
                              "hook_name_out in metadata; no error term"),
    "skip_transcoder": dict(seed=111, arch="skip_transcoder", layout="v6", d_in=24, d_sae=48, d_out=16,
                            apply_b_dec_to_input=False, normalize="none",
                            hook="blocks.0.ln2.hook_normalized", hook_out="blocks.0.hook_mlp_out",
                            covers="skip transcoder: output = decode(encode(x)) + x @ W_skip.T, "
                                   "W_skip [d_out, d_in]"),
    "jumprelu_transcoder": dict(seed=112, arch="jumprelu_transcoder", layout="v6", d_in=16, d_sae=48,
                                d_out=16, apply_b_dec_to_input=False, normalize="none",
                                hook="blocks.1.ln2.hook_normalized", hook_out="blocks.1.hook_mlp_out",
                                covers="JumpReLU transcoder (the architecture Gemma Scope transcoders "
                                       "load as)"),
    "gemma_scope": dict(seed=113, arch="jumprelu", layout="gemma_scope", d_in=24, d_sae=64,
                        apply_b_dec_to_input=False, normalize="none", hook="blocks.3.hook_resid_post",
                        npz_compressed=False,
                        covers="Gemma Scope params.npz (np.savez, uncompressed zip of .npy) JumpReLU"),
    "gemma_scope_compressed": dict(seed=113, arch="jumprelu", layout="gemma_scope", d_in=24, d_sae=64,
                                   apply_b_dec_to_input=False, normalize="none",
                                   hook="blocks.3.hook_resid_post", npz_compressed=True,
                                   covers="the same arrays as gemma_scope in np.savez_compressed "
                                          "(ZIP_DEFLATED) form"),
}


def draw(case, rng):
    """One draw of weights (float64, then rounded to the storage dtype) and input X."""
    d_in, d_sae = case["d_in"], case["d_sae"]
    d_out = case.get("d_out", d_in)
    wdt = case.get("wdtype", "F32")
    P = {"W_enc": rng.standard_normal((d_in, d_sae)) / np.sqrt(d_in),
         "b_enc": -0.3 + 0.2 * rng.standard_normal(d_sae),
         "W_dec": rng.standard_normal((d_sae, d_out)) / np.sqrt(d_sae) * 2.0,
         "b_dec": 0.2 * rng.standard_normal(d_out)}
    arch = case["arch"]
    if arch in ("jumprelu", "jumprelu_transcoder"):
        P["threshold"] = rng.uniform(0.1, 0.9, d_sae)
    if arch == "skip_transcoder":
        P["W_skip"] = 0.3 * rng.standard_normal((d_out, d_in)) / np.sqrt(d_in)
    if case["name"] == "topk":
        P["b_enc"] = -0.8 - 0.3 * np.abs(rng.standard_normal(d_sae))
        pos = rng.choice(d_sae, 3, replace=False)
        P["b_enc"][pos] = 0.4 + 0.2 * np.abs(rng.standard_normal(3))
    if case["name"] == "batchtopk":
        P["W_dec"] /= np.linalg.norm(P["W_dec"], axis=1, keepdims=True)  # folded decoder norms
        P["threshold"] = np.full(d_sae, rng.uniform(0.3, 0.6))          # topk_threshold, all features
    P = {k: sae_io.quantize(v, wdt) for k, v in P.items()}
    X = rng.standard_normal((BATCH, POS, d_in)) + 0.5 * rng.standard_normal(d_in)
    if case["name"] == "topk":
        X[2, 4] = P["b_dec"] + 0.02 * rng.standard_normal(d_in)  # sae_in ~ 0 -> pre ~ b_enc
    X = sae_io.quantize(X, "F32")
    return P, X


def margins_ok(case, spec, P, X):
    e = sm.encode(P, spec, X)
    pre = e["acts_pre"]
    if spec["arch"] in ("jumprelu", "jumprelu_transcoder"):
        if np.min(np.abs(pre - P["threshold"])) < MARGIN:
            return False
        if case["name"] == "batchtopk":
            n = int(case["k"] * BATCH * POS)
            s = np.sort(np.maximum(pre, 0).reshape(-1))[::-1]
            if s[n - 1] - s[n] < MARGIN or s[n] <= 0:
                return False
        return True
    if np.min(np.abs(pre)) < MARGIN:
        return False
    if spec["arch"] == "topk":
        s = np.sort(pre, axis=-1)[..., ::-1]
        k = spec["k"]
        if np.min(s[..., k - 1] - s[..., k]) < MARGIN:
            return False
        npos = (pre > 0).sum(-1)
        if case["name"] == "topk" and not (npos[2, 4] < k and npos.max() > k):
            return False
    return True


def spec_of(case):
    return {"arch": case["arch"], "apply_b_dec_to_input": case["apply_b_dec_to_input"],
            "normalize": case["normalize"], "k": case.get("k"),
            "rescale_acts_by_decoder_norm": False}


def write_case(name, case, root):
    case = dict(case, name=name)
    d = os.path.join(root, name)
    os.makedirs(d)
    spec = spec_of(case)
    if case["name"] == "batchtopk":
        spec = dict(spec, arch="jumprelu")
    rng = np.random.default_rng(case["seed"])
    for draws in range(1, 200):
        P, X = draw(case, rng)
        if margins_ok(case, spec, P, X):
            break
    else:
        raise RuntimeError(name + ": no draw met the margins")
    d_in, d_sae = case["d_in"], case["d_sae"]
    d_out = case.get("d_out", d_in)
    arch = case["arch"]
    wdt = case.get("wdtype", "F32")
    is_tc = arch in sm.TRANSCODERS

    # ---- the folder ----
    layout = case["layout"]
    hook = case["hook"]
    layer = int(hook.split(".")[1])
    if layout == "v6":
        extra = {}
        if arch == "topk":
            extra = {"k": case["k"], "rescale_acts_by_decoder_norm": False}
        if is_tc:
            extra = {"d_out": d_out}
        mextra = {"hook_name_out": case["hook_out"], "hook_head_index_out": None} if is_tc else None
        cfg = cfg_v6(arch, d_in, d_sae, meta_v6(hook, extra=mextra), case["apply_b_dec_to_input"],
                     case["normalize"], extra)
        sae_io.write_cfg(os.path.join(d, "cfg.json"), cfg)
    elif layout == "v5":
        if arch == "topk":
            cfg = cfg_v5("standard", d_in, d_sae, hook, layer, "topk", {"k": case["k"]},
                         case["apply_b_dec_to_input"], case["normalize"])
        else:
            cfg = cfg_v5(arch, d_in, d_sae, hook, layer, "relu", {},
                         case["apply_b_dec_to_input"], case["normalize"])
        sae_io.write_cfg(os.path.join(d, "cfg.json"), cfg)
    elif layout == "legacy":
        cfg = cfg_legacy(d_in, d_sae, hook, layer)
        sae_io.write_cfg(os.path.join(d, "cfg.json"), cfg)
    else:
        cfg = None
    names = ["W_enc", "W_dec", "b_enc", "b_dec"] + [k for k in ("threshold", "W_skip") if k in P]
    if layout == "gemma_scope":
        # Gemma Scope publishes params.npz with float32 arrays W_enc [d_in, d_sae],
        # W_dec [d_sae, d_in], b_enc, b_dec, threshold (the keys SAELens's
        # gemma_2_sae_huggingface_loader reads).
        arrays = {k: P[k].astype(np.float32) for k in ("W_enc", "W_dec", "threshold", "b_enc", "b_dec")}
        sae_io.write_npz(os.path.join(d, "params.npz"), arrays, case["npz_compressed"])
    else:
        sae_io.write_safetensors(os.path.join(d, "sae_weights.safetensors"),
                                 {k: (P[k], wdt) for k in names})
    if case.get("sparsity"):
        # training runner: sparsity.safetensors {"sparsity": log10(firing fraction + 1e-10)}
        frac = 10.0 ** rng.uniform(-4, -0.5, d_sae)
        frac[[3, 17]] = 0.0  # two dead features -> log10(1e-10) = -10
        sae_io.write_safetensors(os.path.join(d, "sparsity.safetensors"),
                                 {"sparsity": (sae_io.quantize(np.log10(frac + 1e-10), "F32"), "F32")})

    # ---- expected values (float64 from the stored values) ----
    base = sm.forward(P, spec, X, use_error_term=not is_tc)
    active = (base["acts_post"] > 0).reshape(-1, d_sae).sum(0)
    f1, f2 = [int(i) for i in np.argsort(-active, kind="stable")[:2]]

    def ablate(a):
        a[..., [f1, f2]] = 0.0
        return a

    abl = sm.forward(P, spec, X, edit=ablate, use_error_term=not is_tc)
    E = {"sae_input": X, "sae_in": base["sae_in"], "acts_pre": base["acts_pre"],
         "acts_post": base["acts_post"], "recons": base["recons"], "output": base["output"],
         "ablated_output": abl["output"]}
    if case["normalize"] != "none":
        E["normalized"] = base["normalized"]
    if not is_tc:
        E["error"] = base["error"]
        E["output_with_error"] = base["output_with_error"]
        E["ablated_output_with_error"] = abl["output_with_error"]
    if arch == "skip_transcoder":
        E["skip_out"] = X @ P["W_skip"].T
    if case["name"] == "batchtopk":
        E["acts_post_batchtopk"] = sm.batchtopk_act(base["acts_pre"], case["k"])
    sae_io.write_safetensors(os.path.join(d, "expected.safetensors"),
                             {k: (v, "F64") for k, v in E.items()}, {"format": "pt"})

    # ---- expected.json ----
    loaded = {"architecture": "jumprelu" if case["name"] == "batchtopk" else arch,
              "d_in": d_in, "d_sae": d_sae, "dtype": "float32",
              "apply_b_dec_to_input": case["apply_b_dec_to_input"],
              "normalize_activations": case["normalize"], "reshape_activations": "none",
              "hook_name": hook, "hook_head_index": None}
    if arch == "topk":
        loaded.update(k=case["k"], rescale_acts_by_decoder_norm=False)
    if is_tc:
        loaded.update(d_out=d_out, hook_name_out=case["hook_out"], hook_head_index_out=None)
    if layout == "legacy":
        loaded["note"] = ("the file has no architecture / apply_b_dec_to_input / hook_name keys: "
                          "hook_point -> hook_name, defaults architecture standard, "
                          "apply_b_dec_to_input true (loading.pretrained_sae_loaders."
                          "handle_pre_6_0_config); dtype \"torch.float32\" means float32")
    hooks = {k: v for k, v in HOOKS.items() if k in E}
    if is_tc:
        hooks["output"] = ("the return value of Transcoder.forward (hook_sae_recons for plain/"
                           "jumprelu transcoders; recons + x @ W_skip.T for skip transcoders); "
                           "transcoders never call hook_sae_error / hook_sae_output")
    tensors = {
        "sae_input": "X [3, 5, d_in], the SAE's input (float32-representable values stored as F64)",
        "sae_in": "what multiplies W_enc: run-time-normalized X minus b_dec when apply_b_dec_to_input",
        "acts_pre": "X-side pre-activations sae_in @ W_enc + b_enc [3, 5, d_sae]",
        "acts_post": "feature activations after the architecture's activation [3, 5, d_sae]",
        "recons": "acts_post @ W_dec + b_dec, BEFORE undoing run-time normalization",
        "output": "forward output without error term (after de-normalization)",
        "ablated_output": "output without error term with features ablate_features zeroed in acts_post",
        "normalized": "X after the run-time normalization (before b_dec subtraction)",
        "error": "x - clean reconstruction (hook_sae_error)",
        "output_with_error": "output + error (== X up to rounding)",
        "ablated_output_with_error": "decode(acts_post with ablate_features zeroed) + error "
                                     "(error from the clean, unablated pass)",
        "skip_out": "X @ W_skip.T",
        "acts_post_batchtopk": "training-time BatchTopK of acts_pre over all 15 rows: ReLU, then "
                               "the int(k*15) largest entries of the flattened [15, d_sae] kept",
    }
    info = {
        "case": name, "covers": case["covers"], "definitions_from": SAELENS,
        "files": sorted(os.listdir(d)),
        "weights_dtype": "F32 (numpy float32 in params.npz)" if layout == "gemma_scope" else wdt,
        "cfg_layout": {"v6": "SAELens 6 (architecture + metadata object)",
                       "v5": "SAELens 5 flat", "legacy": "mats_sae_training / SAELens <= 2 flat",
                       "gemma_scope": "none: params.npz only, cfg built by the loader"}[layout],
        "loader_cfg": loaded,
        "input": "X = N(0,1) [3,5,d_in] + a per-dim offset N(0,0.5^2), rounded to float32; seed %d"
                 % case["seed"],
        "draws": draws,
        "ablate_features": [f1, f2],
        "tensors": {k: tensors[k] for k in E},
        "hook_of_tensor": hooks,
        "error_term": ERROR_TERM if not is_tc else
        "SAELens transcoders have no error term (Transcoder.forward ignores use_error_term)",
    }
    if arch in ("topk",):
        info["k"] = case["k"]
    if case["name"] == "batchtopk":
        info["batchtopk_training_k"] = case["k"]
        info["saved_as"] = ("BatchTopKTrainingSAEConfig.get_inference_config_class() -> "
                            "JumpReLUSAEConfig; process_state_dict_for_saving_inference folds "
                            "W_dec row norms into W_enc/b_enc (rescale_acts_by_decoder_norm, "
                            "default true) and writes threshold = topk_threshold for every "
                            "feature (sae_lens/saes/batchtopk_sae.py, topk_sae.py)")
    if layout == "gemma_scope":
        info["gemma_scope"] = {
            "npz": "np.savez_compressed" if case["npz_compressed"] else "np.savez",
            "npz_keys": ["W_enc", "W_dec", "threshold", "b_enc", "b_dec"],
            "saelens_cfg": {"architecture": "jumprelu", "d_in": d_in, "d_sae": d_sae,
                            "dtype": "float32", "device": "cpu", "apply_b_dec_to_input": False,
                            "normalize_activations": "none", "reshape_activations": "none",
                            "metadata": {"model_name": "gemma-2-2b", "hook_name": hook,
                                         "hook_head_index": None, "prepend_bos": True,
                                         "dataset_path": "monology/pile-uncopyrighted",
                                         "context_size": 1024, "neuronpedia_id": None,
                                         "sae_lens_training_version": None}},
            "note": "what get_gemma_2_config_from_hf + handle_config_defaulting build for a "
                    "-res release at layer 3 (hook blocks.<layer>.hook_resid_post, "
                    "apply_b_dec_to_input false, normalize none); real d_in is d_model",
        }
    sae_io.write_json(os.path.join(d, "expected.json"), info)


# ---------------------------------------------------------------------------
# self-check
# ---------------------------------------------------------------------------

def check_case(name, root):
    d = os.path.join(root, name)
    case = dict(CASES[name], name=name)
    info = json.load(open(os.path.join(d, "expected.json")))
    E, dt, meta = sae_io.read_safetensors(os.path.join(d, "expected.safetensors"))
    assert all(v == "F64" for v in dt.values())
    if case["layout"] == "gemma_scope":
        with np.load(os.path.join(d, "params.npz")) as z:
            assert list(z.keys()) == ["W_enc", "W_dec", "threshold", "b_enc", "b_dec"]
            P = {k: z[k].astype(np.float64) for k in z}
            assert all(z[k].dtype == np.float32 for k in z)
    else:
        P, pdt, pmeta = sae_io.read_safetensors(os.path.join(d, "sae_weights.safetensors"))
        assert pmeta is None
        cfg = json.load(open(os.path.join(d, "cfg.json")))
        if case["layout"] == "v6":
            assert cfg["architecture"] == info["loader_cfg"]["architecture"]
            assert cfg["metadata"]["hook_name"] == case["hook"]
        if case["layout"] == "legacy":
            assert "architecture" not in cfg and "apply_b_dec_to_input" not in cfg
    spec = spec_of(case)
    if name == "batchtopk":
        spec["arch"] = "jumprelu"
        assert np.allclose(np.linalg.norm(P["W_dec"], axis=1), 1, atol=1e-6)
        assert len(set(P["threshold"].tolist())) == 1
    is_tc = spec["arch"] in sm.TRANSCODERS
    X = E["sae_input"]
    assert X.shape == (BATCH, POS, case["d_in"])
    # independent second route: the SAE written out per row with explicit loops
    rows = X.reshape(-1, case["d_in"])
    for r, x in enumerate(rows):
        if case["normalize"] == "layer_norm":
            mu = sum(x) / len(x)
            sd = (sum((v - mu) ** 2 for v in x) / (len(x) - 1)) ** 0.5
            xn = (x - mu) / (sd + 1e-5)
        elif case["normalize"] == "constant_norm_rescale":
            xn = x * (len(x) ** 0.5 / np.sqrt(np.dot(x, x)))
        else:
            xn = x.copy()
        if spec["apply_b_dec_to_input"] and not is_tc:
            xn = xn - P["b_dec"]
        pre = np.array([np.dot(xn, P["W_enc"][:, j]) + P["b_enc"][j] for j in range(case["d_sae"])])
        assert np.allclose(pre, E["acts_pre"].reshape(-1, case["d_sae"])[r], rtol=1e-12, atol=1e-12)
        if spec["arch"] == "topk":
            order = sorted(range(len(pre)), key=lambda j: -pre[j])[:case["k"]]
            post = np.zeros_like(pre)
            for j in order:
                post[j] = max(pre[j], 0.0)
        elif "threshold" in P:
            post = np.where(pre > P["threshold"], pre, 0.0) * (pre > 0)
        else:
            post = np.maximum(pre, 0)
        got = E["acts_post"].reshape(-1, case["d_sae"])[r]
        assert np.array_equal(post > 0, got > 0) and np.allclose(post, got, rtol=1e-12, atol=1e-12)
    out_w = E["output_with_error"] if "output_with_error" in E else None
    if out_w is not None:
        assert np.allclose(out_w, X, atol=1e-12), name
        assert np.allclose(E["error"], X - E["output"], atol=1e-12)
        f1, f2 = info["ablate_features"]
        delta = -(E["acts_post"][..., [f1, f2]] @ P["W_dec"][[f1, f2]])
        if case["normalize"] == "layer_norm":
            _, st = sm.norm_in(X, "layer_norm", case["d_in"])
            delta = delta * st["std"]
        elif case["normalize"] == "constant_norm_rescale":
            delta = delta * np.linalg.norm(X, axis=-1, keepdims=True) / np.sqrt(case["d_in"])
        assert np.allclose(E["ablated_output_with_error"], X + delta, atol=1e-12)
    if case["normalize"] == "none" and spec["arch"] != "skip_transcoder":
        assert np.array_equal(E["recons"], E["output"])
    if name == "topk":
        nz = (E["acts_post"] > 0).sum(-1)
        assert nz.max() == case["k"] and nz[2, 4] < case["k"]
    if name == "batchtopk":
        assert (E["acts_post_batchtopk"] > 0).sum() == int(case["k"] * BATCH * POS)
    for f in os.listdir(d):
        assert f in info["files"] + ["expected.json"], f


EXTRA = ["spliced_gpt2", "losses"]


def write_all(root):
    import sae_losses
    import sae_splice
    for name, case in CASES.items():
        write_case(name, case, root)
    sae_splice.build(root)
    return sae_losses.build(root)


def main():
    args = sys.argv[1:]
    if "--check" not in args:
        if os.path.isdir(OUT):
            for name in list(CASES) + EXTRA:
                shutil.rmtree(os.path.join(OUT, name), ignore_errors=True)
        os.makedirs(OUT, exist_ok=True)
        fd = write_all(OUT)
        for arch, errs in fd.items():
            print(f"losses/{arch}: finite differences vs analytic, max rel error {max(errs.values()):.2g}")
        tmp = tempfile.mkdtemp()
        try:
            write_all(tmp)
            for dirpath, dirs, files in os.walk(tmp):
                rel = os.path.relpath(dirpath, tmp)
                assert sorted(os.listdir(os.path.join(OUT, rel))) == sorted(dirs + files), rel
                for f in files:
                    assert filecmp.cmp(os.path.join(OUT, rel, f), os.path.join(dirpath, f),
                                       shallow=False), f"{rel}/{f} differs between runs"
        finally:
            shutil.rmtree(tmp)
        print("regenerated twice: byte-identical")
    import sae_losses
    import sae_splice
    for name in CASES:
        check_case(name, OUT)
    sae_splice.check(OUT)
    sae_losses.check(OUT)
    print("self-check passed:", ", ".join(list(CASES) + EXTRA))


if __name__ == "__main__":
    main()

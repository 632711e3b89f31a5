"""PyTorch-eager peer of `./loupe bench`: the same measures on the same model shapes in plain PyTorch, each beside the
GEMM peak of its own matrix products.

Needs Debian's python3-torch (`apt-get install python3-torch`, PyTorch 1.13 on OpenBLAS) and nothing else; not part of
the tests. `./loupe bench --peer` runs it once Loupe's measures have ended (each process holds a model: Llama 3.2 1B's
shape is 6 GB of float32 weights, so the two never run at the same time); by hand, on a quiet machine:

    /usr/bin/python3 bench/peers/forward_torch.py [--runs N] [--only gpt2|llama] [--json]

Models, random weights of Loupe's shapes (bench/BenchModels.java), untied: a nanoGPT-style GPT-2 small (fused QKV
projection, F.layer_norm, GELU-new, biases) and Llama 3.2 1B (RMSNorm, rotary positions with Llama 3 scaling,
grouped-query attention, SwiGLU). Two threads, torch.inference_mode.

Measures, named as Loupe names them: forward 1x128 and 8x128; runWithCache 8x128, a forward pass that keeps a reference
to every activation TransformerLens's run_with_cache keeps (embeddings; per block resid_pre, resid_mid, resid_post, each
norm's scale and normalized input, computed TransformerLens's way to have them, q, k, v, rotated q and k, attention
scores and pattern, z, attn_out, MLP pre, pre_linear and post, mlp_out; the final norm's); on GPT-2 also forward 1x15
and the resid_pre patching sweep as TransformerLens runs it: one forward pass per patch (12 layers x 15 positions, 180
passes of 1x15 tokens), resid_pre at (layer, position) replaced by its clean value, the metric a logit difference at
the last position.

Figures as Loupe's (dev.loupe.bench.LimitBench): FLOPs of the matrix products (projections, attention scores and
pattern x values over full score matrices, MLP, unembedding); the median and minimum of N timed runs after warm-up;
the GEMM peak, this forward's own products alone (F.linear on the model's weights, matmul for attention, random
activations made beforehand; passes repeated for at least 0.5 s, the best of three); the fraction of peak. The sweep's
FLOPs are its FLOP limit (blocks l.. on positions p.. per patch, one unembedded position), against the peak of a 1x15
forward pass, the shape it runs. --json prints one JSON document in LimitBench's form (the table goes to stderr).
"""
import argparse
import json
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F

GPT2 = dict(layers=12, d=768, heads=12, kv_heads=12, d_head=64, d_mlp=3072, vocab=50257, ctx=1024, eps=1e-5)
LLAMA = dict(layers=16, d=2048, heads=32, kv_heads=8, d_head=64, d_mlp=8192, vocab=128256, ctx=131072, eps=1e-5,
             rope_base=500000.0, rope_factor=32.0, rope_low=1.0, rope_high=4.0, rope_original_ctx=8192)


def keep(cache, name, x):
    """A hook point: the activation goes into the cache when there is one, as run_with_cache keeps it."""
    if cache is not None:
        cache[name] = x
    return x


def normalized(x, eps, cache, name, centre):
    """x / scale (centred first for LayerNorm), recorded as TransformerLens's hook_scale and hook_normalized."""
    if centre:
        x = x - x.mean(-1, keepdim=True)
    scale = keep(cache, name + ".hook_scale", (x.pow(2).mean(-1, keepdim=True) + eps).sqrt())
    return keep(cache, name + ".hook_normalized", x / scale)


def attention(q, k, v, heads, cache, prefix):
    """Causal attention over [batch, pos, heads, d_head] queries; keys and values repeated for grouped-query heads."""
    b, t, _, dh = q.shape
    if k.shape[2] != heads:
        k = k.repeat_interleave(heads // k.shape[2], dim=2)
        v = v.repeat_interleave(heads // v.shape[2], dim=2)
    scores = q.transpose(1, 2) @ k.permute(0, 2, 3, 1) / math.sqrt(dh)
    mask = torch.ones(t, t, dtype=torch.bool).triu(1)
    scores = keep(cache, prefix + "hook_attn_scores", scores.masked_fill(mask, float("-inf")))
    pattern = keep(cache, prefix + "hook_pattern", scores.softmax(-1))
    return keep(cache, prefix + "hook_z", (pattern @ v.transpose(1, 2)).transpose(1, 2))


class Model:
    """Weights as nn.Linear keeps them ([out, in]), random; forward(tokens, cache, patch) is the whole pass."""

    def __init__(self, cfg, gen):
        self.cfg = cfg
        self.gen = gen

    def param(self, *shape):
        return torch.randn(*shape, generator=self.gen) * 0.02

    def forward(self, tokens, cache=None, patch=None):
        """Logits [batch, pos, vocab]; patch = (layer, position, value) replaces resid_pre there, TransformerLens's hook."""
        x = self.embed(tokens, cache)
        for layer, block in enumerate(self.blocks):
            prefix = f"blocks.{layer}."
            if patch is not None and patch[0] == layer:
                x[:, patch[1]] = patch[2]
            x = keep(cache, prefix + "hook_resid_pre", x)
            x = self.block(block, x, cache, prefix)
        return F.linear(self.final_norm(x, cache), self.w_u)

    def gemms(self, batch, pos):
        """(weight or None, batch, m, k, n) of each matrix product of a forward pass, in order, weights [n, k]."""
        c = self.cfg
        rows, heads = batch * pos, batch * c["heads"]
        out = []
        for block in self.blocks:
            before, after = self.projections(block)
            out += [(w, 1, rows, w.shape[1], w.shape[0]) for w in before]
            out += [(None, heads, pos, c["d_head"], pos), (None, heads, pos, pos, c["d_head"])]
            out += [(w, 1, rows, w.shape[1], w.shape[0]) for w in after]
        return out + [(self.w_u, 1, rows, c["d"], c["vocab"])]


class Gpt2(Model):
    def __init__(self, gen):
        super().__init__(GPT2, gen)
        d, m, v = GPT2["d"], GPT2["d_mlp"], GPT2["vocab"]
        self.w_e, self.w_pos = self.param(v, d), self.param(GPT2["ctx"], d)
        self.blocks = [dict(ln1_w=torch.ones(d), ln1_b=torch.zeros(d), qkv_w=self.param(3 * d, d), qkv_b=torch.zeros(3 * d),
                            o_w=self.param(d, d), o_b=torch.zeros(d), ln2_w=torch.ones(d), ln2_b=torch.zeros(d),
                            in_w=self.param(m, d), in_b=torch.zeros(m), out_w=self.param(d, m), out_b=torch.zeros(d))
                       for _ in range(GPT2["layers"])]
        self.lnf_w, self.lnf_b, self.w_u = torch.ones(d), torch.zeros(d), self.param(v, d)

    @staticmethod
    def projections(block):
        """The block's weights multiplied before attention (the fused QKV) and after it."""
        return [block["qkv_w"]], [block["o_w"], block["in_w"], block["out_w"]]

    def embed(self, tokens, cache):
        embed = keep(cache, "hook_embed", self.w_e[tokens])
        return embed + keep(cache, "hook_pos_embed", self.w_pos[:tokens.shape[1]])

    def layer_norm(self, x, w, b, cache, name):
        if cache is None:
            return F.layer_norm(x, (x.shape[-1],), w, b, GPT2["eps"])
        return normalized(x, GPT2["eps"], cache, name, True) * w + b

    def block(self, blk, x, cache, prefix):
        b, t, d = x.shape
        h = self.layer_norm(x, blk["ln1_w"], blk["ln1_b"], cache, prefix + "ln1")
        q, k, v = F.linear(h, blk["qkv_w"], blk["qkv_b"]).view(b, t, 3, GPT2["heads"], GPT2["d_head"]).unbind(2)
        a = prefix + "attn."
        z = attention(keep(cache, a + "hook_q", q), keep(cache, a + "hook_k", k), keep(cache, a + "hook_v", v),
                      GPT2["heads"], cache, a)
        x = keep(cache, prefix + "hook_resid_mid",
                 x + keep(cache, prefix + "hook_attn_out", F.linear(z.reshape(b, t, d), blk["o_w"], blk["o_b"])))
        h = self.layer_norm(x, blk["ln2_w"], blk["ln2_b"], cache, prefix + "ln2")
        pre = keep(cache, prefix + "mlp.hook_pre", F.linear(h, blk["in_w"], blk["in_b"]))
        post = keep(cache, prefix + "mlp.hook_post", F.gelu(pre, approximate="tanh"))
        out = keep(cache, prefix + "hook_mlp_out", F.linear(post, blk["out_w"], blk["out_b"]))
        return keep(cache, prefix + "hook_resid_post", x + out)

    def final_norm(self, x, cache):
        return self.layer_norm(x, self.lnf_w, self.lnf_b, cache, "ln_final")


class Llama(Model):
    def __init__(self, gen):
        super().__init__(LLAMA, gen)
        c = LLAMA
        d, m, q, kv = c["d"], c["d_mlp"], c["heads"] * c["d_head"], c["kv_heads"] * c["d_head"]
        self.w_e = self.param(c["vocab"], d)
        self.blocks = [dict(ln1_w=torch.ones(d), q_w=self.param(q, d), k_w=self.param(kv, d), v_w=self.param(kv, d),
                            o_w=self.param(d, q), ln2_w=torch.ones(d), gate_w=self.param(m, d), up_w=self.param(m, d),
                            down_w=self.param(d, m))
                       for _ in range(c["layers"])]
        self.lnf_w, self.w_u = torch.ones(d), self.param(c["vocab"], d)
        self.inv_freq = llama3_frequencies(c)

    @staticmethod
    def projections(block):
        return [block["q_w"], block["k_w"], block["v_w"]], [block["o_w"], block["gate_w"], block["up_w"], block["down_w"]]

    def embed(self, tokens, cache):
        return keep(cache, "hook_embed", self.w_e[tokens])

    def rms_norm(self, x, w, cache, name):
        if cache is None:
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + LLAMA["eps"]) * w
        return normalized(x, LLAMA["eps"], cache, name, False) * w

    def block(self, blk, x, cache, prefix):
        c = LLAMA
        b, t, d = x.shape
        h = self.rms_norm(x, blk["ln1_w"], cache, prefix + "ln1")
        a = prefix + "attn."
        q = keep(cache, a + "hook_q", F.linear(h, blk["q_w"]).view(b, t, c["heads"], c["d_head"]))
        k = keep(cache, a + "hook_k", F.linear(h, blk["k_w"]).view(b, t, c["kv_heads"], c["d_head"]))
        v = keep(cache, a + "hook_v", F.linear(h, blk["v_w"]).view(b, t, c["kv_heads"], c["d_head"]))
        freqs = torch.outer(torch.arange(t, dtype=torch.float32), self.inv_freq)
        cos, sin = [f(torch.cat([freqs, freqs], -1))[:, None, :] for f in (torch.cos, torch.sin)]
        q = keep(cache, a + "hook_rot_q", q * cos + rotate_half(q) * sin)
        k = keep(cache, a + "hook_rot_k", k * cos + rotate_half(k) * sin)
        z = attention(q, k, v, c["heads"], cache, a)
        x = keep(cache, prefix + "hook_resid_mid",
                 x + keep(cache, prefix + "hook_attn_out", F.linear(z.reshape(b, t, -1), blk["o_w"])))
        h = self.rms_norm(x, blk["ln2_w"], cache, prefix + "ln2")
        pre = keep(cache, prefix + "mlp.hook_pre", F.linear(h, blk["gate_w"]))
        linear = keep(cache, prefix + "mlp.hook_pre_linear", F.linear(h, blk["up_w"]))
        post = keep(cache, prefix + "mlp.hook_post", F.silu(pre) * linear)
        out = keep(cache, prefix + "hook_mlp_out", F.linear(post, blk["down_w"]))
        return keep(cache, prefix + "hook_resid_post", x + out)

    def final_norm(self, x, cache):
        return self.rms_norm(x, self.lnf_w, cache, "ln_final")


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], -1)


def llama3_frequencies(c):
    """Hugging Face's inverse rotary frequencies with rope_type llama3: long wavelengths slowed by the factor, short
    ones kept, those between interpolated."""
    inv = 1.0 / c["rope_base"] ** (torch.arange(0, c["d_head"], 2, dtype=torch.float32) / c["d_head"])
    wavelength = 2 * math.pi / inv
    low, high = c["rope_original_ctx"] / c["rope_low"], c["rope_original_ctx"] / c["rope_high"]
    scaled = torch.where(wavelength > low, inv / c["rope_factor"], inv)
    smooth = (c["rope_original_ctx"] / wavelength - c["rope_low"]) / (c["rope_high"] - c["rope_low"])
    between = (wavelength <= low) & (wavelength >= high)
    return torch.where(between, (1 - smooth) * scaled / c["rope_factor"] + smooth * scaled, scaled)


def flops(gemms):
    return sum(2.0 * b * m * k * n for _, b, m, k, n in gemms)


def resid_pre_sweep_limit(c, pos):
    """As LimitBench: patch (l, p) needs blocks l.. on positions p.. (queries scoring keys up to their own position) and
    one unembedded position."""
    q, kv = c["heads"] * c["d_head"], c["kv_heads"] * c["d_head"]
    weights_per_row = 2.0 * c["d"] * (2 * q + 2 * kv + 2 * c["d_mlp"])  # GPT-2's MLP is ungated
    total = 0.0
    for layer in range(c["layers"]):
        for p in range(pos):
            attention_flops = sum(4.0 * c["heads"] * c["d_head"] * (query + 1) for query in range(p, pos))
            total += (c["layers"] - layer) * ((pos - p) * weights_per_row + attention_flops) + 2.0 * c["d"] * c["vocab"]
    return total


def peak(gemms):
    """FLOP/s of these products alone, in order: passes for at least 0.5 s, the best of three after one of warm-up."""
    activations = {}

    def activation(*shape):
        shape = shape[1:] if shape[0] == 1 else shape
        return activations.setdefault(shape, torch.randn(*shape))

    ops = []
    for w, b, m, k, n in gemms:
        if w is None:
            ops.append((torch.matmul, activation(b, m, k), activation(b, k, n)))
        else:
            ops.append((F.linear, activation(b, m, k), w))

    def run():
        for op, x, y in ops:
            op(x, y)

    run()
    best = math.inf
    for _ in range(3):
        start, passes = time.perf_counter(), 0
        while True:
            run()
            passes += 1
            if time.perf_counter() - start >= 0.5:
                break
        best = min(best, (time.perf_counter() - start) / passes)
    return flops(gemms) / best


def square_1024():
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    best = 0
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(20):
            a @ b
        best = max(best, 20 * 2 * 1024 ** 3 / (time.perf_counter() - start))
    return best


def seconds(runs, body):
    """Sorted seconds of runs timed runs after warm-up: two runs, or one that took over a second (as LimitBench)."""
    start = time.perf_counter()
    body()
    if time.perf_counter() - start < 1:
        body()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        body()
        times.append(time.perf_counter() - start)
    return sorted(times)


def at_peak(model, measure, flop_count, peak_rate, times, **extra):
    median = statistics.median(times)
    return dict(model=model, measure=measure, flops=flop_count, peak_flops_per_s=peak_rate, runs=len(times),
                median_s=median, min_s=times[0], achieved_flops_per_s=flop_count / median,
                fraction_of_peak=flop_count / median / peak_rate, min_over_median=times[0] / median, **extra)


def forward_measure(model, key, tokens, runs):
    b, t = tokens.shape
    gemms = model.gemms(b, t)
    rate = peak(gemms)
    return at_peak(key, f"forward {b}x{t}", flops(gemms), rate, seconds(runs, lambda: model.forward(tokens)))


def measures(key, model, runs, out):
    vocab = model.cfg["vocab"]
    gen = torch.Generator().manual_seed(0)
    for b in (1, 8):
        out(forward_measure(model, key, torch.randint(0, vocab, (b, 128), generator=gen), runs))
    tokens = torch.randint(0, vocab, (8, 128), generator=gen)
    gemms = model.gemms(8, 128)
    rate = peak(gemms)
    cache = {}

    def with_cache():
        cache.clear()
        model.forward(tokens, cache=cache)

    times = seconds(runs, with_cache)
    size = sum(x.numel() * x.element_size() for x in cache.values())
    out(at_peak(key, "runWithCache 8x128", flops(gemms), rate, times, cache_bytes=size))
    cache.clear()
    if key != "gpt2":
        return
    clean = torch.randint(0, vocab, (1, 15), generator=gen)
    corrupted = clean.clone()
    corrupted[0, 4] = 1234
    out(forward_measure(model, key, corrupted, runs))
    clean_cache = {}
    model.forward(clean, cache=clean_cache)
    layers, pos = model.cfg["layers"], clean.shape[1]

    def sweep():
        values = []
        for layer in range(layers):
            resid = clean_cache[f"blocks.{layer}.hook_resid_pre"]
            for p in range(pos):
                logits = model.forward(corrupted, patch=(layer, p, resid[:, p]))
                values.append((logits[0, -1, 11] - logits[0, -1, 22]).item())
        return values

    rate = peak(model.gemms(1, pos))
    limit = resid_pre_sweep_limit(model.cfg, pos)
    times = seconds(runs, sweep)
    median = statistics.median(times)
    out(at_peak(key, f"resid_pre sweep {layers}x{pos}", limit, rate, times, flop_limit_multiple=median / (limit / rate)))


def row(m):
    giga = lambda x: "-" if x is None else f"{x / 1e9:.1f}"
    note = (f"cache {m['cache_bytes'] / 1e6:,.0f} MB" if "cache_bytes" in m
            else f"{m['flop_limit_multiple']:.2f}x its FLOP limit" if "flop_limit_multiple" in m else "")
    share = "-" if m.get("fraction_of_peak") is None else f"{100 * m['fraction_of_peak']:.0f}%"
    return (f"{m['model']:<6} {m['measure']:<26} {giga(m.get('flops')):>9} {giga(m.get('peak_flops_per_s')):>10} "
            f"{m['median_s']:9.3f} {m['min_s']:9.3f} {giga(m.get('achieved_flops_per_s')):>9} {share:>8} "
            f"{m['min_over_median']:8.2f}  {note}").rstrip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--only", choices=["gpt2", "llama"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(2)
    table = sys.stderr if args.json else sys.stdout
    report = dict(runtime=f"PyTorch {torch.__version__} eager", threads=torch.get_num_threads(), runs=args.runs,
                  gemm1024_flops_per_s=square_1024(), measures=[])
    print(f"{report['runtime']}, {report['threads']} threads, median and min of {args.runs} timed runs; "
          f"1024x1024 GEMM: {report['gemm1024_flops_per_s'] / 1e9:.1f} GFLOP/s", file=table)
    print(f"{'model':<6} {'measure':<26} {'GFLOP':>9} {'peak GF/s':>10} {'median s':>9} {'min s':>9} {'GFLOP/s':>9} "
          f"{'of peak':>8} {'min/med':>8}", file=table)

    def out(m):
        report["measures"].append(m)
        print(row(m), file=table, flush=True)

    with torch.inference_mode():
        for key, make in (("gpt2", Gpt2), ("llama", Llama)):
            if args.only in (None, key):
                measures(key, make(torch.Generator().manual_seed(0)), args.runs, out)
    if args.json:
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

"""PyTorch-eager peer of `./loupe bench sae-train`: the same SAE training loop, step for step, in plain PyTorch.

Needs Debian's python3-torch (`apt-get install python3-torch`, PyTorch 1.13); not part of the tests. Run it with
Debian's interpreter, when the machine is quiet, one benchmark at a time:

    /usr/bin/python3 bench/peers/sae_train_torch.py [refills]

A standard SAE (d_in 512, d_sae 8192, batch 4096: MSE summed over d_in + l1 * sum_i f_i * |W_dec,i|, Adam with
betas (0.9, 0.999), gradients clipped to norm 1, as SAELens trains it) on blocks.1.hook_resid_pre of a random 2-layer
model (d_model 512, 8 heads, d_mlp 2048, vocabulary 4096, GELU, pre-layer-norm) fed random tokens, 32 x 128 per
token batch and 8 token batches a refill, position 0 left out, each refill shuffled. Once with harvesting (the
forward pass runs block 0 only), once from activations in memory; then the 1024^2 GEMM rate.
"""
import math
import sys
import time

import torch

from forward_torch import square_1024  # the 1024^2 GEMM rate, timed as the forward peer times it

D, D_SAE, BATCH, ROWS, CTX, WINDOWS, VOCAB = 512, 8192, 4096, 32, 128, 8, 4096
HEADS, D_MLP = 8, 2048


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = torch.nn.LayerNorm(D)
        self.qkv = torch.nn.Linear(D, 3 * D)
        self.out = torch.nn.Linear(D, D)
        self.ln2 = torch.nn.LayerNorm(D)
        self.mlp_in = torch.nn.Linear(D, D_MLP)
        self.mlp_out = torch.nn.Linear(D_MLP, D)

    def forward(self, x):
        b, p, _ = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, p, 3, HEADS, D // HEADS).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-1, -2) / math.sqrt(D // HEADS)
        mask = torch.triu(torch.ones(p, p, dtype=torch.bool), 1)
        z = scores.masked_fill(mask, float("-inf")).softmax(-1) @ v
        x = x + self.out(z.transpose(1, 2).reshape(b, p, D))
        return x + self.mlp_out(torch.nn.functional.gelu(self.mlp_in(self.ln2(x))))


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, D)
        self.pos = torch.nn.Embedding(CTX, D)
        self.blocks = torch.nn.ModuleList([Block(), Block()])

    @torch.no_grad()
    def resid_pre(self, tokens, layer):
        x = self.embed(tokens) + self.pos(torch.arange(tokens.shape[1]))
        for block in self.blocks[:layer]:
            x = block(x)
        return x


def refills(model, harvest, block):
    r = 0
    while True:
        if harvest:
            g = torch.Generator().manual_seed(r)
            acts = [model.resid_pre(torch.randint(0, VOCAB, (ROWS, CTX), generator=g), 1)[:, 1:].reshape(-1, D)
                    for _ in range(WINDOWS)]
            acts = torch.cat(acts)
        else:
            acts = block
        acts = acts[torch.randperm(acts.shape[0])]
        for i in range(acts.shape[0] // BATCH):
            yield acts[i * BATCH:(i + 1) * BATCH]
        r += 1


def train(model, harvest, block, n_refills, per_refill):
    w_dec = torch.nn.init.kaiming_uniform_(torch.empty(D_SAE, D))
    w_dec = torch.nn.Parameter(w_dec / w_dec.norm(dim=1, keepdim=True) * 0.1)
    w_enc = torch.nn.Parameter(w_dec.data.T.clone())
    b_enc = torch.nn.Parameter(torch.zeros(D_SAE))
    b_dec = torch.nn.Parameter(torch.zeros(D))
    params = [w_enc, b_enc, w_dec, b_dec]
    opt = torch.optim.Adam(params, lr=3e-4, betas=(0.9, 0.999))
    batches = refills(model, harvest, block)
    start = None
    for step in range(per_refill * (n_refills + 1)):
        if step == per_refill:
            start = time.perf_counter()
        x = next(batches)
        f = torch.relu((x - b_dec) @ w_enc + b_enc)
        out = f @ w_dec + b_dec
        mse = (out - x).pow(2).sum(-1).mean()
        l1 = (f * w_dec.norm(dim=1)).sum(-1).mean()
        loss = mse + l1
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad()
        loss.item()  # the Java loop reads the loss every step
    return per_refill * n_refills * BATCH / (time.perf_counter() - start)


def main():
    n_refills = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    torch.manual_seed(0)
    per_refill = WINDOWS * ROWS * (CTX - 1) // BATCH
    model = Model()
    with_harvest = train(model, True, None, n_refills, per_refill)
    block = torch.randn(WINDOWS * ROWS * (CTX - 1), D)
    step_only = train(model, False, block, n_refills, per_refill)
    peak = square_1024()
    flops = 12.0 * BATCH * D * D_SAE
    print(f"PyTorch {torch.__version__} eager, {torch.get_num_threads()} threads; SAE d_in {D}, d_sae {D_SAE}, "
          f"batch {BATCH}, {n_refills} refills of {per_refill} steps:")
    print(f"  with harvesting: {with_harvest:,.0f} tokens/s")
    print(f"  SAE step alone: {step_only:,.0f} tokens/s = {step_only / BATCH:.1f} steps/s, "
          f"{step_only / BATCH * flops / 1e9:.1f} GFLOP/s")
    print(f"  1024x1024 GEMM: {peak / 1e9:.1f} GFLOP/s; the SAE step reaches {100 * step_only / BATCH * flops / peak:.0f}% of it")


if __name__ == "__main__":
    main()

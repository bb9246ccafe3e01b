#!/usr/bin/python3
"""The PyTorch peer of train_gpt: same GPT-2 architecture (nanoGPT's layout and names),
initialisation, recipe, batching and evaluation.

Reads the same HDF5 token file (prepare_text). Run with Debian's python3-torch 1.13
(scripts/install-deps.sh --reference):
    /usr/bin/python3 bench/pytorch/gpt_ref.py --data data/brown.h5 --model gpt-nano \
        --steps 1000 --batch 16 --threads 2 [--out runs/ref-gpt]
    /usr/bin/python3 bench/pytorch/gpt_ref.py --data ... --benchmark-steps 20   # tokens/s JSON
Prints one JSON line at the end: validation loss, perplexity, bits per byte, tokens/s,
peak RSS.
"""
import argparse
import json
import math
import os
import time

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from recipe import add_recipe_args, make_step, peak_rss_mb, trunc_normal

# depth, heads, width, context: nn/gpt.cpp's table.
MODELS = {
    "gpt-nano": dict(depth=4, heads=4, dim=128, context=128),
    "gpt-micro": dict(depth=6, heads=6, dim=192, context=256),
    "gpt-mini": dict(depth=8, heads=8, dim=256, context=256),
}


class CausalSelfAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.c_attn = nn.Linear(dim, 3 * dim)
        self.c_proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, T, C = x.shape
        D = C // self.heads
        q, k, v = self.c_attn(x).reshape(B, T, 3, self.heads, D).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-2, -1) / math.sqrt(D)
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
        att = torch.softmax(scores.masked_fill(mask, float("-inf")), -1)
        return self.c_proj((att @ v).transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    def __init__(self, dim, heads, act):
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn = CausalSelfAttention(dim, heads)
        self.ln_2 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(dim, 4 * dim))
        self.mlp.add_module("act", act())
        self.mlp.add_module("c_proj", nn.Linear(4 * dim, dim))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, vocab, depth, heads, dim, context, act=nn.GELU):
        super().__init__()
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(vocab, dim), wpe=nn.Embedding(context, dim),
            h=nn.ModuleList([Block(dim, heads, act) for _ in range(depth)]),
            ln_f=nn.LayerNorm(dim, eps=1e-5)))
        self.lm_head = nn.Linear(dim, vocab, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied, as GPT-2
        for name, p in self.named_parameters():  # train_gpt's initialisation
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif ".ln_" in name:
                nn.init.ones_(p)
            elif name.endswith("c_proj.weight"):  # writes into the residual stream
                trunc_normal(p, 0.02 / math.sqrt(2 * depth))
            else:
                trunc_normal(p)

    def forward(self, ids):
        T = ids.shape[1]
        x = self.transformer.wte(ids) + self.transformer.wpe.weight[:T]
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))


ACTS = {"gelu": nn.GELU, "gelu-tanh": lambda: nn.GELU(approximate="tanh"), "relu": nn.ReLU,
        "silu": nn.SiLU}


def load(path):
    with h5py.File(path, "r") as f:
        out = {"vocab": int(f.attrs["vocab_size"])}
        for split in ("train", "val", "test"):
            out[split] = (f[f"{split}/tokens"][...].astype(np.int64), int(f[split].attrs["bytes"]))
    return out


def windows(tokens, starts, T):
    idx = np.asarray(starts)[:, None] + np.arange(T)[None, :]
    return torch.from_numpy(tokens[idx]), torch.from_numpy(tokens[idx + 1])


def evaluate(model, split, T, batch, limit=0):
    """Every token of the split scored once, in consecutive windows (as train_gpt)."""
    tokens, nbytes = split
    n = min(limit, len(tokens)) if limit else len(tokens)
    predicted = n - 1
    nats, start = 0.0, 0
    model.eval()
    with torch.no_grad():
        while start < predicted:
            length = min(T, predicted - start)
            count = min(batch, (predicted - start) // T) if length == T else 1
            x, y = windows(tokens, [start + i * length for i in range(count)], length)
            logits = model(x)
            nats += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                    reduction="sum").item()
            start += count * length
    model.train()
    loss = nats / predicted
    return {"val_loss": loss, "val_perplexity": math.exp(loss),
            "val_bits_per_byte": nats / math.log(2) / (nbytes * predicted / len(tokens))}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_recipe_args(ap, MODELS, ACTS, "gpt-nano")
    ap.add_argument("--context", type=int, default=0)
    ap.add_argument("--limit-test", type=int, default=0)
    ap.add_argument("--eval-every", type=int, default=0)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    data = load(args.data)
    cfg = MODELS[args.model]
    T = args.context or cfg["context"]
    model = GPT(data["vocab"], act=ACTS[args.act], **cfg)
    train = data["train"][0]
    nwin = (len(train) - 1 - T) // T
    bpe = (nwin + args.batch - 1) // args.batch
    total = args.epochs * bpe if not args.steps else min(args.epochs * bpe, args.steps)

    def epoch_starts():
        offset = rng.integers(T)
        return offset + rng.permutation(nwin) * T

    def loss_fn(m, starts):
        x, y = windows(train, starts, T)
        logits = m(x)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    step_fn = make_step(model, args, total, loss_fn)

    if args.benchmark_steps:
        starts = epoch_starts()
        warm = 5
        for s in range(warm + args.benchmark_steps):
            if s == warm:
                t0 = time.perf_counter()
            b = s % bpe
            last_loss = step_fn(s, starts[b * args.batch:(b + 1) * args.batch])
        secs = time.perf_counter() - t0
        print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "model": args.model,
                          "act": args.act, "batch": args.batch, "context": T,
                          "threads": args.threads, "steps": args.benchmark_steps,
                          "tokens_per_s": args.benchmark_steps * args.batch * T / secs,
                          "step_ms": 1e3 * secs / args.benchmark_steps,
                          "final_loss": float(last_loss), "peak_rss_mb": peak_rss_mb()}))
        return

    rows, result = [], {}
    t_start = time.perf_counter()
    train_seconds, step = 0.0, 0
    for epoch in range(args.epochs):
        starts = epoch_starts()
        for b in range(bpe):
            if step >= total:
                break
            t0 = time.perf_counter()
            loss = step_fn(step, starts[b * args.batch:(b + 1) * args.batch])
            train_seconds += time.perf_counter() - t0
            step += 1
            if step % 20 == 0:
                rows.append(("train", step, epoch, loss))
            if (args.eval_every and step % args.eval_every == 0) or step == total or b == bpe - 1:
                result = evaluate(model, data["val"], T, args.batch, args.limit_test)
                rows.append(("val", step, epoch, result["val_loss"]))
                print(f"step {step}: val loss {result['val_loss']:.4f}", flush=True)
        if step >= total:
            break
    result.update({"impl": "pytorch", "model": args.model, "act": args.act, "steps": step,
                   "total_seconds": time.perf_counter() - t_start,
                   "train_tokens_per_s": step * args.batch * T / train_seconds,
                   "peak_rss_mb": peak_rss_mb()})
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "metrics.csv"), "w") as f:
            f.write("kind,step,epoch,train_loss,val_loss\n")
            for r in rows:
                f.write(",".join(str(v) for v in (r if r[0] == "train" else (*r[:3], "", r[3]))) + "\n")
        with open(os.path.join(args.out, "summary.json"), "w") as f:
            json.dump(result, f, indent=2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

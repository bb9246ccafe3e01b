#!/usr/bin/python3
"""The PyTorch peer of train_vit: same architectures, initialisation and recipe.

Reads the same HDF5 data set (prepare_data). Run with Debian's python3-torch 1.13
(scripts/install-deps.sh --reference):
    /usr/bin/python3 bench/pytorch/vit_ref.py --data data/fashion-mnist.h5 --model vit-nano \
        --epochs 5 --threads 2 [--out runs/ref-nano]
    /usr/bin/python3 bench/pytorch/vit_ref.py --data ... --benchmark-steps 20   # images/s JSON
Prints one JSON line at the end: test accuracy and loss, images/s, peak RSS.
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

MODELS = {
    "vit-nano": dict(dim=64, depth=4, heads=4, mlp=256),
    "vit-micro": dict(dim=128, depth=6, heads=4, mlp=512),
    "vit-mini": dict(dim=192, depth=8, heads=6, mlp=768),
}


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, T, C = x.shape
        D = C // self.heads
        qkv = self.qkv(x).reshape(B, T, 3, self.heads, D).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(D), -1)
        return self.proj((att @ v).transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp, act):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential()
        self.mlp.add_module("fc1", nn.Linear(dim, mlp))
        self.mlp.add_module("act", act())
        self.mlp.add_module("fc2", nn.Linear(mlp, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, channels, patch, dim):
        super().__init__()
        self.proj = nn.Conv2d(channels, dim, patch, patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class ViT(nn.Module):
    def __init__(self, channels, height, width, classes, dim, depth, heads, mlp, act, patch=4):
        super().__init__()
        n = (height // patch) * (width // patch)
        self.patch_embed = PatchEmbed(channels, patch, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, dim))
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp, act) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, classes)
        for name, p in self.named_parameters():  # train_vit's initialisation
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif name.startswith("norm") or ".norm" in name:
                nn.init.ones_(p)
            else:
                trunc_normal(p)

    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        x = self.blocks(x)
        return self.head(self.norm(x[:, 0]))


ACTS = {"gelu": nn.GELU, "gelu-tanh": lambda: nn.GELU(approximate="tanh"), "relu": nn.ReLU}


def load(path):
    with h5py.File(path, "r") as f:
        mean = np.asarray(f.attrs["mean"], np.float32)
        std = np.asarray(f.attrs["std"], np.float32)
        out = {"classes": int(f.attrs["classes"])}
        for split in ("train", "test"):
            x = f[f"{split}/images"][...]
            if x.ndim == 3:
                x = x[:, None]
            out[split] = (x, f[f"{split}/labels"][...].astype(np.int64))
    return out, mean, std


def batch_tensor(images, idx, mean, std):
    x = torch.from_numpy(images[idx].astype(np.float32) / 255.0)
    return (x - torch.from_numpy(mean)[None, :, None, None]) / torch.from_numpy(std)[None, :, None, None]


def evaluate(model, data, mean, std, batch=500):
    model.eval()
    x, y = data
    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(y), batch):
            idx = np.arange(i, min(i + batch, len(y)))
            logits = model(batch_tensor(x, idx, mean, std))
            t = torch.from_numpy(y[idx])
            loss += F.cross_entropy(logits, t, reduction="sum").item()
            correct += (logits.argmax(1) == t).sum().item()
    model.train()
    return loss / len(y), correct / len(y)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_recipe_args(ap, MODELS, ACTS, "vit-nano")
    ap.add_argument("--limit-train", type=int, default=0)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    data, mean, std = load(args.data)
    x_train, y_train = data["train"]
    if args.limit_train:
        x_train, y_train = x_train[: args.limit_train], y_train[: args.limit_train]
    _, C, H, W = x_train.shape
    model = ViT(C, H, W, data["classes"], act=ACTS[args.act], **MODELS[args.model])
    n = len(y_train)
    bpe = (n + args.batch - 1) // args.batch
    total = args.epochs * bpe if not args.steps else min(args.epochs * bpe, args.steps)
    step_fn = make_step(model, args, total, lambda m, idx: F.cross_entropy(
        m(batch_tensor(x_train, idx, mean, std)), torch.from_numpy(y_train[idx])))

    if args.benchmark_steps:
        order = rng.permutation(n)
        warm = 5
        for s in range(warm + args.benchmark_steps):
            if s == warm:
                t0 = time.perf_counter()
            b = s % bpe
            last_loss = step_fn(s, order[b * args.batch:(b + 1) * args.batch])
        secs = time.perf_counter() - t0
        print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "model": args.model,
                          "act": args.act, "batch": args.batch, "threads": args.threads,
                          "steps": args.benchmark_steps,
                          "images_per_s": args.benchmark_steps * args.batch / secs,
                          "step_ms": 1e3 * secs / args.benchmark_steps,
                          "final_loss": float(last_loss), "peak_rss_mb": peak_rss_mb()}))
        return

    rows = []
    t_start = time.perf_counter()
    train_seconds = 0.0
    step = 0
    for epoch in range(args.epochs):
        order = rng.permutation(n)
        for b in range(bpe):
            if step >= total:
                break
            t0 = time.perf_counter()
            loss = step_fn(step, order[b * args.batch:(b + 1) * args.batch])
            train_seconds += time.perf_counter() - t0
            step += 1
            if step % 20 == 0:
                rows.append(("train", step, epoch, loss))
        test_loss, test_acc = evaluate(model, data["test"], mean, std)
        rows.append(("test", step, epoch, test_loss, test_acc))
        print(f"epoch {epoch}: test loss {test_loss:.4f}, test accuracy {100 * test_acc:.2f}%", flush=True)
        if step >= total:
            break
    result = {"impl": "pytorch", "model": args.model, "act": args.act, "steps": step,
              "test_accuracy": test_acc, "test_loss": test_loss,
              "total_seconds": time.perf_counter() - t_start,
              "train_images_per_s": step * args.batch / train_seconds,
              "peak_rss_mb": peak_rss_mb()}
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "metrics.csv"), "w") as f:
            f.write("kind,step,epoch,train_loss,test_loss,test_acc\n")
            for r in rows:
                f.write(",".join(str(v) for v in (r if r[0] == "train" else (r[0], r[1], r[2], "", r[3], r[4]))) + "\n")
        with open(os.path.join(args.out, "summary.json"), "w") as f:
            json.dump(result, f, indent=2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

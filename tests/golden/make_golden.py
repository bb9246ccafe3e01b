#!/usr/bin/python3
"""Writes the PyTorch golden fixtures that the C++ tests compare against.

Run with Debian's python3-torch and python3-h5py (scripts/install-deps.sh --reference):
    /usr/bin/python3 tests/golden/make_golden.py [--out tests/golden/ops.h5]

Every case computes in float64 (the fixture is then a near-exact reference for our
float32 kernels) and stores float32 inputs, the output, a random upstream gradient
`gy` and the gradient of every input (`g0`, `g1`, ...), under /ops/<case name>.
The names match tests/autograd/op_cases.h one for one. /references/<function> holds, for
every registered elementwise function, float64 values and derivatives at fixed points
(torch in float64, derivatives by autograd): what the C++ double references are checked
against. /block holds one pre-norm
transformer block (timm naming) with its parameters, input, output and all gradients;
/vit a whole tiny ViT (bench/pytorch/vit_ref.py) with logits, loss and all gradients;
/gpt a whole tiny GPT (bench/pytorch/gpt_ref.py: causal attention, tied output layer)
likewise.
"""
import argparse
import math
import os
import sys

import h5py
import numpy as np
import torch

F = torch.nn.functional


def gelu_tanh(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def attention(qkv, heads, causal=False):
    """Multi-head self-attention on a fused projection (B, T, 3C) -> (B, T, C)."""
    B, T, C3 = qkv.shape
    C = C3 // 3
    D = C // heads
    q, k, v = qkv.reshape(B, T, 3, heads, D).permute(2, 0, 3, 1, 4)
    scores = q @ k.transpose(-2, -1) / math.sqrt(D)
    if causal:
        scores = scores.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
    att = torch.softmax(scores, -1)
    return (att @ v).transpose(1, 2).reshape(B, T, C)


# The registered elementwise functions (core/functions.h), by their registry names: one
# op case each, on a (4, 9) input, and float64 reference values. A function added to the
# registry adds a line here.
FUNCTIONS = {
    "gelu": F.gelu,
    "gelu-tanh": gelu_tanh,
    "relu": F.relu,
    "silu": F.silu,
    "exp": torch.exp,
}

# name -> (input shapes, function of (inputs, labels)); labels only for cross-entropy.
CASES = {
    "add": ([(3, 4, 5), (4, 5)], lambda x, l: x[0] + x[1]),
    "add_broadcast_both": ([(2, 1, 4), (3, 1)], lambda x, l: x[0] + x[1]),
    "sub": ([(3, 4), (3, 1)], lambda x, l: x[0] - x[1]),
    "mul": ([(2, 3, 4), (2, 3, 4)], lambda x, l: x[0] * x[1]),
    "mul_broadcast": ([(4,), (2, 3, 4)], lambda x, l: x[0] * x[1]),
    "scale": ([(3, 4)], lambda x, l: x[0] * 0.37),
    "matmul": ([(5, 3), (3, 4)], lambda x, l: x[0] @ x[1]),
    "matmul_tn": ([(3, 5), (3, 4)], lambda x, l: x[0].T @ x[1]),
    "matmul_nt": ([(5, 3), (4, 3)], lambda x, l: x[0] @ x[1].T),
    "matmul_tt": ([(3, 5), (4, 3)], lambda x, l: x[0].T @ x[1].T),
    "bmm": ([(2, 4, 3), (2, 3, 5)], lambda x, l: torch.bmm(x[0], x[1])),
    "bmm_nt": ([(2, 4, 3), (2, 5, 3)], lambda x, l: torch.bmm(x[0], x[1].transpose(1, 2))),
    "bmm_tn": ([(2, 3, 4), (2, 3, 5)], lambda x, l: torch.bmm(x[0].transpose(1, 2), x[1])),
    "linear": ([(2, 3, 4), (5, 4), (5,)], lambda x, l: F.linear(x[0], x[1], x[2])),
    "sum": ([(3, 4, 5)], lambda x, l: x[0].sum(1)),
    "mean_keepdim": ([(3, 4, 5)], lambda x, l: x[0].mean(-1, keepdim=True)),
    "softmax": ([(3, 4, 7)], lambda x, l: torch.softmax(x[0], -1)),
    "layer_norm": ([(3, 4, 8), (8,), (8,)],
                   lambda x, l: F.layer_norm(x[0], (8,), x[1], x[2], 1e-5)),
    "attention": ([(3, 5, 12)], lambda x, l: attention(x[0], 2)),  # batch 3, 2 heads
    "attention_causal": ([(3, 5, 12)], lambda x, l: attention(x[0], 2, causal=True)),
    "attention_linear": ([(3, 5, 12), (4, 4), (4,)],
                         lambda x, l: F.linear(attention(x[0], 2, causal=True), x[1], x[2])),
    "attention_linear_residual": ([(3, 5, 12), (4, 4), (4,), (3, 5, 4)],
                                  lambda x, l: x[3] + F.linear(attention(x[0], 2), x[1], x[2])),
    "embedding": ([(7, 4)], lambda x, l: F.embedding(
        torch.tensor([[3, 0, 6, 3, 1], [3, 5, 2, 0, 4]]), x[0])),
    "activation_linear": ([(2, 3, 6), (4, 6), (4,)], lambda x, l: F.linear(F.gelu(x[0]), x[1], x[2])),
    "activation_linear_residual": ([(2, 3, 6), (4, 6), (4,), (2, 3, 4)],
                                   lambda x, l: x[3] + F.linear(F.gelu(x[0]), x[1], x[2])),
    "norm_linear": ([(3, 4, 8), (8,), (8,), (5, 8), (5,)],
                    lambda x, l: F.linear(F.layer_norm(x[0], (8,), x[1], x[2], 1e-5), x[3], x[4])),
    "cross_entropy": ([(6, 10)], lambda x, l: F.cross_entropy(x[0], l)),
    "reshape": ([(2, 3, 4)], lambda x, l: x[0].reshape(6, 4)),
    "permute": ([(2, 3, 4, 5)], lambda x, l: x[0].permute(0, 2, 1, 3)),
    "slice": ([(2, 7, 4)], lambda x, l: x[0][:, 2:5, :]),
    "split": ([(2, 7, 4)], lambda x, l: torch.cat(list(reversed(x[0].split([2, 5], 1))), 1)),
    "concat": ([(2, 3, 4), (2, 5, 4)], lambda x, l: torch.cat([x[0], x[1]], 1)),
}
CASES.update({name: ([(4, 9)], lambda x, l, f=f: f(x[0])) for name, f in FUNCTIONS.items()})


def write_case(group, shapes, fn, gen):
    xs = []
    for i, s in enumerate(shapes):
        x = torch.randn(s, dtype=torch.float64, generator=gen)
        x = x.float().double().requires_grad_(True)  # exactly representable in float32
        group[f"x{i}"] = x.detach().float().numpy()
        xs.append(x)
    labels = None
    if group.name.endswith("cross_entropy"):
        labels = torch.randint(0, shapes[0][1], (shapes[0][0],), generator=gen)
        group["labels"] = labels.numpy().astype(np.int32)
    y = fn(xs, labels)
    gy = torch.randn(y.shape, dtype=torch.float64, generator=gen).float().double()
    y.backward(gy)
    group["y"] = y.detach().float().numpy()
    group["gy"] = gy.float().numpy()
    for i, x in enumerate(xs):
        group[f"g{i}"] = x.grad.float().numpy()


def write_references(group):
    """Each function and its derivative in float64 at 97 points on [-6, 6] (not at 0,
    where ReLU has its kink)."""
    for name, f in FUNCTIONS.items():
        x = torch.linspace(-6, 6, 97, dtype=torch.float64)
        x = (x + 1 / 64).requires_grad_(True)
        y = f(x)
        (dy,) = torch.autograd.grad(y.sum(), x)
        group[f"{name}/x"] = x.detach().numpy()
        group[f"{name}/value"] = y.detach().numpy()
        group[f"{name}/derivative"] = dy.numpy()


def block_forward(p, x, heads, eps=1e-6):
    """timm's pre-norm Block: x + attn(norm1(x)), then + mlp(norm2(x))."""
    C = x.shape[-1]
    h = F.layer_norm(x, (C,), p["norm1.weight"], p["norm1.bias"], eps)
    qkv = F.linear(h, p["attn.qkv.weight"], p["attn.qkv.bias"])
    x = x + F.linear(attention(qkv, heads), p["attn.proj.weight"], p["attn.proj.bias"])
    h = F.layer_norm(x, (C,), p["norm2.weight"], p["norm2.bias"], eps)
    h = F.linear(F.gelu(F.linear(h, p["mlp.fc1.weight"], p["mlp.fc1.bias"])),
                 p["mlp.fc2.weight"], p["mlp.fc2.bias"])
    return x + h


def write_block(group, gen, B=2, T=5, C=16, heads=2, hidden=32):
    shapes = {
        "norm1.weight": (C,), "norm1.bias": (C,),
        "attn.qkv.weight": (3 * C, C), "attn.qkv.bias": (3 * C,),
        "attn.proj.weight": (C, C), "attn.proj.bias": (C,),
        "norm2.weight": (C,), "norm2.bias": (C,),
        "mlp.fc1.weight": (hidden, C), "mlp.fc1.bias": (hidden,),
        "mlp.fc2.weight": (C, hidden), "mlp.fc2.bias": (C,),
    }
    params = {}
    for name, s in shapes.items():
        t = torch.randn(s, dtype=torch.float64, generator=gen)
        t = (1 + 0.1 * t) if name.startswith("norm") and name.endswith("weight") else 0.3 * t
        params[name] = t.float().double().requires_grad_(True)
        group[f"params/{name}"] = params[name].detach().float().numpy()
    x = torch.randn((B, T, C), dtype=torch.float64, generator=gen).float().double()
    x.requires_grad_(True)
    y = block_forward(params, x, heads)
    gy = torch.randn(y.shape, dtype=torch.float64, generator=gen).float().double()
    y.backward(gy)
    group["x"] = x.detach().float().numpy()
    group["y"] = y.detach().float().numpy()
    group["gy"] = gy.float().numpy()
    group["gx"] = x.grad.float().numpy()
    for name, t in params.items():
        group[f"grads/{name}"] = t.grad.float().numpy()
    group.attrs["heads"] = heads
    group.attrs["hidden"] = hidden
    group.attrs["ln_eps"] = 1e-6


def bench_module(name):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../bench/pytorch"))
    return __import__(name)


def write_model(group, gen, model, inputs, labels):
    """Random parameters (LayerNorm weights near 1), then logits, loss and gradients."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            t = torch.randn(p.shape, dtype=torch.float64, generator=gen)
            norm = ("norm" in name or ".ln_" in name) and name.endswith("weight")
            p.copy_(((1 + 0.1 * t) if norm else 0.3 * t).float().double())
            group[f"params/{name}"] = p.detach().float().numpy()
    logits = model(inputs)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))
    loss.backward()
    group["logits"] = logits.detach().float().numpy()
    group["loss"] = np.float32(loss.item())
    group["labels"] = labels.numpy().astype(np.int32)
    for name, p in model.named_parameters():
        group[f"grads/{name}"] = p.grad.float().numpy()


def write_vit(group, gen, B=3, classes=3):
    """A tiny ViT (bench/pytorch/vit_ref.py's class): 1x8x8 images, 4x4 patches."""
    torch.manual_seed(7)
    model = bench_module("vit_ref").ViT(1, 8, 8, classes, dim=16, depth=2, heads=2, mlp=32,
                                        act=torch.nn.GELU).double()
    x = torch.randn((B, 1, 8, 8), dtype=torch.float64, generator=gen).float().double()
    group["images"] = x.float().numpy()
    write_model(group, gen, model, x, torch.randint(0, classes, (B,), generator=gen))


def write_gpt(group, gen, B=2, T=6, vocab=11):
    """A tiny GPT: 2 layers, 2 heads, width 16, context 8; T < context."""
    model = bench_module("gpt_ref").GPT(vocab, depth=2, heads=2, dim=16, context=8).double()
    ids = torch.randint(0, vocab, (B, T), generator=gen)
    group["ids"] = ids.numpy().astype(np.int32)
    write_model(group, gen, model, ids, torch.randint(0, vocab, (B, T), generator=gen))
    group.attrs["vocab"], group.attrs["depth"], group.attrs["heads"] = vocab, 2, 2
    group.attrs["dim"], group.attrs["context"] = 16, 8


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="tests/golden/ops.h5")
    args = ap.parse_args()
    gen = torch.Generator().manual_seed(20260)
    with h5py.File(args.out, "w") as f:
        f.attrs["torch_version"] = str(torch.__version__).encode()
        for name, (shapes, fn) in CASES.items():
            write_case(f.create_group(f"ops/{name}"), shapes, fn, gen)
        write_block(f.create_group("block"), gen)
        write_vit(f.create_group("vit"), gen)
        write_gpt(f.create_group("gpt"), gen)
        write_references(f.create_group("references"))
    print(f"wrote {args.out}: {len(CASES)} op cases, one transformer block, one tiny ViT, one tiny GPT")


if __name__ == "__main__":
    main()

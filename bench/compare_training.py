#!/usr/bin/python3
"""Training throughput and memory, ours (train_vit, train_gpt) against PyTorch (vit_ref.py,
gpt_ref.py), side by side.

Same machine, same data file, same threads and batch. This shared machine switches
between slower and faster phases lasting tens of seconds, so each round runs
ours, PyTorch, PyTorch, ours (ABBA) and takes the ratio of the round's means; the
median of the rounds' ratios is reported, with the median speeds. Both sides run with
the peer's BLAS at its best (blas_config.py: OPENBLAS_CORETYPE when the core in use is
below the best for the CPU's instruction set; then the peer's loss after the timed steps
is checked against a run in the caller's environment). Prints a markdown table and the
CPU and BLAS configuration.
    /usr/bin/python3 bench/compare_training.py --data data/fashion-mnist.h5 \
        [--models vit-nano vit-micro] [--threads 2] [--batch 128] [--rounds 3] [--steps 20]
    /usr/bin/python3 bench/compare_training.py --data data/brown.h5 \
        --models gpt-nano gpt-micro --batch 16
Needs build/bin and Debian's python3-torch (scripts/install-deps.sh --reference). The
models' sizes come from the PyTorch peers' tables.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench/pytorch"))
from blas_config import blas_setup  # noqa: E402
from gpt_ref import MODELS as GPT_MODELS  # noqa: E402
from vit_ref import MODELS as VIT_MODELS  # noqa: E402


def block_flops(tokens, dim, mlp):
    """Matrix-product FLOPs of one pre-norm block's forward on `tokens` tokens."""
    return (2 * tokens * dim * 3 * dim            # qkv
            + 2 * 2 * tokens * tokens * dim       # scores and weighted values
            + 2 * tokens * dim * dim              # proj
            + 2 * 2 * tokens * dim * mlp)         # fc1, fc2


def vit_train_flops(model, patches=49, patch_dim=16, classes=10):
    """Per training image: 3x the forward (forward, input gradients, weight gradients)."""
    m = VIT_MODELS[model]
    forward = (2 * patches * patch_dim * m["dim"] + m["depth"] * block_flops(patches + 1, m["dim"], m["mlp"])
               + 2 * m["dim"] * classes)
    return 3 * forward


def gpt_train_flops(model, vocab=256):
    """Per training token (3x the forward): blocks on a full window, the tied output layer."""
    m = GPT_MODELS[model]
    T, C = m["context"], m["dim"]
    return 3 * (m["depth"] * block_flops(T, C, 4 * C) / T + 2 * C * vocab)


# Per model kind: our program, the PyTorch peer, what one example is, FLOPs per example.
KINDS = {"vit": ("train_vit", "vit_ref.py", "images", vit_train_flops),
         "gpt": ("train_gpt", "gpt_ref.py", "tokens", gpt_train_flops)}


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def check_peer_loss(cmd, env):
    """The peer's loss after the timed steps with the BLAS setting and with the caller's
    environment: a kernel choice may move the last bits, not the run."""
    a, b = run_json(cmd, env)["final_loss"], run_json(cmd, dict(os.environ))["final_loss"]
    verdict = "unchanged" if abs(a - b) <= 1e-3 * max(1.0, abs(b)) else "CHANGED"
    return (f"PyTorch's loss after the timed steps: {a:.6f} with the setting, {b:.6f} with the "
            f"caller's environment ({verdict})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--models", nargs="+", default=["vit-nano", "vit-micro"])
    ap.add_argument("--act", default="gelu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=3, help="ABBA rounds")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/bin"))
    ap.add_argument("--sgemm-peak", type=float, default=0.0,
                    help="OpenBLAS sgemm GFLOP/s on this machine (bench_gemm's peak row)")
    args = ap.parse_args()

    kinds = {m.split("-")[0] for m in args.models}
    if len(kinds) != 1 or not kinds <= KINDS.keys():
        sys.exit("compare_training: give models of one kind (vit-* or gpt-*), one data file")
    program, peer, unit, flops = KINDS[kinds.pop()]
    common = ["--data", args.data, "--act", args.act, "--batch", str(args.batch),
              "--threads", str(args.threads), "--benchmark-steps", str(args.steps)]
    ours_cmd = [os.path.join(args.bin, program), *common]
    ref_cmd = [sys.executable, os.path.join(ROOT, "bench/pytorch", peer), *common]
    env, config = blas_setup([os.path.join(args.bin, program), "--help"])
    if env.get("OPENBLAS_CORETYPE") != os.environ.get("OPENBLAS_CORETYPE"):
        config.append(check_peer_loss(ref_cmd + ["--model", args.models[0]], env))
    rate = f"{unit}_per_s"
    print(f"| model | ours {unit}/s | PyTorch {unit}/s | speed ratio | ours GFLOP/s | "
          f"ours peak RSS MB | PyTorch peak RSS MB | memory ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for model in args.models:
        ours, ref, ratios = [], [], []
        for _ in range(args.rounds):
            a1 = run_json(ours_cmd + ["--model", model], env)
            b1 = run_json(ref_cmd + ["--model", model], env)
            b2 = run_json(ref_cmd + ["--model", model], env)
            a2 = run_json(ours_cmd + ["--model", model], env)
            ours += [a1, a2]
            ref += [b1, b2]
            ratios.append((a1[rate] + a2[rate]) / (b1[rate] + b2[rate]))
        o_ips = statistics.median(r[rate] for r in ours)
        r_ips = statistics.median(r[rate] for r in ref)
        ratio = statistics.median(ratios)
        o_mem = max(r["peak_rss_mb"] for r in ours)
        r_mem = max(r["peak_rss_mb"] for r in ref)
        gflops = o_ips * flops(model) / 1e9
        frac = f" ({100 * gflops / args.sgemm_peak:.0f}% of sgemm peak)" if args.sgemm_peak else ""
        print(f"| {model} | {o_ips:.0f} | {r_ips:.0f} | {ratio:.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) | {gflops:.0f}{frac} | "
              f"{o_mem:.0f} | {r_mem:.0f} | {r_mem / o_mem:.2f}x lower |", flush=True)
    print(f"\nthreads {args.threads}, batch {args.batch}, act {args.act}, {args.steps} timed steps "
          f"after 5 warm-up steps; speed ratio: median over {args.rounds} ABBA rounds of the "
          f"round's ratio (range in brackets); torch "
          f"{ref[0].get('torch', '?')}")
    print("\n".join(config))


if __name__ == "__main__":
    main()

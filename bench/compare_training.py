#!/usr/bin/python3
"""Training throughput and memory, ours (train_vit) against PyTorch (vit_ref.py), side by side.

Same machine, same data file, same threads and batch. This shared machine switches
between slower and faster phases lasting tens of seconds, so each round runs
ours, PyTorch, PyTorch, ours (ABBA) and takes the ratio of the round's means; the
median of the rounds' ratios is reported, with the median speeds. Prints a markdown
table.
    /usr/bin/python3 bench/compare_training.py --data data/fashion-mnist.h5 \
        [--models vit-nano vit-micro] [--threads 2] [--batch 128] [--rounds 3] [--steps 20]
Needs build/bin/train_vit and Debian's python3-torch (scripts/install-deps.sh --reference).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


MODELS = {"vit-nano": (64, 4, 256), "vit-micro": (128, 6, 512), "vit-mini": (192, 8, 768)}


def train_flops_per_image(model, patches=49, patch_dim=16, classes=10):
    """Matrix-product FLOPs of one training image: 3x the forward (forward, input
    gradients, weight gradients)."""
    dim, depth, mlp = MODELS[model]
    tokens = patches + 1
    block = (2 * tokens * dim * 3 * dim          # qkv
             + 2 * 2 * tokens * tokens * dim     # scores and weighted values
             + 2 * tokens * dim * dim            # proj
             + 2 * 2 * tokens * dim * mlp)       # fc1, fc2
    forward = 2 * patches * patch_dim * dim + depth * block + 2 * dim * classes
    return 3 * forward


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


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

    ours_cmd = [os.path.join(args.bin, "train_vit"), "--data", args.data, "--act", args.act,
                "--batch", str(args.batch), "--threads", str(args.threads),
                "--benchmark-steps", str(args.steps)]
    ref_cmd = [sys.executable, os.path.join(ROOT, "bench/pytorch/vit_ref.py"), "--data", args.data,
               "--act", args.act, "--batch", str(args.batch), "--threads", str(args.threads),
               "--benchmark-steps", str(args.steps)]
    print(f"| model | ours images/s | PyTorch images/s | speed ratio | ours GFLOP/s | "
          f"ours peak RSS MB | PyTorch peak RSS MB | memory ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for model in args.models:
        ours, ref, ratios = [], [], []
        for _ in range(args.rounds):
            a1 = run_json(ours_cmd + ["--model", model])
            b1 = run_json(ref_cmd + ["--model", model])
            b2 = run_json(ref_cmd + ["--model", model])
            a2 = run_json(ours_cmd + ["--model", model])
            ours += [a1, a2]
            ref += [b1, b2]
            ratios.append((a1["images_per_s"] + a2["images_per_s"]) /
                          (b1["images_per_s"] + b2["images_per_s"]))
        o_ips = statistics.median(r["images_per_s"] for r in ours)
        r_ips = statistics.median(r["images_per_s"] for r in ref)
        ratio = statistics.median(ratios)
        o_mem = max(r["peak_rss_mb"] for r in ours)
        r_mem = max(r["peak_rss_mb"] for r in ref)
        gflops = o_ips * train_flops_per_image(model) / 1e9
        frac = f" ({100 * gflops / args.sgemm_peak:.0f}% of sgemm peak)" if args.sgemm_peak else ""
        print(f"| {model} | {o_ips:.0f} | {r_ips:.0f} | {ratio:.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) | {gflops:.0f}{frac} | "
              f"{o_mem:.0f} | {r_mem:.0f} | {r_mem / o_mem:.2f}x lower |", flush=True)
    print(f"\nthreads {args.threads}, batch {args.batch}, act {args.act}, {args.steps} timed steps "
          f"after 5 warm-up steps; speed ratio: median over {args.rounds} ABBA rounds of the "
          f"round's ratio (range in brackets); torch "
          f"{ref[0].get('torch', '?')}")


if __name__ == "__main__":
    main()

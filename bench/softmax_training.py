#!/usr/bin/python3
"""Training speed with a table softmax against the exact one, side by side.

Runs our trainer's --benchmark-steps with --softmax exact and with each table spec in
ABBA rounds (exact, table, table, exact: this shared machine drifts between slower and
faster phases), takes each round's ratio of the exact pair's step time over the table
pair's (above 1: the table trains faster), and prints the median and range per model as
a markdown table, with the CPU.
    /usr/bin/python3 bench/softmax_training.py --data data/fashion-mnist.h5 \
        --models vit-nano --batch 128 --steps 40 [--rounds 7] [--softmax dapa:16]
    /usr/bin/python3 bench/softmax_training.py --data data/brown.h5 \
        --models gpt-nano --batch 16 --steps 20
Needs build/bin (train_vit for vit-* models, train_gpt for gpt-*).
"""
import argparse
import json
import os
import statistics
import subprocess

from blas_config import cpu_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def step_ms(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["step_ms"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--models", nargs="+", default=["vit-nano"])
    ap.add_argument("--softmax", nargs="+", default=["dapa:16"], help="table specs")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=7, help="ABBA rounds")
    ap.add_argument("--steps", type=int, default=40, help="timed steps per run")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/bin"))
    args = ap.parse_args()
    print(f"CPU: {cpu_model()}; {args.threads} threads, batch {args.batch}, "
          f"{args.steps} timed steps per run, {args.rounds} ABBA rounds\n")
    print("| model | softmax | exact step | table step | median speed | range |")
    print("|---|---|---|---|---|---|")
    for model in args.models:
        program = "train_gpt" if model.startswith("gpt") else "train_vit"
        base = [os.path.join(args.bin, program), "--data", args.data, "--model", model,
                "--batch", str(args.batch), "--threads", str(args.threads),
                "--benchmark-steps", str(args.steps)]
        for spec in args.softmax:
            ratios, exact, table = [], [], []
            for _ in range(args.rounds):
                a1 = step_ms(base + ["--softmax", "exact"])
                b1, b2 = (step_ms(base + ["--softmax", spec]) for _ in range(2))
                a2 = step_ms(base + ["--softmax", "exact"])
                ratios.append((a1 + a2) / (b1 + b2))
                exact += [a1, a2]
                table += [b1, b2]
            print(f"| {model} | {spec} | {statistics.median(exact):.1f} ms | "
                  f"{statistics.median(table):.1f} ms | {statistics.median(ratios):.3f}x | "
                  f"{min(ratios):.3f}x - {max(ratios):.3f}x |", flush=True)


if __name__ == "__main__":
    main()

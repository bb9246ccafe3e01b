#!/usr/bin/python3
"""Activation forward + backward throughput: our GELU and DAPA kernels (bench_activation)
against PyTorch 1.13's GELU (pytorch/gelu_ref.py), side by side.

Same machine, element count and threads. Rounds run ours, PyTorch, PyTorch, ours (ABBA,
this machine drifts between slower and faster phases); each ratio is taken within a round
and the median over rounds is reported. Prints a markdown table, with the bytes each
element's forward + backward moves and the memory traffic that makes; the memory-bound
row (DAPA's traffic with no table search) is the ceiling on this machine.
    /usr/bin/python3 bench/compare_activation.py [--elements 1638400] [--threads 2] [--rounds 5]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_lines(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return {r["impl"]: r for r in map(json.loads, out.strip().splitlines())}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--elements", type=int, default=128 * 50 * 256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--segments", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/bin"))
    args = ap.parse_args()
    common = ["--elements", str(args.elements), "--threads", str(args.threads)]
    ours_cmd = [os.path.join(args.bin, "bench_activation"), "--segments", str(args.segments)] + common
    ref_cmd = [sys.executable, os.path.join(ROOT, "bench/pytorch/gelu_ref.py")] + common

    rows = {}  # impl -> list of (elements/s, ratio to PyTorch, ratio to our GELU)
    moved = {"pytorch-gelu": 20}  # bytes per element: x -> y, then x, dy -> dx
    isa = "?"
    for _ in range(args.rounds):
        a1, b1, b2, a2 = run_lines(ours_cmd), run_lines(ref_cmd), run_lines(ref_cmd), run_lines(ours_cmd)
        ref = (b1["pytorch-gelu"]["elements_per_s"] + b2["pytorch-gelu"]["elements_per_s"]) / 2
        rows.setdefault("pytorch-gelu", []).append((ref, 1.0, 0.0))
        for impl in a1:
            isa = a1[impl]["isa"]
            moved[impl] = a1[impl]["bytes_per_element"]
            ours = (a1[impl]["elements_per_s"] + a2[impl]["elements_per_s"]) / 2
            gelu = (a1["ours-gelu"]["elements_per_s"] + a2["ours-gelu"]["elements_per_s"]) / 2
            rows.setdefault(impl, []).append((ours, ours / ref, ours / gelu))
    print(f"{args.elements} elements, {args.threads} threads, DAPA({args.segments}), table kernel "
          f"{isa}, {args.rounds} ABBA rounds (medians)\n")
    print("| forward + backward | M elements/s | vs PyTorch GELU | vs our GELU | bytes/element "
          "| GB/s |")
    print("|---|---|---|---|---|---|")
    for impl, r in rows.items():
        eps = statistics.median(v[0] for v in r) / 1e6
        vs_ref = statistics.median(v[1] for v in r)
        vs_gelu = statistics.median(v[2] for v in r) if impl != "pytorch-gelu" else None
        print(f"| {impl} | {eps:.0f} | {vs_ref:.1f}x | "
              f"{'' if vs_gelu is None else f'{vs_gelu:.2f}x'} | {moved[impl]} | "
              f"{eps * moved[impl] / 1e3:.0f} |")


if __name__ == "__main__":
    main()

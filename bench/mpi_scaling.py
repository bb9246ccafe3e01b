#!/usr/bin/python3
"""Data-parallel scaling on this machine: mpirun -np 2 --threads 1 against one process
with 2 threads and with 1, side by side, the exact allreduce against the native one, and
the exact mode's gradients sent during backward (--bucket-mb, default) against after it.

For each model, each round runs every configuration once, in turn (the shared machine
has slower and faster phases); the median over rounds is reported, and each ratio is the
median of the rounds' ratios. Per configuration: images/s, step time, the time a rank
spent in the gradient exchange (waiting for the other rank included) and its share of
the step, and the largest peak RSS of any rank. Then, with --board-gflops, a projection
for Zynq-7000 boards on 1 Gb/s Ethernet from the gradient size (the model's parameters)
and the model's training FLOPs per image at the sustained rate given (an assumption to
state: nothing here measures a board; measure one with --benchmark-steps).
    /usr/bin/python3 bench/mpi_scaling.py --data data/fashion-mnist.h5 \
        [--models vit-nano vit-micro] [--batch 128] [--rounds 3] [--steps 20]
Needs build/bin built with MPI (libopenmpi-dev) and mpirun.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench/pytorch"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from blas_config import cpu_info  # noqa: E402

MPIRUN = ["mpirun", "--allow-run-as-root", "--bind-to", "core", "-np", "2"]
# name: (launcher, --threads, extra flags)
CONFIGS = {
    "np 1, 2 threads": ([], 2, []),
    "np 1, 1 thread": ([], 1, []),
    "np 2, 1 thread each, exact": (MPIRUN, 1, ["--allreduce", "exact"]),
    # One bucket larger than the gradient: it leaves when backward has finished.
    "np 2, 1 thread each, exact, sent after backward": (MPIRUN, 1, ["--bucket-mb", "1e6"]),
    "np 2, 1 thread each, native": (MPIRUN, 1, ["--allreduce", "native"]),
}


def run_json(cmd):
    env = dict(os.environ, OMPI_MCA_btl_vader_single_copy_mechanism="none")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def parameters(bin_dir, model, data):
    """The model's parameter count, from a one-step run's summary."""
    out = os.path.join("/tmp", f"mpi_scaling_{model}")
    subprocess.run([os.path.join(bin_dir, "train_vit"), "--data", data, "--model", model,
                    "--steps", "1", "--limit-train", "128", "--limit-test", "16", "--batch", "16",
                    "--out", out, "--force"], check=True, capture_output=True)
    with open(os.path.join(out, "summary.json")) as f:
        return json.load(f)["parameters"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--models", nargs="+", default=["vit-nano", "vit-micro"])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/bin"))
    ap.add_argument("--board-gflops", type=float, default=0.0,
                    help="one Zynq board's sustained GFLOP/s in training (0: no projection)")
    args = ap.parse_args()
    print(f"CPU: {cpu_info()[0]}, {os.cpu_count()} cores")
    print("| model | configuration | images/s | vs np 1, 2 threads | step ms | exchange ms "
          "(share) | peak RSS MB per rank |")
    print("|---|---|---|---|---|---|---|")
    for model in args.models:
        runs = {name: [] for name in CONFIGS}
        for _ in range(args.rounds):
            for name, (launcher, threads, extra) in CONFIGS.items():
                cmd = launcher + [os.path.join(args.bin, "train_vit"), "--data", args.data,
                                  "--model", model, "--batch", str(args.batch), "--threads",
                                  str(threads), "--fixed-threads", "--benchmark-steps",
                                  str(args.steps), *extra]
                runs[name].append(run_json(cmd))
        base = runs["np 1, 2 threads"]
        for name, rs in runs.items():
            ips = statistics.median(r["images_per_s"] for r in rs)
            ratio = statistics.median(r["images_per_s"] / b["images_per_s"] for r, b in zip(rs, base))
            step = statistics.median(r["step_ms"] for r in rs)
            exch = statistics.median(r.get("exchange_ms", 0.0) for r in rs)
            mem = max(r["peak_rss_mb"] for r in rs)
            print(f"| {model} | {name} | {ips:.0f} | {ratio:.2f}x | {step:.1f} | {exch:.1f} "
                  f"({100 * exch / step:.0f}%) | {mem:.0f} |", flush=True)
        exact = runs["np 2, 1 thread each, exact"]
        native = runs["np 2, 1 thread each, native"]
        cost = statistics.median(n["images_per_s"] / e["images_per_s"] for e, n in zip(exact, native))
        print(f"| {model} | exact over native | | {100 * (cost - 1):+.1f}% time | | | |")
        late = runs["np 2, 1 thread each, exact, sent after backward"]
        gain = statistics.median(e["images_per_s"] / a["images_per_s"] for e, a in zip(exact, late))
        print(f"| {model} | overlap: exact during over after backward | | {gain:.2f}x | | | |")
        if args.board_gflops:
            project(model, parameters(args.bin, model, args.data), args)
    if args.board_gflops:
        print(f"\nprojection: {args.board_gflops} GFLOP/s sustained per board (assumed), "
              "1 Gb/s links, exchange not overlapped with compute")
    print(f"\nbatch {args.batch}, {args.steps} timed steps after 5 warm-up steps, median of "
          f"{args.rounds} rounds; np 2 bound one rank per core (mpirun --bind-to core)")


def project(model, params, args):
    """Step time on K boards: the compute of B/K images at the board's rate, plus the
    exact mode's exchange (each board receives (K-1) part gradients of 4 bytes per
    parameter) at 1 Gb/s, not overlapped."""
    from compare_training import vit_train_flops  # the peers' model table (PyTorch)
    grad_mb = 4 * params / 1e6
    compute = args.batch * vit_train_flops(model) / (args.board_gflops * 1e9)
    for k in (1, 2, 4, 8):
        comm = (k - 1) * 4 * params * 8 / 1e9
        step = compute / k + comm
        print(f"| {model} | {k} Zynq boards (projection) | {args.batch / step:.1f} | "
              f"{compute / step:.2f}x | {1e3 * step:.0f} | {1e3 * comm:.0f} ({100 * comm / step:.0f}%) "
              f"| gradient {grad_mb:.2f} MB |")


if __name__ == "__main__":
    main()

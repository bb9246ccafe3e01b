#!/usr/bin/python3
"""Training throughput under load: ours and PyTorch while other processes keep cores busy.

An embedded board always runs other work. For each load (none; a busy loop pinned to
CPU 0; one unpinned busy loop; one busy loop per CPU) this times, side by side and
interleaved, train_vit with --threads 1, with --threads N (load-adaptive, the default)
and with --threads N --fixed-threads, and PyTorch (bench/pytorch/vit_ref.py) with 1 and N
threads, and prints images/s and the ratios that matter: ours at N threads against ours
at 1 (target >= 0.9) and against PyTorch's best under the same load (target >= 1).
    /usr/bin/python3 bench/compare_load.py --data data/fashion-mnist.h5 [--model vit-nano]
        [--threads 2] [--steps 200] [--rounds 2] [--loads none pinned one all] [--no-torch]
Needs build/bin/train_vit and, for the PyTorch columns, python3-torch
(scripts/install-deps.sh --reference).
"""
import argparse
import os
import signal
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from blas_config import blas_setup, cpu_model  # noqa: E402
from compare_training import ROOT, run_json  # noqa: E402


def start_load(kind):
    """Busy loops for the load kind; returns the processes, each the leader of its own
    process group (stop_load kills the whole group: killing `timeout` alone leaves its
    shell spinning, which once made every later load one loop heavier). Each loop also
    stops by itself after an hour, in case this script dies."""
    loop = ["timeout", "3600", "sh", "-c", "while :; do :; done"]
    spawn = lambda cmd: subprocess.Popen(cmd, start_new_session=True)
    ncpu = os.cpu_count() or 1
    if kind == "none":
        return []
    if kind == "pinned":
        return [spawn(["taskset", "-c", "0"] + loop)]
    if kind == "one":
        return [spawn(loop)]
    if kind == "all":
        return [spawn(loop) for _ in range(ncpu)]
    raise SystemExit(f"compare_load.py: unknown load '{kind}' (expected none, pinned, one, all)")


def stop_load(procs):
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", default="vit-nano")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--loads", nargs="+", default=["none", "pinned", "one", "all"])
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/bin"))
    args = ap.parse_args()
    n = args.threads
    common = ["--data", args.data, "--model", args.model, "--batch", str(args.batch),
              "--benchmark-steps", str(args.steps), "--limit-train", "16384"]
    ours = [os.path.join(args.bin, "train_vit")] + common
    torch = [sys.executable, os.path.join(ROOT, "bench/pytorch/vit_ref.py")] + common
    env, config = blas_setup([ours[0], "--help"], torch=not args.no_torch)  # blas_config.py
    variants = {"ours 1": ours + ["--threads", "1"],
                f"ours {n}": ours + ["--threads", str(n)],
                f"ours {n} fixed": ours + ["--threads", str(n), "--fixed-threads"]}
    if not args.no_torch:
        variants.update({"torch 1": torch + ["--threads", "1"],
                         f"torch {n}": torch + ["--threads", str(n)]})
    print(f"{args.model}, batch {args.batch}, {args.steps} timed steps, CPU: {cpu_model()}, "
          f"{os.cpu_count()} CPUs; median images/s over {args.rounds} interleaved rounds")
    print("\n".join(config[1:]) + "\n")  # the BLAS lines (the CPU is named above)
    print("| load | " + " | ".join(variants) + f" | ours {n} / ours 1 | ours {n} / best torch |")
    print("|---" * (len(variants) + 3) + "|")
    for load in args.loads:
        procs = start_load(load)
        try:
            speeds = {k: [] for k in variants}
            for _ in range(args.rounds):
                for name, cmd in variants.items():
                    speeds[name].append(run_json(cmd, env)["images_per_s"])
        finally:
            stop_load(procs)
        med = {k: statistics.median(v) for k, v in speeds.items()}
        best_torch = max((v for k, v in med.items() if k.startswith("torch")), default=0)
        vs_torch = f"{med[f'ours {n}'] / best_torch:.2f}x" if best_torch else "-"
        print(f"| {load} | " + " | ".join(f"{med[k]:.0f}" for k in variants) +
              f" | {med[f'ours {n}'] / med['ours 1']:.2f}x | {vs_torch} |", flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""PyTorch GELU forward + backward throughput on one tensor (the peer of
bench_activation): y = gelu(x), then dx from y.backward(dy). Prints one JSON line.
    /usr/bin/python3 bench/pytorch/gelu_ref.py [--elements 1638400] [--threads 2]
"""
import argparse
import json
import statistics
import time

import torch


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--elements", type=int, default=128 * 50 * 256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--approximate", default="none", choices=["none", "tanh"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(args.elements, generator=g).requires_grad_()
    dy = torch.randn(args.elements, generator=g) * 1e-3

    def one_pass():
        x.grad = None
        y = torch.nn.functional.gelu(x, approximate=args.approximate)
        y.backward(dy)

    for _ in range(3):
        one_pass()
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        one_pass()
        times.append(time.perf_counter() - t0)
    s = statistics.median(times)
    print(json.dumps({"impl": "pytorch-gelu" + ("-tanh" if args.approximate == "tanh" else ""),
                      "elements": args.elements, "threads": args.threads, "ms": 1e3 * s,
                      "elements_per_s": args.elements / s}))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Checks that the committed PyTorch fixtures are what make_golden.py writes today.

Regenerates them into a temporary directory and compares every dataset and attribute
with tests/golden/ops.h5: the same groups, shapes and values (within 1e-6 relative, for
float64 arithmetic that differs in the last bit between CPUs), and the torch version the
file records must be the installed one. Exits 77 (ctest: skipped) without PyTorch or h5py.
    /usr/bin/python3 tests/golden/check_golden.py [--committed tests/golden/ops.h5]
"""
import argparse
import os
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
    import torch
except ImportError as e:
    print(f"check_golden: skipped ({e.name} is not installed; scripts/install-deps.sh --reference)")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))


def items(f):
    """Every dataset of an HDF5 file, by path."""
    out = {}
    f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--committed", default=os.path.join(HERE, "ops.h5"))
    args = ap.parse_args()
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        fresh_path = os.path.join(tmp, "ops.h5")
        subprocess.run([sys.executable, os.path.join(HERE, "make_golden.py"), "--out", fresh_path],
                       check=True, stdout=subprocess.DEVNULL)
        with h5py.File(args.committed, "r") as old, h5py.File(fresh_path, "r") as new:
            recorded = old.attrs["torch_version"]
            recorded = recorded.decode() if isinstance(recorded, bytes) else str(recorded)
            if recorded != str(torch.__version__):
                problems.append(f"recorded torch {recorded}, installed {torch.__version__}")
            a, b = items(old), items(new)
            for name in sorted(set(a) | set(b)):
                if name not in a or name not in b:
                    problems.append(f"{name}: only in the {'fresh' if name in b else 'committed'} file")
                elif np.shape(a[name]) != np.shape(b[name]):
                    problems.append(f"{name}: shape {np.shape(a[name])}, fresh {np.shape(b[name])}")
                elif not np.allclose(a[name], b[name], rtol=1e-6, atol=1e-7):
                    problems.append(f"{name}: values differ from a fresh run")
    for p in problems:
        print(f"check_golden: {args.committed}: {p}")
    if problems:
        print("check_golden: regenerate with /usr/bin/python3 tests/golden/make_golden.py")
        sys.exit(1)
    print(f"check_golden: {args.committed} matches a fresh run of make_golden.py ({len(a)} datasets)")


if __name__ == "__main__":
    main()

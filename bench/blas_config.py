"""Which BLAS kernels each side of a comparison runs, and the setting that runs the peer at
its best.

Debian's OpenBLAS (0.3.21) picks its kernels from a table of the CPUs it knows; on a newer
CPU it falls back to generic ones (an AVX-512 Xeon of family 6, model 207 ran "Prescott",
SSE3, at a seventh of its sgemm peak). Both sides here link that OpenBLAS (ours directly,
Debian's PyTorch through libblas), so a fallback would handicap the peer most, whose
products all go through it. OpenBLAS names the core it chose when OPENBLAS_VERBOSE=2;
when that is a generic core on a CPU whose instruction set supports a better one,
OPENBLAS_CORETYPE selects it for both sides (a variable the user set is kept).
    from blas_config import blas_setup
    env, lines = blas_setup(["build/bin/train_vit", "--help"])
Also a command line: /usr/bin/python3 bench/blas_config.py prints what it finds.
"""
import os
import platform
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# OpenBLAS's cores that predate AVX: what it falls back to on CPUs it does not know.
GENERIC_CORES = {"Katmai", "Coppermine", "Northwood", "Prescott", "Banias", "Core2", "Penryn",
                 "Dunnington", "Nehalem", "Atom", "Athlon", "Opteron", "Opteron_SSE3",
                 "Barcelona", "Nano", "Unknown"}


def cpu_info():
    """(model name, vendor id, set of flags) from /proc/cpuinfo's first processor."""
    model, vendor, flags = platform.processor() or "unknown CPU", "", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "model name":
                    model = value
                elif key == "vendor_id":
                    vendor = value
                elif key == "flags":
                    flags = set(value.split())
                    break  # the first processor's block is enough
    except OSError:
        pass
    return model, vendor, flags


def cpu_model():
    return cpu_info()[0]


def best_coretype(vendor, flags):
    """The fastest OpenBLAS core this instruction set runs, or None (nothing better than
    a generic core)."""
    avx512 = {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}
    if avx512 <= flags and "avx512_bf16" in flags:
        return "Cooperlake"
    if avx512 <= flags:
        return "SkylakeX"
    if {"avx2", "fma"} <= flags:
        return "Zen" if vendor == "AuthenticAMD" else "Haswell"
    if "avx" in flags:
        return "Sandybridge"
    return None


def announced(cmd, env, verbose, pattern):
    """What `cmd` prints for the regular expression's group when run with the `verbose`
    variables added to env, or None (it failed, timed out, or did not say)."""
    try:
        r = subprocess.run(cmd, env=dict(env, **verbose), capture_output=True, text=True,
                           timeout=300)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(pattern, r.stdout + r.stderr, re.MULTILINE)
    return m.group(1).strip() if m else None


def openblas_core(cmd, env):
    """The core OpenBLAS announces when `cmd` loads it."""
    return announced(cmd, env, {"OPENBLAS_VERBOSE": "2"}, r"^Core: (\S+)")


def onednn_isa(cmd, env):
    """The instruction set oneDNN announces when `cmd` runs its first primitive."""
    return announced(cmd, env, {"ONEDNN_VERBOSE": "1", "DNNL_VERBOSE": "1"},
                     r"^(?:onednn|dnnl)_verbose,info,cpu,isa:(.+)$")


# PyTorch loads OpenBLAS at import; oneDNN announces itself on its first primitive (a
# reorder into its layout is one).
TORCH_BLAS_PROBE = [sys.executable, "-c", "import torch"]
TORCH_ONEDNN_PROBE = [sys.executable, "-c", "import torch; torch.ones(1, 8).to_mkldnn()"]


def blas_setup(ours, torch=True, env=None):
    """ours: a short command that loads our side's BLAS (a program with --help); torch:
    whether PyTorch is the other side. Returns the environment to run both sides in and
    the lines that describe it (print them with every table)."""
    probes = {"ours": ours}
    if torch:
        probes["PyTorch"] = TORCH_BLAS_PROBE
    env = dict(os.environ if env is None else env)
    model, vendor, flags = cpu_info()
    best = best_coretype(vendor, flags)
    cores = {side: openblas_core(cmd, env) for side, cmd in probes.items()}
    lines = [f"CPU: {model} ({os.cpu_count()} CPUs; best OpenBLAS core for its instruction "
             f"set: {best or 'none beyond generic'})"]
    fallback = [s for s, c in cores.items() if c in GENERIC_CORES]
    if "OPENBLAS_CORETYPE" in env:
        lines.append(f"OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']} (set by the caller)")
    elif fallback and best:
        env["OPENBLAS_CORETYPE"] = best
        found = ", ".join(f"{s}: {cores[s]}" for s in fallback)
        lines.append(f"OpenBLAS fell back to a generic core ({found}); "
                     f"set OPENBLAS_CORETYPE={best} for both sides")
        cores = {side: openblas_core(cmd, env) for side, cmd in probes.items()}
    lines.append("BLAS kernels: " + ", ".join(
        f"{side}: OpenBLAS {core}" if core else f"{side}: no OpenBLAS announced"
        for side, core in cores.items()))
    if torch:
        lines.append(f"PyTorch's oneDNN instruction set: "
                     f"{onednn_isa(TORCH_ONEDNN_PROBE, env) or 'not announced'}")
    return env, lines


def main():
    _, lines = blas_setup([os.path.join(ROOT, "build/bin/bench_gemm"), "--help"])
    print("\n".join(lines))


if __name__ == "__main__":
    main()

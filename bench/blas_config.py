"""Which BLAS kernels each side of a comparison runs, and the setting that runs the peer at
its best.

Debian's OpenBLAS (0.3.21) picks its kernels from a table of the CPUs it knows; on a newer
CPU it falls back to generic ones (an AVX-512 Xeon of family 6, model 207 ran "Prescott",
SSE3, at a seventh of its sgemm peak). Both sides here link that OpenBLAS (ours directly,
Debian's PyTorch through libblas), so a slow core would handicap the peer most, whose
products all go through it. OpenBLAS names the core it chose when OPENBLAS_VERBOSE=2.
When the core in use (OPENBLAS_CORETYPE from the environment, else OpenBLAS's own
choice) is of a lower instruction-set tier than the best the CPU supports, both sides run
with OPENBLAS_CORETYPE set to the best, and the lines say so. An environment may set the
variable for everything it runs: one machine here set Haswell on an AVX-512 CPU (AMD
family 26), where OpenBLAS's 2048^3 sgemm ran at 193 GFLOP/s against 351 on SkylakeX.
A core this table does not know is kept.
    from blas_config import blas_setup
    env, lines = blas_setup(["build/bin/train_vit", "--help"])
Also a command line: /usr/bin/python3 bench/blas_config.py prints what it finds;
--self-test checks the choice on made-up CPUs (a ctest test).
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


# Instruction-set tiers of the OpenBLAS cores that best_coretype names (sgemm kernels:
# Cooperlake runs SkylakeX's, with bfloat16 on top); the generic cores are below them all.
CORE_TIERS = {"Sandybridge": 1, "Haswell": 2, "Zen": 2, "SkylakeX": 3, "Cooperlake": 3}


def core_tier(core):
    """The tier of an OpenBLAS core name (case as OpenBLAS prints it or any), or None."""
    if core is None:
        return None
    if core.lower() in {c.lower() for c in GENERIC_CORES}:
        return 0
    return {k.lower(): v for k, v in CORE_TIERS.items()}.get(core.lower())


def slowest_core(cores):
    """Of the cores the sides announced, one of the lowest known tier (None if none is
    known)."""
    return min((c for c in cores if core_tier(c) is not None), key=core_tier, default=None)


def core_to_set(in_use, best):
    """The OPENBLAS_CORETYPE to run both sides with when the core in use (the caller's
    variable, else OpenBLAS's own choice) is below the best for the instruction set;
    None to keep it."""
    tier, best_tier = core_tier(in_use), core_tier(best)
    if best is None or tier is None or best_tier is None or tier >= best_tier:
        return None
    return best


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
    caller = env.get("OPENBLAS_CORETYPE")
    # The core in use: the caller's variable, else the slowest side's own choice.
    chosen = core_to_set(caller or slowest_core(cores.values()), best)
    if chosen:
        env["OPENBLAS_CORETYPE"] = chosen
        found = (f"OPENBLAS_CORETYPE={caller} was set by the caller" if caller else
                 "OpenBLAS chose " + ", ".join(f"{s}: {c}" for s, c in cores.items()))
        lines.append(f"{found}, below this CPU's best; set OPENBLAS_CORETYPE={chosen} for "
                     f"both sides")
        cores = {side: openblas_core(cmd, env) for side, cmd in probes.items()}
    elif caller:
        lines.append(f"OPENBLAS_CORETYPE={caller} (set by the caller)")
    lines.append("BLAS kernels: " + ", ".join(
        f"{side}: OpenBLAS {core}" if core else f"{side}: no OpenBLAS announced"
        for side, core in cores.items()))
    if torch:
        lines.append(f"PyTorch's oneDNN instruction set: "
                     f"{onednn_isa(TORCH_ONEDNN_PROBE, env) or 'not announced'}")
    return env, lines


def self_test():
    """The choice on made-up CPUs; exits non-zero naming the first wrong case."""
    avx512 = {"avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}
    cases = [  # (vendor, flags, core in use, expected OPENBLAS_CORETYPE or None)
        ("AuthenticAMD", avx512 | {"avx512_bf16"}, "Haswell", "Cooperlake"),  # an env's Haswell
        ("GenuineIntel", avx512 | {"avx512_bf16"}, "Prescott", "Cooperlake"),  # a fallback
        ("GenuineIntel", avx512, "SkylakeX", None),  # already the best
        ("GenuineIntel", avx512 | {"avx512_bf16"}, "SkylakeX", None),  # same kernels
        ("AuthenticAMD", {"avx2", "fma"}, "Zen", None),
        ("AuthenticAMD", {"avx2", "fma"}, "Haswell", None),  # Zen's tier
        ("GenuineIntel", {"avx2", "fma"}, "Sandybridge", "Haswell"),
        ("GenuineIntel", avx512, "SapphireRapids", None),  # a core this table does not know
        ("GenuineIntel", {"sse2"}, "Prescott", None),  # nothing better to set
        ("GenuineIntel", avx512, None, None),  # OpenBLAS did not say
        ("GenuineIntel", avx512, slowest_core(["SkylakeX", "Sandybridge", None]), "SkylakeX"),
        ("GenuineIntel", avx512, slowest_core(["SapphireRapids", None]), None),
    ]
    for vendor, flags, in_use, expected in cases:
        got = core_to_set(in_use, best_coretype(vendor, flags))
        if got != expected:
            sys.exit(f"blas_config self-test: {vendor} with {in_use} in use chose {got}, "
                     f"expected {expected}")
    print(f"blas_config self-test: {len(cases)} cases pass")


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    if sys.argv[1:]:
        sys.exit(f"blas_config.py: unknown arguments {' '.join(sys.argv[1:])}; "
                 f"expected none or --self-test")
    _, lines = blas_setup([os.path.join(ROOT, "build/bin/bench_gemm"), "--help"])
    print("\n".join(lines))


if __name__ == "__main__":
    main()

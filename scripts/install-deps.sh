#!/usr/bin/env bash
# Installs every build, test and data dependency from Debian's archive (apt-get, as root).
# Idempotent: when all packages are present it does nothing (not even apt-get update).
#   scripts/install-deps.sh              build + test + training data
#   scripts/install-deps.sh --reference  also PyTorch and h5py (golden fixtures, side-by-side comparisons)
#                                        and BLIS (a candidate library in bench_gemm)
#   scripts/install-deps.sh --arm        also the ARM cross compilers and mmdebstrap
#   scripts/install-deps.sh --npm        also npm, when no npm command exists (a Node.js
#                                        build may bundle its own, which Debian's conflicts with)
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libeigen3-dev xtensor-dev xtl-dev
  libhdf5-dev hdf5-tools
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev zlib1g-dev libopenblas-openmp-dev libpcre2-dev
  gnuplot-nox
  verilator yosys python3
  qemu-user
  dataset-fashion-mnist
  clang-format
  clang libclang-rt-14-dev libomp-14-dev
  openmpi-bin libopenmpi-dev
)

# clang, libFuzzer (libclang-rt) and clang's OpenMP runtime: the fuzzing build
# (scripts/fuzz.sh, tests/fuzz).
# Open MPI: data-parallel training (mpirun -np K train_vit ...; the DAPA_MPI feature).
# oneDNN's sgemm takes the large matrix products on x86-64, libxsmm the small ones
# (core/gemm.cpp).
if [ "$(dpkg --print-architecture)" = amd64 ]; then packages+=(libdnnl-dev libxsmm-dev); fi

for arg in "$@"; do
  case "$arg" in
    --reference) packages+=(python3-torch python3-h5py python3-numpy libblis-dev) ;;
    --arm) packages+=(crossbuild-essential-armhf crossbuild-essential-arm64 mmdebstrap) ;;
    --npm) command -v npm >/dev/null || packages+=(npm) ;;
    -h | --help)
      sed -n '2,8p' "$0"
      exit 0
      ;;
    *)
      echo "install-deps.sh: unknown option '$arg' (expected --reference, --arm or --npm)" >&2
      exit 2
      ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo)
  else
    echo "install-deps.sh: missing packages (${missing[*]}) and not root; run as root" >&2
    exit 1
  fi
fi

echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

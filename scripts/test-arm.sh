#!/usr/bin/env bash
# Cross-builds for a Zynq target and runs the test suite under qemu-user, from a fresh
# machine: installs the cross compilers, qemu-user and mmdebstrap, makes the target's
# Debian sysroot, builds with the target's toolchain file, and runs ctest (every unit
# test, the bit-exactness of the fixed-point unit against x86's results, 200 emulated
# ViT training steps with GELU and dapa:16:fixed, and 100 gpt-nano steps).
#   scripts/test-arm.sh armhf|aarch64 [--quick]    (--quick leaves out the emulated training)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
arch="${1:-}"
case "$arch" in
  armhf) debarch=armhf toolchain=zynq7000-armhf ;;
  aarch64 | arm64) arch=aarch64 debarch=arm64 toolchain=zynqmp-aarch64 ;;
  *) echo "test-arm.sh: expected armhf or aarch64 as the target, got '$arch'" >&2; exit 2 ;;
esac
ctest_args=()
for opt in "${@:2}"; do
  case "$opt" in
    --quick) ctest_args+=(-LE slow) ;;
    *) echo "test-arm.sh: unknown option '$opt' (expected --quick)" >&2; exit 2 ;;
  esac
done

./scripts/install-deps.sh --arm
sysroot="$root/build-sysroot-$debarch"
./scripts/make-sysroot.sh "$debarch" "$sysroot"
build="$root/build-$arch"
BUILD_TYPE=Release ./scripts/build.sh "$build" \
  -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/$toolchain.cmake" -DDAPA_SYSROOT="$sysroot" \
  -DDAPA_BUILD_BENCH=OFF
cd "$build"
ctest --output-on-failure -j "${JOBS:-2}" "${ctest_args[@]}"

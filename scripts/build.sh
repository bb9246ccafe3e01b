#!/usr/bin/env bash
# Configures and builds one build tree. Used by run.sh and test.sh.
#   scripts/build.sh [BUILD_DIR] [extra cmake args...]
# Environment: BUILD_TYPE (default Release), JOBS (default 2), TARGET (default: all),
# CC and CXX (the compilers; default: CMake's choice).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
case "${1:-}" in
  -h | --help) sed -n '2,5p' "$0"; exit 0 ;;
  # A flag where the build directory belongs would name a tree (and its configure log)
  # after itself in the working directory.
  -*) echo "build.sh: expected a build directory as the first argument, got '$1' (cmake" \
    "arguments follow it)" >&2; exit 2 ;;
esac
build="${1:-$root/build}"
shift || true
# CMake reads CC and CXX only when it first configures a tree, and objects of another
# compiler must not be linked with the new one's: a build tree made with another
# compiler is built anew.
if [ -n "${CXX:-}" ] && [ -f "$build/CMakeCache.txt" ]; then
  cached="$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")"
  if [ "$(readlink -f "$cached")" != "$(readlink -f "$(command -v "$CXX")")" ]; then
    echo "build.sh: $build was built with $cached; building it anew with $CXX" >&2
    rm -rf "$build"
  fi
fi
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" "$@" >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; echo "build.sh: cmake configure failed" >&2; exit 1; }
cmake --build "$build" -j "${JOBS:-2}" ${TARGET:+--target "$TARGET"}

#!/usr/bin/env bash
# Configures and builds one build tree. Used by run.sh and test.sh.
#   scripts/build.sh [BUILD_DIR] [extra cmake args...]
# Environment: BUILD_TYPE (default Release), JOBS (default 2), TARGET (default: all).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
shift || true
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" "$@" >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; echo "build.sh: cmake configure failed" >&2; exit 1; }
cmake --build "$build" -j "${JOBS:-2}" ${TARGET:+--target "$TARGET"}

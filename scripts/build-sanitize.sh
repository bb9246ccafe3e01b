#!/usr/bin/env bash
# Configures and builds the sanitizer tree, build-sanitize/: clang, AddressSanitizer and
# UndefinedBehaviorSanitizer, the test suites and the libFuzzer harnesses in one tree
# (scripts/test.sh --sanitize runs the suites, scripts/fuzz.sh the harnesses; CI builds
# it once for both).
#   scripts/build-sanitize.sh            everything
#   TARGET=fuzzers scripts/build-sanitize.sh   the harnesses only
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# clang, not GCC: GCC took 18 of CI's minutes for this tree (its UBSan instrumentation
# of CLI11's header-only code alone: 68 s per file that parses flags), clang 8.5; and
# libFuzzer is clang's.
CC=clang CXX=clang++ BUILD_TYPE=RelWithDebInfo "$root/scripts/build.sh" "$root/build-sanitize" \
  -DDAPA_SANITIZE=ON -DDAPA_FUZZ=ON -DDAPA_BUILD_BENCH=OFF

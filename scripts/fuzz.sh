#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz; clang with ASan + UBSan, in the sanitizer
# tree build-sanitize/: scripts/build-sanitize.sh) and runs each for SECONDS (default 60),
# starting from the committed seed corpora. Any crash, sanitizer report, leak, timeout or
# allocation above the limit fails the run; libFuzzer leaves the input that did it in
# build-sanitize/findings/.
#   scripts/fuzz.sh [SECONDS] [NAME...]      NAME: idx dataset checkpoint table_h5 table_json
#                                            text (default: every fuzz_* harness built)
#   scripts/fuzz.sh --make-seeds             rewrite tests/fuzz/corpus from the writers
# FUZZ_SEED=N fixes libFuzzer's seed (CI: the same inputs every run, so a red CI means a
# regression, not luck); unset, every run explores anew. JOBS=N: harnesses at a time
# (default: one per core).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-sanitize"
seconds=60
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then seconds="$1"; shift; fi
make_seeds=0
if [ "${1:-}" = "--make-seeds" ]; then make_seeds=1; shift; fi
names=("$@")

"$root/scripts/install-deps.sh"
TARGET=fuzzers "$root/scripts/build-sanitize.sh"

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
if [ "$make_seeds" = 1 ]; then
  "$build/bin/fuzz_make_seeds" "$root/tests/fuzz/corpus"
  exit 0
fi

# Every harness the build made (tests/fuzz/CMakeLists.txt lists them), unless named.
if [ ${#names[@]} -eq 0 ]; then
  for f in "$build"/bin/fuzz_*; do
    name="${f##*/fuzz_}"
    [ "$name" = make_seeds ] || names+=("$name")
  done
fi
mkdir -p "$build/findings"
# fuzz_one NAME: runs one harness; its log goes to build-sanitize/fuzz_NAME.log.
fuzz_one() {
  local name="$1" corpus="$build/corpus/$1"  # the working corpus grows here, not in the repository
  mkdir -p "$corpus"
  cp -n "$root/tests/fuzz/corpus/$name/"* "$corpus/" 2>/dev/null || true
  # -rss_limit_mb / -malloc_limit_mb: no input may make the readers allocate more than
  # 512 MB (the bounds: 1100 x the file size for HDF5 datasets, 2 x the file size or
  # 1 MiB for IDX data); -timeout: no input may take more than 10 s.
  "$build/bin/fuzz_$name" "$corpus" -max_total_time="$seconds" -max_len=65536 \
    -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 -print_final_stats=1 -seed="${FUZZ_SEED:-0}" \
    -artifact_prefix="$build/findings/$name-" >"$build/fuzz_$name.log" 2>&1
}
# One harness per core at a time (each is one single-threaded process); the results are
# reported in the order of the names.
jobs="${JOBS:-$(nproc)}"
pids=()
for i in "${!names[@]}"; do
  echo "fuzz.sh: ${names[$i]} for ${seconds}s"
  fuzz_one "${names[$i]}" &
  pids[i]=$!
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
done
status=0
for i in "${!names[@]}"; do
  name="${names[$i]}"
  if ! wait "${pids[$i]}"; then
    echo "fuzz.sh: $name FAILED (see $build/fuzz_$name.log and $build/findings/)"
    tail -30 "$build/fuzz_$name.log"
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$build/fuzz_$name.log" |
      tr '\n' ' ' | sed "s/^/fuzz.sh: $name passed: /"
    echo
  fi
done
exit "$status"

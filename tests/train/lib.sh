# Shared by the CLI test scripts (sourced): pass/fail counters and the check that a
# command fails cleanly.
set -uo pipefail
passed=0
failed=0

# enter_temp_dir: a fresh working directory for the script, removed when it exits.
enter_temp_dir() {
  temp_dir="$(mktemp -d)"
  trap 'rm -rf "$temp_dir"' EXIT
  cd "$temp_dir" || exit 1
}
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

# check_failure NAME RC SUBSTRING COMMAND...: the command exits with RC ("any": any code
# from 1 to 127, never a signal), prints exactly one stderr line containing SUBSTRING,
# and the files in $guard_dir (default guarded/) stay unchanged.
check_failure() {
  local name="$1" want_rc="$2" want="$3"
  shift 3
  local before after rc lines
  before="$(md5sum "${guard_dir:-guarded}"/* 2>/dev/null)"
  "$@" >out.txt 2>err.txt
  rc=$?
  after="$(md5sum "${guard_dir:-guarded}"/* 2>/dev/null)"
  lines=$(wc -l <err.txt)
  if [ "$rc" -eq 0 ] || [ "$rc" -ge 128 ] || { [ "$want_rc" != any ] && [ "$rc" -ne "$want_rc" ]; }; then
    bad "$name: exit code $rc, expected $want_rc"; cat err.txt
  elif [ "$lines" -ne 1 ]; then
    bad "$name: expected one error line, got $lines:"; cat err.txt
  elif ! grep -qF -- "$want" err.txt; then
    bad "$name: error does not mention '$want':"; cat err.txt
  elif [ "$before" != "$after" ]; then
    bad "$name: existing outputs changed"
  else
    ok
  fi
}

# finish NAME: the summary line, and the exit status.
finish() {
  echo "$1: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

# identical MESSAGE RUN1 RUN2 SPLIT: two training runs with the same training and
# held-out rows (not the timing columns), checkpoints with the same datasets and
# attributes, and the same DAPA tables when RUN1 has any (the data-parallel tests:
# bit-exact against micro-batches).
identical() {
  local fields=1-5,8,9
  if ! diff <(grep -E "^(train|$4)" "$2/metrics.csv" | cut -d, -f$fields) \
            <(grep -E "^(train|$4)" "$3/metrics.csv" | cut -d, -f$fields) >/dev/null; then
    bad "$1: losses differ"
  elif ! h5diff "$2/checkpoint.h5" "$3/checkpoint.h5" >/dev/null; then
    bad "$1: checkpoints differ"; h5diff "$2/checkpoint.h5" "$3/checkpoint.h5" | head -5
  elif [ -e "$2/dapa_tables.h5" ] && ! h5diff "$2/dapa_tables.h5" "$3/dapa_tables.h5" >/dev/null; then
    bad "$1: DAPA tables differ"
  else
    ok
  fi
}

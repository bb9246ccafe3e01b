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

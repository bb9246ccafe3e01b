#!/usr/bin/env bash
# Fails, listing the files, when a C++ source differs from what the root .clang-format
# makes of it (generated coefficient sets under tests/golden excepted).
#   scripts/check-format.sh [CLANG_FORMAT]
set -uo pipefail
cd "$(dirname "$0")/.."
fmt="${1:-clang-format}"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.cpp' '*.h' | grep -v '^tests/golden/')
else
  mapfile -t files < <(find . -path ./build\* -prune -o \( -name '*.cpp' -o -name '*.h' \) \
    -print | grep -v '^./tests/golden/')
fi
bad=$("$fmt" --dry-run -Werror "${files[@]}" 2>&1 | grep -o '^[^:]*:[0-9]*:[0-9]*: error' |
  cut -d: -f1 | sort -u)
if [ -n "$bad" ]; then
  echo "check-format: not formatted with .clang-format (run clang-format -i on them):"
  echo "$bad"
  exit 1
fi
echo "check-format: ${#files[@]} files formatted"

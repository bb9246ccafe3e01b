#!/usr/bin/env bash
# Our gpt2 tokenizer against the reference, the npm package gpt-3-encoder's own
# JavaScript encode(), on the whole validation split of the Brown corpus: prepare_text
# writes the split's text (--write-text) and its token ids; node encodes the same text;
# the ids must be identical. Skips (exit 77) without node or the npm packages
# (DAPA_BPE_DIR, DAPA_BROWN_DIR: scripts/test.sh sets them from scripts/fetch-npm.sh).
# For speed node encodes the text in pieces cut after a newline that a non-space follows:
# no match of GPT-2's pattern spans such a cut (a match holding a newline is whitespace
# only), so the pieces' ids concatenated are encode() of the whole text.
#   gpt2_vs_node.sh BIN_DIR
set -uo pipefail
bin="$1"
command -v node >/dev/null || { echo "gpt2_vs_node: skipped: no node command"; exit 77; }
for v in DAPA_BPE_DIR DAPA_BROWN_DIR; do
  [ -d "${!v:-}" ] || { echo "gpt2_vs_node: skipped: $v is not set (scripts/fetch-npm.sh)"; exit 77; }
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$bin/prepare_text" --brown "$DAPA_BROWN_DIR" --tokenizer gpt2 --bpe-dir "$DAPA_BPE_DIR" \
  --out "$work/brown.h5" --write-text "$work/text" >/dev/null || { echo "FAIL: prepare_text"; exit 1; }
h5dump -d /val/tokens -y -w 1 -o "$work/raw.txt" "$work/brown.h5" >/dev/null
tr -dc '0-9\n' <"$work/raw.txt" | grep . >"$work/ours.txt"
BPE="$DAPA_BPE_DIR" node -e '
  const encoder = require(process.env.BPE + "/index.js");
  const text = require("fs").readFileSync(process.argv[1], "utf8");
  const out = [];
  for (const piece of text.split(/(?<=\n)(?=\S)/u)) for (const id of encoder.encode(piece)) out.push(id);
  process.stdout.write(out.join("\n") + "\n");' "$work/text/val.txt" >"$work/node.txt" ||
  { echo "FAIL: node"; exit 1; }
if cmp -s "$work/ours.txt" "$work/node.txt"; then
  echo "gpt2_vs_node: $(wc -l <"$work/ours.txt") validation tokens identical"
else
  echo "FAIL: gpt2 ids differ from gpt-3-encoder's: $(cmp "$work/ours.txt" "$work/node.txt")"
  exit 1
fi

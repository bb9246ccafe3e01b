#!/usr/bin/env bash
# Training on the target under emulation (cross builds only; scripts/test-arm.sh): the
# cross-built train_vit, run through qemu-user, trains vit-nano on a Fashion-MNIST subset
# for 200 steps with GELU and with the fixed-point DAPA unit (dapa:16:fixed), and the
# training loss must go down: the mean of the last five logged losses below the first's.
# Then the cross-built train_gpt trains gpt-nano (byte tokens, batch 16, context 128) for
# 100 steps on this repository's own sources as text, the loss falling likewise.
# Prints each run's peak resident memory (of qemu and the program together).
# Usage: train_emulated.sh BIN_DIR SOURCE_DIR EMULATOR...
set -uo pipefail
bin="$1"
src="$2"
shift 2
emu=("$@")
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
"${emu[@]}" "$bin/prepare_data" --fashion-mnist --out fm.h5 >/dev/null || { echo "FAIL: prepare_data"; exit 1; }
"${emu[@]}" "$bin/prepare_text" --text "$src/core" "$src/autograd" "$src/nn" "$src/dapa" "$src/train" \
  --out text.h5 >/dev/null || { echo "FAIL: prepare_text"; exit 1; }
failed=0
# run NAME PROGRAM ARGS...: trains, then judges the loss curve and reports memory.
run() {
  local out="$1" program="$2"
  shift 2
  if ! "${emu[@]}" "$bin/$program" "$@" --threads 2 --log-every 10 --out "$out" >"$out.log" 2>&1; then
    echo "FAIL: $out: $program failed"; cat "$out.log"; failed=1; return
  fi
  verdict="$(awk -F, '$1 == "train" { loss[n++] = $4 }
    END { if (n < 10) { print "too few rows"; exit }
          for (i = 0; i < 5; i++) { a += loss[i]; b += loss[n - 1 - i] }
          printf "%s first %.3f last %.3f\n", (b < a ? "ok" : "not decreasing"), a / 5, b / 5 }' \
    "$out/metrics.csv")"
  rss="$(grep -o '"peak_rss_mb": *[0-9.]*' "$out/summary.json" | grep -o '[0-9.]*$')"
  echo "$out: loss $verdict; peak RSS ${rss} MB (under qemu)"
  [[ "$verdict" == ok* ]] || failed=1
}
for act in gelu dapa:16:fixed; do
  run "vit-${act//:/-}" train_vit --data fm.h5 --model vit-nano --act "$act" --batch 8 \
    --steps 200 --epochs 1 --limit-train 1600 --limit-test 200 --warmup 20 --lr 1e-3
done
run gpt-nano train_gpt --data text.h5 --model gpt-nano --batch 16 --steps 100 --warmup 10 \
  --limit-test 4096
exit "$failed"

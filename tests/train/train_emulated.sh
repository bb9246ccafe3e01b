#!/usr/bin/env bash
# Training on the target under emulation (cross builds only; scripts/test-arm.sh): the
# cross-built train_vit, run through qemu-user, trains vit-nano on a Fashion-MNIST subset
# for 200 steps with GELU and with the fixed-point DAPA unit (dapa:16:fixed), and the
# training loss must go down: the mean of the last five logged losses below the first's.
# Prints each run's peak resident memory (of qemu and the program together).
# Usage: train_emulated.sh BIN_DIR EMULATOR...
set -uo pipefail
bin="$1"
shift
emu=("$@")
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
"${emu[@]}" "$bin/prepare_data" --fashion-mnist --out fm.h5 >/dev/null || { echo "FAIL: prepare_data"; exit 1; }
failed=0
for act in gelu dapa:16:fixed; do
  out="run-${act//:/-}"
  if ! "${emu[@]}" "$bin/train_vit" --data fm.h5 --model vit-nano --act "$act" --batch 8 \
    --steps 200 --epochs 1 --limit-train 1600 --limit-test 200 --warmup 20 --lr 1e-3 --threads 2 \
    --log-every 10 --out "$out" >"$out.log" 2>&1; then
    echo "FAIL: $act: train_vit failed"; cat "$out.log"; failed=1; continue
  fi
  verdict="$(awk -F, '$1 == "train" { loss[n++] = $4 }
    END { if (n < 10) { print "too few rows"; exit }
          for (i = 0; i < 5; i++) { a += loss[i]; b += loss[n - 1 - i] }
          printf "%s first %.3f last %.3f\n", (b < a ? "ok" : "not decreasing"), a / 5, b / 5 }' \
    "$out/metrics.csv")"
  rss="$(grep -o '"peak_rss_mb": *[0-9.]*' "$out/summary.json" | grep -o '[0-9.]*$')"
  echo "$act: loss $verdict; peak RSS ${rss} MB (under qemu)"
  [[ "$verdict" == ok* ]] || failed=1
done
exit "$failed"

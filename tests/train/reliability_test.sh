#!/usr/bin/env bash
# The tools under hostile conditions, as an adversarial user meets them: failed writes
# (file-size limit), a kill at the worst moment, corrupt inputs, flags that would be
# ignored or overflow. Each case asserts the exit code, one clear stderr line, and that
# nothing already written changed.
# Usage: reliability_test.sh BIN_DIR
bin="$(cd "$1" && pwd)"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # counters, checks
enter_temp_dir
fm=/usr/share/datasets/fashion-mnist
expect() { check_failure "$@"; }  # NAME RC SUBSTRING COMMAND... (lib.sh)

"$bin/prepare_data" --fashion-mnist --out fm.h5 >/dev/null || { echo "FAIL: prepare_data"; exit 1; }
small=(--data fm.h5 --limit-train 256 --limit-test 64 --batch 64 --warmup 2 --threads 2)
# A run stopped at step 2 of 8: its checkpoint, metrics and config must survive below.
"$bin/train_vit" "${small[@]}" --epochs 2 --log-every 1 --stop-after 2 --out guarded >/dev/null ||
  bad "guarded run"
cp guarded/checkpoint.h5 precious.h5
mkdir -p keep && cp precious.h5 keep/

# ---- failed writes never cost the last good file ----
# (The resumed steps' metrics rows are logged before the checkpoint write fails; only
# the checkpoint is compared.)
cp -r guarded limited
bash -c "ulimit -f 1500; exec \"$bin/train_vit\" --data fm.h5 --out limited --resume" >/dev/null 2>err.txt
rc=$?
if [ "$rc" -eq 1 ] && [ "$(wc -l <err.txt)" -eq 1 ] &&
  grep -qF "checkpoint.h5: cannot write (File too large)" err.txt &&
  cmp -s limited/checkpoint.h5 precious.h5; then
  ok
else
  bad "checkpoint write under ulimit -f (exit $rc)"; cat err.txt
fi
ls limited/*.tmp.* >/dev/null 2>&1 && bad "a temporary file was left behind" || ok
cp fm.h5 guarded/fm-copy.h5
expect "data write fails (ulimit -f)" 1 "fm-copy.h5: cannot write (File too large)" \
  bash -c "ulimit -f 1000; exec \"$bin/prepare_data\" --fashion-mnist --out guarded/fm-copy.h5"
rm guarded/fm-copy.h5

# ---- a kill -9 at the worst moment (new checkpoint complete, not yet renamed) ----
DAPA_TEST_KILL_AT=before-rename:checkpoint.h5 "$bin/train_vit" "${small[@]}" --epochs 2 --out killed \
  >/dev/null 2>&1
rc=$?
[ "$rc" -eq 137 ] && ok || bad "the kill hook did not fire (exit $rc)"
ls killed/checkpoint.h5.tmp.* >/dev/null 2>&1 && ok || bad "no temporary at the kill point"
"$bin/train_vit" "${small[@]}" --epochs 2 --out killed --force >/dev/null 2>&1 || bad "rerun after kill"
ls killed/checkpoint.h5.tmp.* >/dev/null 2>&1 && bad "stale temporary not removed" || ok
DAPA_TEST_KILL_AT=before-rename:checkpoint.h5 "$bin/train_vit" --data fm.h5 --out guarded --resume \
  >/dev/null 2>&1
cmp -s guarded/checkpoint.h5 precious.h5 && ok || bad "killed resume changed the checkpoint"
rm -f guarded/checkpoint.h5.tmp.*

# ---- a failed resume changes nothing (the first batch of the data is corrupt) ----
cp fm.h5 flipped.h5
python3 - <<'EOF' || bad "could not corrupt the copy"
import gzip
first = gzip.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").read()[16:16 + 784 * 5]
data = bytearray(open("flipped.h5", "rb").read())
at = data.find(first)  # the first chunk of training images
assert at > 0
data[at + 100] ^= 0x01
open("flipped.h5", "wb").write(data)
EOF
expect "resume on corrupt data" 1 "Fletcher32 checksum" "$bin/train_vit" --data flipped.h5 \
  --out guarded --resume --limit-train 256
expect "preload corrupt data" 1 "Fletcher32 checksum" "$bin/train_vit" --data flipped.h5 \
  --preload --limit-train 256 --out guarded --force

# ---- a fresh run never replaces --checkpoint ----
expect "fresh run onto an existing --checkpoint" 1 "--checkpoint: guarded/checkpoint.h5 already exists" \
  "$bin/train_vit" "${small[@]}" --out fresh --checkpoint guarded/checkpoint.h5
[ -e fresh/config.json ] && bad "the refused run wrote config.json" || ok

# ---- outputs that are not regular files are refused, their targets untouched ----
mkdir -p linked && echo keep >guarded/target.txt && ln -sf "$PWD/guarded/target.txt" linked/config.json
expect "config.json is a symlink" 1 "is not a regular file" "$bin/train_vit" "${small[@]}" \
  --steps 1 --out linked
expect "predictions to a device" 1 "/dev/null: exists and is not a regular file" \
  "$bin/train_vit" --data fm.h5 --eval-only --checkpoint precious.h5 --limit-test 64 \
  --predictions /dev/null
rm guarded/target.txt

# ---- corrupt inputs ----
python3 - <<'EOF' || bad "could not make the gzip files"
import gzip
raw = gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").read()
head = bytearray(raw[:16]); head[4:8] = (1000).to_bytes(4, "big")
data = bytearray(gzip.compress(bytes(head) + raw[16:16 + 1000 * 784]))
data[-8] ^= 0x40  # the CRC-32 of the trailer: the stream decodes, the check fails
open("crc.gz", "wb").write(data)
EOF
expect "gzip with a wrong CRC" 1 "crc.gz: corrupt compressed data" "$bin/prepare_data" \
  --train-images crc.gz --train-labels "$fm/t10k-labels-idx1-ubyte.gz" \
  --test-images "$fm/t10k-images-idx3-ubyte.gz" --test-labels "$fm/t10k-labels-idx1-ubyte.gz" \
  --out guarded/x.h5
printf '\0\0\x08\x03\xff\0\0\0\0\0\0\x01\0\0\0\x01xyz' >huge.idx
expect "IDX header claiming 4 GiB" 1 "truncated" "$bin/prepare_data" --train-images huge.idx \
  --train-labels "$fm/t10k-labels-idx1-ubyte.gz" --test-images "$fm/t10k-images-idx3-ubyte.gz" \
  --test-labels "$fm/t10k-labels-idx1-ubyte.gz" --out guarded/x.h5

# ---- flags: nonsense numbers, and flags that would be silently ignored ----
t=("$bin/train_vit" --data fm.h5 --out guarded --force)
expect "huge epochs" 2 "--epochs: expected 1 to 1000000" "${t[@]}" --epochs 4611686018427387904
expect "infinite lr" 2 "--lr: expected a finite number > 0" "${t[@]}" --lr inf
expect "huge batch" 2 "--batch: expected 1 to 1048576" "${t[@]}" --batch 100000000
expect "batch beyond memory" 1 "needs about" "${t[@]}" --batch 60000
expect "batch beyond the data" 1 "larger than the 256 training images" "${t[@]}" --limit-train 256 \
  --batch 512
expect "threads beyond the CPUs" 2 "--threads: expected 0 to" "${t[@]}" --threads 64
expect "pwl beyond the kernel" 1 "pwl: to 254" "${t[@]}" --act pwl:255
expect "table for gelu" 1 "--dapa-table: neither the activation 'gelu' nor the softmax 'exact' uses a table" "${t[@]}" \
  --dapa-table precious.h5
expect "stop-after with eval-only" 2 "--stop-after does not apply to --eval-only" \
  "$bin/train_vit" --data fm.h5 --eval-only --checkpoint precious.h5 --stop-after 3
"$bin/dapa_fit" --checkpoint precious.h5 --data fm.h5 --images 64 --segments 8 --out t8.h5 \
  --threads 2 >/dev/null || bad "dapa_fit"
expect "export prefix not an identifier" 1 "must be a C identifier" "$bin/dapa_export" \
  --table t8.h5 --prefix 'X;#error' --header guarded/x.h

# ---- --log-every is restored on --resume ----
"$bin/train_vit" "${small[@]}" --epochs 2 --log-every 3 --stop-after 4 --out cadence >/dev/null &&
  "$bin/train_vit" --data fm.h5 --out cadence --resume --threads 2 >/dev/null || bad "cadence runs"
steps=$(awk -F, '$1 == "train" { printf "%s ", $2 }' cadence/metrics.csv)
[ "$steps" = "3 4 6 8 " ] && ok || bad "resumed logging cadence: train rows at steps $steps"

# ---- results do not depend on the thread count: resume at 1 thread what began at 2 ----
"$bin/train_vit" "${small[@]}" --epochs 2 --log-every 1 --out whole >/dev/null || bad "whole run"
"$bin/train_vit" "${small[@]}" --epochs 2 --log-every 1 --stop-after 3 --out halves >/dev/null &&
  "$bin/train_vit" --data fm.h5 --out halves --resume --threads 1 >/dev/null || bad "halves"
if diff <(grep -E '^(train|test)' whole/metrics.csv | cut -d, -f1-5,8,9) \
        <(grep -E '^(train|test)' halves/metrics.csv | cut -d, -f1-5,8,9) >/dev/null; then
  ok
else
  bad "resuming at 1 thread changed the losses of a run begun at 2"
fi

cmp -s keep/precious.h5 guarded/checkpoint.h5 && ok || bad "the guarded checkpoint changed"
finish reliability_test

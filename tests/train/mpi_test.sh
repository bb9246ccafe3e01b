#!/usr/bin/env bash
# Data-parallel training on Open MPI, end to end on this machine (loopback):
#  - mpirun -np 2 (shared memory; and TCP on lo) and -np 3 give bit-identical losses,
#    checkpoints and DAPA tables to one process with --micro-batches 2 / 3, refits and
#    table softmax included, for train_vit and train_gpt;
#  - --allreduce native trains to the same losses within rounding;
#  - a run resumed from np 2 on np 1 and back on np 2 equals the uninterrupted run;
#  - a killed rank, and a stopped (hung) one, end the job within a bounded time with a
#    message, the last checkpoint loadable, and --resume continues;
#  - bad input prints our one error line once, not once per rank.
# Usage: mpi_test.sh BIN_DIR HAVE_MPI   (exits 77, "skipped", without MPI)
bin="$(cd "$1" && pwd)"
if [ "${2:-OFF}" != ON ] || ! command -v mpirun >/dev/null; then
  echo "mpi_test: skipped: this build has no MPI (install libopenmpi-dev: scripts/install-deps.sh)"
  exit 77
fi
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
enter_temp_dir

# Root in a container: Open MPI refuses root without the flag, and shared memory's
# single-copy mechanism (CMA) needs ptrace rights containers rarely grant.
export OMPI_MCA_btl_vader_single_copy_mechanism=none
# Under the sanitizer build, no leak check in MPI runs: Open MPI's plugins leave memory
# behind that LeakSanitizer cannot name (their libraries are unloaded by then); ASan and
# UBSan still check every access. Single-process runs keep the leak check.
mpi() {
  local np="$1"
  shift
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" timeout 300 mpirun --allow-run-as-root --oversubscribe --bind-to none -np "$np" "$@"
}
vit=(--data fm.h5 --limit-train 256 --limit-test 100 --batch 16 --steps 12 --warmup 3 --threads 1
  --fixed-threads --log-every 1 --eval-every 6)
dapa=(--act dapa:16:fixed --softmax dapa:16 --dapa-refit-every 5)
gpt=(--data text.h5 --context 16 --batch 8 --steps 12 --warmup 2 --eval-every 6 --limit-test 600
  --threads 1 --fixed-threads --log-every 2 --act dapa:8 --dapa-refit-every 5)

"$bin/prepare_data" --fashion-mnist --out fm.h5 >/dev/null || bad "prepare_data"
mkdir -p corpus
for i in $(seq -w 1 40); do
  for j in $(seq 1 30); do printf 'the %s fox %d jumps over the lazy dog.\n' "$i" "$j"; done >"corpus/doc$i.txt"
done
"$bin/prepare_text" --text corpus --out text.h5 >/dev/null || bad "prepare_text"

# Bit-exact against one process with as many micro-batches.
"$bin/train_vit" "${vit[@]}" "${dapa[@]}" --micro-batches 2 --out vit_1x2 >/dev/null || bad "vit single"
mpi 2 "$bin/train_vit" "${vit[@]}" "${dapa[@]}" --out vit_np2 >/dev/null 2>&1 || bad "vit np 2"
identical "vit np 2 (shared memory)" vit_1x2 vit_np2 test
# Small messages: the gradients leave in many buckets during backward, same bits.
mpi 2 "$bin/train_vit" "${vit[@]}" "${dapa[@]}" --bucket-mb 0.01 --out vit_np2_buckets >/dev/null 2>&1 ||
  bad "vit np 2, small buckets"
identical "vit np 2 (buckets of 10 kB)" vit_1x2 vit_np2_buckets test
"$bin/train_gpt" "${gpt[@]}" --micro-batches 2 --out gpt_1x2 >/dev/null || bad "gpt single"
mpi 2 --mca btl self,tcp --mca btl_tcp_if_include lo "$bin/train_gpt" "${gpt[@]}" --bucket-mb 0.01 --out gpt_np2 \
  >/dev/null 2>&1 || bad "gpt np 2 over tcp"
identical "gpt np 2 (tcp on lo)" gpt_1x2 gpt_np2 val
"$bin/train_vit" "${vit[@]}" "${dapa[@]}" --micro-batches 3 --out vit_1x3 >/dev/null || bad "vit single 3"
mpi 3 "$bin/train_vit" "${vit[@]}" "${dapa[@]}" --out vit_np3 >/dev/null 2>&1 || bad "vit np 3"
identical "vit np 3" vit_1x3 vit_np3 test
grep -q '"processes": 3' vit_np3/summary.json && ok || bad "summary.json lacks the process count"

# The native allreduce: MPI's summation order, the same losses within rounding.
mpi 2 "$bin/train_vit" "${vit[@]}" "${dapa[@]}" --allreduce native --out vit_native >/dev/null 2>&1 ||
  bad "vit native"
paste -d, <(grep ^train vit_1x2/metrics.csv) <(grep ^train vit_native/metrics.csv) |
  awk -F, '{ d = $4 - $(4 + 9); if (d < 0) d = -d; if (d > 1e-3) bad = 1; rows++ }
           END { exit bad || rows < 12 }' && ok || bad "native allreduce: losses off by more than 1e-3"

# Resume across process counts: np 2 -> np 1 -> np 2 equals the uninterrupted run.
mpi 2 "$bin/train_vit" "${vit[@]}" "${dapa[@]}" --out vit_moved --stop-after 6 >/dev/null 2>&1 ||
  bad "np 2 until step 6"
"$bin/train_vit" --data fm.h5 --out vit_moved --resume --threads 1 --fixed-threads --stop-after 11 \
  >/dev/null || bad "np 1 until step 11"
mpi 2 "$bin/train_vit" --data fm.h5 --out vit_moved --resume --threads 1 --fixed-threads \
  >/dev/null 2>&1 || bad "np 2 to the end"
identical "resumed np 2 -> 1 -> 2" vit_1x2 vit_moved test

# A killed rank ends the job; the checkpoint stays loadable and --resume continues.
long=(--data fm.h5 --limit-train 4096 --batch 64 --epochs 50 --threads 1 --checkpoint-every 2)
mpi 2 "$bin/train_vit" "${long[@]}" --out killed >killed.out 2>killed.err &
job=$!
for _ in $(seq 1 600); do [ -s killed/checkpoint.h5 ] && break; sleep 0.1; done
sleep 1
pkill -KILL -n -f "^$bin/train_vit .*--out killed"
start=$SECONDS
wait "$job"
rc=$?
[ "$rc" -ne 0 ] && [ $((SECONDS - start)) -lt 60 ] && ok || bad "killed rank: job exit $rc after $((SECONDS - start)) s"
grep -q "exited on signal 9" killed.err && ok || { bad "killed rank: no notice"; head -5 killed.err; }
"$bin/train_vit" --data fm.h5 --checkpoint killed/checkpoint.h5 --eval-only --limit-test 100 \
  --threads 1 >/dev/null && ok || bad "killed rank: the checkpoint does not load"
mpi 2 "$bin/train_vit" --data fm.h5 --out killed --resume --threads 1 --stop-after "$(
  h5dump -a /step killed/checkpoint.h5 2>/dev/null | grep -oE '\(0\): [0-9]+' | grep -oE '[0-9]+$' |
    awk '{ print $1 + 2 }')" >/dev/null 2>&1 && ok || bad "killed rank: --resume does not continue"

# A hung rank (stopped): the others give up after --mpi-timeout and end the job.
mpi 2 "$bin/train_vit" "${long[@]}" --mpi-timeout 3 --out hung >hung.out 2>hung.err &
job=$!
for _ in $(seq 1 600); do [ -s hung/checkpoint.h5 ] && break; sleep 0.1; done
pkill -STOP -n -f "^$bin/train_vit .*--out hung"
start=$SECONDS
wait "$job"
rc=$?
[ "$rc" -ne 0 ] && [ $((SECONDS - start)) -lt 60 ] && ok || bad "hung rank: job exit $rc after $((SECONDS - start)) s"
grep -q "train_vit: rank 0: no answer from the other ranks within 3 s" hung.err && ok ||
  { bad "hung rank: no message"; cat hung.err; }
pkill -KILL -f "^$bin/train_vit .*--out hung" 2>/dev/null

# Bad input: one line from us, however many ranks.
once() {  # once NAME SUBSTRING COMMAND...: fails, our line (with SUBSTRING) exactly once
  local name="$1" want="$2"
  shift 2
  "$@" >out.txt 2>err.txt && { bad "$name: succeeded"; return; }
  [ "$(grep -c "^train_vit: " err.txt)" -eq 1 ] && grep -qF -- "$want" err.txt && ok ||
    { bad "$name"; cat err.txt; }
}
once "missing data" "no-such.h5" mpi 2 "$bin/train_vit" --data no-such.h5 --out x1
once "unknown flag" "--bogus" mpi 2 "$bin/train_vit" --bogus
once "parts not a multiple" "--micro-batches: 3 is not a multiple of the 2 processes" \
  mpi 2 "$bin/train_vit" "${vit[@]}" --micro-batches 3 --out x2
once "eval-only" "--eval-only runs on one process" \
  mpi 2 "$bin/train_vit" --data fm.h5 --checkpoint vit_np2/checkpoint.h5 --eval-only
once "occupied --out" "already holds a run" mpi 2 "$bin/train_vit" "${vit[@]}" --out vit_np2
once "unknown allreduce" "--allreduce: unknown 'bogus' (expected exact or native)" \
  "$bin/train_vit" "${vit[@]}" --allreduce bogus --out x4
once "allreduce without mpirun" "--allreduce applies to data-parallel runs" \
  "$bin/train_vit" "${vit[@]}" --allreduce native --out x3

finish "mpi_test"

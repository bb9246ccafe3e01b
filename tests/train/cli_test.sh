#!/usr/bin/env bash
# End-to-end tests of prepare_data, prepare_text, train_vit, train_gpt, dapa_fit and
# dapa_export as a user runs
# them, in named sections (one ctest case each, sharing the runs made by `setup`):
#  - every bad input gets one clear stderr line, a non-zero exit, and no existing output
#    (checkpoint, metrics) changes;
#  - a run stopped mid-way and resumed reproduces the uninterrupted run's losses exactly;
#  - a kill -9 mid-write or before the rename leaves the previous checkpoint loadable;
#  - a NaN loss stops training with a message and keeps the last good checkpoint;
#  - outputs: config.json, metrics.csv, summary.json, loss.png, a checkpoint with
#    PyTorch names; DAPA tables of any registered function.
# Usage: cli_test.sh BIN_DIR WORK_DIR SECTION   (setup first; Fashion-MNIST from Debian's
#        dataset-fashion-mnist)     cli_test.sh --list   (the sections after setup)
sections=(data text flags outputs resume dapa fixed dapa_fit silu kill nan gpt gpt_errors softmax micro)
if [ "${1:-}" = --list ]; then
  echo "${sections[*]}"
  exit 0
fi
bin="$(cd "$1" && pwd)"
work="$2"
section="$3"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # counters, checks
fm=/usr/share/datasets/fashion-mnist
common=(--data fm.h5 --limit-train 512 --limit-test 200 --batch 64 --warmup 4 --threads 2 --fixed-threads --log-every 2)
t=("$bin/train_vit" --out guarded)
gpt_common=(--data text.h5 --context 16 --batch 8 --steps 24 --warmup 2 --eval-every 8
  --limit-test 600 --fixed-threads --log-every 2)  # a command that must refuse, leaving guarded/ unchanged

# same_losses MESSAGE RUN1 RUN2 [SPLIT FIELDS]: the runs' metrics.csv hold the same
# training and held-out (SPLIT: test, or val for a GPT) rows in the FIELDS columns
# (default: all but the timing ones).
same_losses() {
  local split="${4:-test}" fields="${5:-1-5,8,9}"
  if diff <(grep -E "^(train|$split)" "$2/metrics.csv" | cut -d, -f"$fields") \
          <(grep -E "^(train|$split)" "$3/metrics.csv" | cut -d, -f"$fields") >/dev/null; then
    ok
  else
    bad "$1"
  fi
}

# expect_error NAME SUBSTRING COMMAND...: fails cleanly (lib.sh), any exit code.
expect_error() {
  local name="$1"
  shift
  check_failure "$name" any "$@"
}

# The data set and the runs the sections share; guarded/ must survive every failed
# command in them.
section_setup() {
  "$bin/prepare_data" --fashion-mnist --out fm.h5 >/dev/null || bad "prepare_data"
  # A small finished run whose files must survive every failed command below.
  "$bin/train_vit" "${common[@]}" --epochs 1 --out guarded >/dev/null || bad "guarded run failed"
  cp fm.h5 guarded/data-copy.h5
  "$bin/train_vit" "${common[@]}" --model vit-micro --steps 1 --out micro >/dev/null || bad "micro run"
  cp micro/checkpoint.h5 guarded/foreign.h5
  "$bin/train_vit" "${common[@]}" --epochs 2 --out full >/dev/null || bad "full run"
  echo "not hdf5" >corrupt.h5
  # A small text corpus (40 documents; 4 validation, 4 test) and a finished GPT run.
  mkdir -p corpus
  for i in $(seq -w 1 40); do
    for j in $(seq 1 30); do
      printf 'the %s fox %d jumps over the lazy dog; the dog sleeps.\n' "$i" "$j"
    done >"corpus/doc$i.txt"
  done
  "$bin/prepare_text" --text corpus --out text.h5 >/dev/null || bad "prepare_text"
  "$bin/train_gpt" "${gpt_common[@]}" --threads 2 --out gpt_run >/dev/null || bad "gpt run failed"
}

# prepare_data on bad inputs
section_data() {
  printf '\x01\x02\x08\x03\0\0\0\1\0\0\0\1\0\0\0\1x' >badmagic.idx
  head -c 1000 "$fm/train-images-idx3-ubyte.gz" >truncated.gz
  echo "not hdf5" >corrupt.h5
  expect_error "missing idx" "no-such.idx" "$bin/prepare_data" --train-images no-such.idx \
    --train-labels "$fm/train-labels-idx1-ubyte.gz" --test-images "$fm/t10k-images-idx3-ubyte.gz" \
    --test-labels "$fm/t10k-labels-idx1-ubyte.gz" --out guarded/data-copy.h5
  expect_error "wrong magic" "magic number" "$bin/prepare_data" --train-images badmagic.idx \
    --train-labels "$fm/train-labels-idx1-ubyte.gz" --test-images "$fm/t10k-images-idx3-ubyte.gz" \
    --test-labels "$fm/t10k-labels-idx1-ubyte.gz" --out guarded/data-copy.h5
  expect_error "truncated idx" "truncated.gz" "$bin/prepare_data" --train-images truncated.gz \
    --train-labels "$fm/train-labels-idx1-ubyte.gz" --test-images "$fm/t10k-images-idx3-ubyte.gz" \
    --test-labels "$fm/t10k-labels-idx1-ubyte.gz" --out guarded/data-copy.h5
  expect_error "count mismatch" "60000 images but 10000 labels" "$bin/prepare_data" \
    --train-images "$fm/train-images-idx3-ubyte.gz" --train-labels "$fm/t10k-labels-idx1-ubyte.gz" \
    --test-images "$fm/t10k-images-idx3-ubyte.gz" --test-labels "$fm/t10k-labels-idx1-ubyte.gz" \
    --out guarded/data-copy.h5
  expect_error "labels out of range" "outside the class range" "$bin/prepare_data" --fashion-mnist \
    --classes 5 --out guarded/data-copy.h5
}

# prepare_text on UTF-8 files and on bad ones
section_text() {
  # Its own guarded file: the shared guarded/ is read by the sections running beside it.
  local guard_dir=text_out
  mkdir -p corpus text_out
  for i in $(seq -w 1 20); do printf 'document %s\nline two\n' "$i" >"corpus/doc$i.txt"; done
  "$bin/prepare_text" --text corpus --out text_out/text.h5 >/dev/null || bad "prepare_text"
  h5dump -a /val/documents text_out/text.h5 | grep -q '(0): 2$' && ok ||
    bad "prepare_text: doc09 and doc19 should make the validation split"
  printf 'caf\xe9\n' >latin1.txt
  expect_error "text not UTF-8" "latin1.txt: is not UTF-8 text" "$bin/prepare_text" \
    --text latin1.txt --out text_out/text.h5
  : >empty.txt
  expect_error "empty text" "empty.txt: is empty" "$bin/prepare_text" --text empty.txt \
    --out text_out/text.h5
  expect_error "too few documents" "split would be empty" "$bin/prepare_text" \
    --text corpus/doc01.txt --out text_out/text.h5
  expect_error "no input" "give --brown DIR or --text" "$bin/prepare_text" --out text_out/text.h5
  expect_error "not a brown package" "no Brown corpus files" "$bin/prepare_text" --brown corpus \
    --out text_out/text.h5
}

# train_vit: flags and files
section_flags() {
  # ---- train_vit: flags and files ----
  expect_error "missing data" "no such file" "${t[@]}" --data missing.h5 --force
  expect_error "corrupt data" "not an HDF5 file" "${t[@]}" --data corrupt.h5 --force
  expect_error "foreign hdf5" "missing dataset" "${t[@]}" --data guarded/checkpoint.h5 --force
  expect_error "unknown model" "unknown model 'vit-huge'" "${t[@]}" --data fm.h5 --model vit-huge --force
  expect_error "unknown activation" "unknown activation 'swish'" "${t[@]}" --data fm.h5 --act swish --force
  expect_error "zero batch" "--batch" "${t[@]}" --data fm.h5 --batch 0 --force
  expect_error "zero epochs" "--epochs" "${t[@]}" --data fm.h5 --epochs 0 --force
  expect_error "negative lr" "--lr" "${t[@]}" --data fm.h5 --lr=-0.1 --force
  expect_error "zero lr" "--lr" "${t[@]}" --data fm.h5 --lr 0 --force
  expect_error "not a number" "--batch" "${t[@]}" --data fm.h5 --batch abc --force
  expect_error "run exists" "already holds a run" "${t[@]}" --data fm.h5
  expect_error "resume other model" "--model \"vit-micro\" disagrees" "${t[@]}" --data fm.h5 --resume \
    --model vit-micro
  expect_error "resume other batch" "--batch 32 disagrees" "${t[@]}" --data fm.h5 --resume --batch 32
  expect_error "resume missing checkpoint" "does not exist" "$bin/train_vit" --data fm.h5 --resume \
    --out nowhere
  # micro/: a checkpoint of another configuration (vit-micro), from setup.
  expect_error "eval other config" "disagrees" "$bin/train_vit" --data fm.h5 --eval-only \
    --checkpoint micro/checkpoint.h5 --model vit-nano
  expect_error "resume foreign checkpoint" "disagrees" "${t[@]}" --data fm.h5 --resume \
    --checkpoint guarded/foreign.h5 --model vit-nano
  expect_error "profile without benchmark" "--profile needs --benchmark-steps" "${t[@]}" \
    --data fm.h5 --profile --force
  # --profile: a row per op (vit-nano per step: 2 linear layers, the patch embedding and
  # the head; 8 fused with the layer norm before them, 4 with the GELU before them and 4
  # with the attention before them; the final norm alone), the benchmark's JSON line still
  # last.
  "$bin/train_vit" --data fm.h5 --batch 32 --threads 2 --fixed-threads --benchmark-steps 2 \
    --profile >profile.txt || bad "profile run"
  grep -qE '^\| linear \| 2\.0 \| .* GFLOP/s \| [0-9]+% of sgemm \|$' profile.txt &&
    grep -qE '^\| norm_linear \| 8\.0 \| .* GFLOP/s \| [0-9]+% of sgemm \|$' profile.txt &&
    grep -qE '^\| activation_linear \| 4\.0 \| .* GFLOP/s \| [0-9]+% of sgemm \|$' profile.txt &&
    grep -qE '^\| attention_linear \| 4\.0 \| .* GFLOP/s \| [0-9]+% of sgemm \|$' profile.txt &&
    grep -qE '^\| layer_norm \| 1\.0 \| .* GB/s forward' profile.txt &&
    tail -1 profile.txt | grep -q '"images_per_s"' && ok || bad "--profile table: $(cat profile.txt)"
}

# what a finished run leaves
section_outputs() {
  # ---- outputs of a finished run ----
  for f in config.json metrics.csv summary.json checkpoint.h5; do
    [ -s "guarded/$f" ] && ok || bad "missing guarded/$f"
  done
  if command -v gnuplot >/dev/null; then [ -s guarded/loss.png ] && ok || bad "no loss.png"; fi
  grep -q '"test_accuracy"' guarded/summary.json && ok || bad "summary.json lacks test_accuracy"
  h5ls -r guarded/checkpoint.h5 >h5ls.txt
  grep -q '^/model/blocks.0.attn.qkv.weight  *Dataset {192, 64}' h5ls.txt && ok ||
    bad "checkpoint lacks PyTorch-named weights"
  "$bin/train_vit" --data fm.h5 --eval-only --checkpoint guarded/checkpoint.h5 --limit-test 200 \
    --predictions pred.txt >eval.json && grep -q '"test_accuracy"' eval.json && ok || bad "eval-only"
  # The predictions file: one class per test image, and scoring it against the labels
  # gives the accuracy the evaluation printed.
  h5dump -d /test/labels -y -w 1 -o labels_all.txt fm.h5 >/dev/null
  tr -dc '0-9\n' <labels_all.txt | grep . | head -n 200 >labels.txt
  correct=$(paste -d' ' pred.txt labels.txt | awk '$1 == $2' | wc -l)
  printed=$(sed -E 's/.*"test_accuracy":([0-9.eE+-]+).*/\1/' eval.json)
  if [ "$(wc -l <pred.txt)" -eq 200 ] && ! grep -qv '^[0-9]$' pred.txt &&
    awk -v c="$correct" -v p="$printed" 'BEGIN { d = c - p * 200; exit !(d * d < 1e-6) }'; then
    ok
  else
    bad "predictions file disagrees with the printed accuracy ($correct of 200 correct)"; cat eval.json
  fi
  expect_error "predictions without eval-only" "--predictions needs --eval-only" \
    "$bin/train_vit" "${common[@]}" --predictions guarded/p.txt --out guarded
}

# stop and resume
section_resume() {
  # ---- resume reproduces the uninterrupted run exactly ----
  # full/: the uninterrupted 2-epoch run, from setup.
  "$bin/train_vit" "${common[@]}" --epochs 2 --out part --stop-after 11 >part.log || bad "stopped run"
  # Progress lines (not a terminal): a line per --log-every steps, throughput in images.
  grep -qE '^step 2/16 epoch 0 loss [0-9.]+ lr [0-9.e+-]+ [0-9]+ img/s elapsed' part.log && ok ||
    bad "progress line: $(grep -m1 '^step' part.log)"
  "$bin/train_vit" --data fm.h5 --out part --resume --threads 2 --fixed-threads --log-every 2 >/dev/null || bad "resume"
  same_losses "resumed run's losses differ from the uninterrupted run's" full part
  # elapsed_s keeps counting across the interruption
  if awk -F, 'NR > 1 { if ($7 + 0 < last) bad = 1; last = $7 + 0 } END { exit bad }' part/metrics.csv; then
    ok
  else
    bad "elapsed_s restarts after --resume"
  fi
}

# DAPA activations
section_dapa() {
  # ---- DAPA: calibrated at initialisation, tables saved, resume reproduces exactly ----
  "$bin/train_vit" "${common[@]}" --act dapa:16 --epochs 2 --out dapa_full >/dev/null || bad "dapa run"
  [ -s dapa_full/dapa_tables.h5 ] && ok || bad "no dapa_tables.h5"
  "$bin/train_vit" "${common[@]}" --act dapa:16 --epochs 2 --out dapa_part --stop-after 11 >/dev/null ||
    bad "stopped dapa run"
  "$bin/train_vit" --data fm.h5 --out dapa_part --resume --threads 2 --fixed-threads --log-every 2 >/dev/null || bad "dapa resume"
  same_losses "resumed DAPA run's losses differ from the uninterrupted run's" dapa_full dapa_part
  # PWL(16) learns: the last logged training loss below the first, tables of 18 segments
  # (PWL's two constant tails are segments too).
  "$bin/train_vit" "${common[@]}" --act pwl:16 --epochs 1 --out pwl >/dev/null || bad "pwl run"
  awk -F, '$1 == "train" { if (!n++) first = $4; last = $4 } END { exit !(n > 1 && last < first) }' \
    pwl/metrics.csv && ok || bad "pwl run: the training loss did not fall"
  h5dump -a /sites/blocks.0.mlp.act/segments pwl/dapa_tables.h5 | grep -q '(0): 18$' && ok ||
    bad "pwl run: its table does not have 18 segments"
  expect_error "dapa table of other N" "asks for 8" "$bin/train_vit" "${common[@]}" --act dapa:8 \
    --dapa-table dapa_full/dapa_tables.h5 --out guarded --force
  expect_error "corrupt dapa table" "not an HDF5 file" "$bin/train_vit" "${common[@]}" --act dapa:16 \
    --dapa-table corrupt.h5 --out guarded --force
  expect_error "bad dapa name" "N from 1 to 256" "${t[@]}" --data fm.h5 --act dapa:0 --force
  expect_error "contradicting dapa modes" "contradicts" "${t[@]}" --data fm.h5 \
    --act dapa:16:slope:fitted --force
  expect_error "dapa of an unknown function" "dapa:N[:slope|:fitted][:refined][:fixed][:FUNCTION]" \
    "${t[@]}" --data fm.h5 --act dapa:16:swish --force
}

# fixed-point DAPA with refits
section_fixed() {
  # ---- fixed point with refits: the checkpoint carries the live tables, resume is exact ----
  # (one shared table: the resumed run must go on pooling its refits without being told).
  # 16 steps, refits at 6 and 12, stopped after 13: the resumed part saves, without a refit
  # of its own, the pooled distribution of step 12 that the checkpoint gave back.
  "$bin/train_vit" "${common[@]}" --act dapa:16:fixed --dapa-refit-every 6 --dapa-shared \
    --epochs 2 --out fixed_full >/dev/null || bad "fixed refit run"
  "$bin/train_vit" "${common[@]}" --act dapa:16:fixed --dapa-refit-every 6 --dapa-shared \
    --epochs 2 --out fixed_part --stop-after 13 >/dev/null || bad "stopped fixed refit run"
  "$bin/train_vit" --data fm.h5 --out fixed_part --resume --threads 2 --fixed-threads --log-every 2 >/dev/null ||
    bad "fixed refit resume"
  identical "resumed fixed-point refit run" fixed_full fixed_part test
  h5ls -r fixed_full/checkpoint.h5 >fixed_h5ls.txt
  grep -q '^/dapa/sites/shared/fixed/slope ' fixed_h5ls.txt && ok ||
    bad "checkpoint lacks its fixed-point tables"
}

# dapa_fit and dapa_export
section_dapa_fit() {
  # ---- dapa_fit on a trained model, inference substitution, export ----
  "$bin/dapa_fit" --checkpoint full/checkpoint.h5 --data fm.h5 --images 100 --segments 8 \
    --out fit8.h5 --threads 2 >fit.txt && grep -q "calibrated 4 DAPA site(s) on 100 training" fit.txt &&
    ok || bad "dapa_fit"
  "$bin/train_vit" --data fm.h5 --eval-only --checkpoint full/checkpoint.h5 --act dapa:8:fixed \
    --dapa-table fit8.h5 --limit-test 200 >sub.json && grep -q '"test_accuracy"' sub.json && ok ||
    bad "eval-only with a substituted DAPA activation"
  "$bin/dapa_export" --table fit8.h5 --site blocks.2.mlp.act --header unit.h --verilog unit.vh \
    >/dev/null && grep -q "#define DAPA_SEGMENTS 8" unit.h && grep -q "DAPA_SLOPE" unit.vh && ok ||
    bad "dapa_export"
  "$bin/dapa_fit" --checkpoint full/checkpoint.h5 --data fm.h5 --images 100 --segments 8 --refine \
    --out fit8r.h5 --threads 2 >/dev/null && "$bin/train_vit" --data fm.h5 --eval-only \
    --checkpoint full/checkpoint.h5 --act dapa:8:refined:fixed --dapa-table fit8r.h5 \
    --limit-test 200 >subr.json && grep -q '"test_accuracy"' subr.json && ok ||
    bad "dapa_fit --refine and eval-only with its tables"
  expect_error "refine a PWL table" "--refine: needs --kind dapa" "$bin/dapa_fit" \
    --checkpoint full/checkpoint.h5 --data fm.h5 --kind pwl --refine --out guarded/t.h5
  expect_error "dapa_fit zero images" "--images" "$bin/dapa_fit" --checkpoint full/checkpoint.h5 \
    --data fm.h5 --images 0 --out guarded/t.h5
  expect_error "dapa_fit too many images" "holds only 60000" "$bin/dapa_fit" \
    --checkpoint full/checkpoint.h5 --data fm.h5 --images 70000 --out guarded/t.h5
  expect_error "dapa_fit missing checkpoint" "nowhere.h5" "$bin/dapa_fit" --checkpoint nowhere.h5 \
    --data fm.h5 --out guarded/t.h5
  expect_error "fixed table of other N" "asks for 16" "$bin/train_vit" --data fm.h5 --eval-only \
    --checkpoint full/checkpoint.h5 --act dapa:16:fixed --dapa-table fit8.h5
  expect_error "export unknown site" "no site 'nope'" "$bin/dapa_export" --table fit8.h5 --site nope \
    --header guarded/x.h
  "$bin/dapa_fit" --checkpoint full/checkpoint.h5 --data fm.h5 --images 100 --segments 100 \
    --out fit100.h5 --threads 2 >/dev/null &&
    h5dump -a /sites/blocks.3.mlp.act/segments fit100.h5 | grep -q '(0): 100$' && ok ||
    bad "dapa_fit 100 segments: no table of 100 segments"
  expect_error "export too many segments" "2 to 64 segments" "$bin/dapa_export" --table fit100.h5 \
    --header guarded/x.h
  "$bin/dapa_fit" --checkpoint full/checkpoint.h5 --data fm.h5 --images 20 --segments 8 \
    --out fit8.json --threads 2 >/dev/null || bad "dapa_fit to JSON"
  sed 's/"frac_x": [0-9]*/"frac_x": 16/' fit8.json >badfrac.json
  expect_error "export bad format" "outside the integers 0 to 15" "$bin/dapa_export" \
    --table badfrac.json --header guarded/x.h
}

# a registered function other than GELU
section_silu() {
  # ---- any registered function: a SiLU model, its DAPA tables, inference substitution ----
  # accuracy FILE: the test accuracy a JSON file reports.
  accuracy() { sed -E 's/.*"test_accuracy":([0-9.eE+-]+).*/\1/' "$1"; }
  "$bin/train_vit" "${common[@]}" --act silu --epochs 2 --out silu >/dev/null || bad "silu run"
  "$bin/train_vit" --data fm.h5 --eval-only --checkpoint silu/checkpoint.h5 --limit-test 200 \
    >silu_eval.json || bad "silu eval"
  awk -v a="$(accuracy silu_eval.json)" 'BEGIN { exit !(a > 0.2) }' && ok ||
    bad "silu model: test accuracy $(accuracy silu_eval.json), expected above 0.2 (twice chance)"
  # dapa_fit takes the function from the checkpoint (SiLU), or from --target.
  "$bin/dapa_fit" --checkpoint silu/checkpoint.h5 --data fm.h5 --images 100 --segments 16 \
    --out silu16.h5 --report silu16.json --threads 2 >/dev/null &&
    grep -q '"target": "silu"' silu16.json && h5dump -a /sites/blocks.0.mlp.act/target silu16.h5 |
    grep -q '"silu"' && ok || bad "dapa_fit on a SiLU model: tables of silu"
  "$bin/dapa_fit" --checkpoint silu/checkpoint.h5 --data fm.h5 --images 100 --segments 16 \
    --target gelu-tanh --out tanh16.json --threads 2 >/dev/null &&
    grep -q '"target": "gelu-tanh"' tanh16.json && ok || bad "dapa_fit --target gelu-tanh"
  expect_error "dapa_fit unknown target" "unknown function 'swish'" "$bin/dapa_fit" \
    --checkpoint silu/checkpoint.h5 --data fm.h5 --target swish --out guarded/t.h5
  # SiLU's tables in place of SiLU: accuracy within 3 points of the exact function's.
  "$bin/train_vit" --data fm.h5 --eval-only --checkpoint silu/checkpoint.h5 --act dapa:16:silu:fixed \
    --dapa-table silu16.h5 --limit-test 200 >silu_dapa.json || bad "eval-only with SiLU's DAPA tables"
  awk -v a="$(accuracy silu_dapa.json)" -v b="$(accuracy silu_eval.json)" \
    'BEGIN { exit !(a > b - 0.03) }' && ok ||
    bad "DAPA(16) of SiLU: accuracy $(accuracy silu_dapa.json) against SiLU's $(accuracy silu_eval.json)"
  expect_error "gelu activation, silu tables" "approximates gelu, but the table given approximates silu" \
    "$bin/train_vit" --data fm.h5 --eval-only --checkpoint silu/checkpoint.h5 --act dapa:16:fixed \
    --dapa-table silu16.h5 --limit-test 200
  # --act dapa:16:silu calibrated on the model's own training batches, then trained on.
  "$bin/train_vit" "${common[@]}" --act dapa:16:silu --steps 4 --out dapa_silu >/dev/null &&
    h5dump -a /sites/blocks.0.mlp.act/target dapa_silu/dapa_tables.h5 | grep -q '"silu"' && ok ||
    bad "training with --act dapa:16:silu"
}

# kill -9 at deterministic points
section_kill() {
  # ---- a kill -9 mid-write or before the rename, at the 1st and 3rd checkpoint, leaves the
  # previous checkpoint loadable and in place (deterministic crash points: DAPA_TEST_KILL_AT)
  # step_of FILE: the step a checkpoint was saved at.
  step_of() { h5dump -a /step "$1" 2>/dev/null | awk '/\(0\)/ { print $2 }'; }
  "$bin/train_vit" "${common[@]}" --epochs 1 --steps 1 --out killed >/dev/null || bad "kill seed run"
  for point in mid-write before-rename; do
    for nth in 1 3; do
      cp killed/checkpoint.h5 before.h5
      DAPA_TEST_KILL_AT="$point:checkpoint.h5:$nth" "$bin/train_vit" "${common[@]}" --epochs 3 \
        --checkpoint-every 1 --out killed --force >/dev/null 2>&1
      rc=$?
      # Killed at the first write, the checkpoint in place is the one from before, byte
      # for byte; at the third, the new run's second (step 2).
      step=$(step_of killed/checkpoint.h5)
      if [ "$nth" -eq 1 ]; then want=$(step_of before.h5); else want=$((nth - 1)); fi
      # The kill left its temporary behind (the next run removes it).
      ls killed/checkpoint.h5.tmp.* >/dev/null 2>&1 || bad "no temporary after a kill $point"
      if [ "$rc" -eq 137 ] && [ "$step" = "$want" ] &&
        { [ "$nth" -ne 1 ] || cmp -s before.h5 killed/checkpoint.h5; } &&
        "$bin/train_vit" --data fm.h5 --eval-only --checkpoint killed/checkpoint.h5 \
          --limit-test 50 >/dev/null 2>&1; then
        ok
      else
        bad "kill -9 $point at checkpoint $nth: exit $rc, checkpoint at step '$step' (expected $want)"
      fi
    done
  done
}

# a diverging run
section_nan() {
  # ---- a NaN loss stops training and keeps the last good checkpoint ----
  "$bin/train_vit" "${common[@]}" --lr 1e30 --checkpoint-every 1 --out nan >/dev/null 2>err.txt
  rc=$?
  if [ "$rc" -ne 0 ] && grep -qE "loss became (NaN|infinite)" err.txt &&
    "$bin/train_vit" --data fm.h5 --eval-only --checkpoint nan/checkpoint.h5 --limit-test 50 >/dev/null; then
    ok
  else
    bad "NaN handling (exit $rc)"; cat err.txt
  fi
}

# train_gpt: a run's outputs, resume, evaluation, sampling, DAPA
section_gpt() {
  for f in config.json metrics.csv summary.json checkpoint.h5; do
    [ -s "gpt_run/$f" ] && ok || bad "missing gpt_run/$f"
  done
  head -1 gpt_run/metrics.csv | grep -q '^kind,step,epoch,train_loss,lr,tokens_per_s,elapsed_s,val_loss,val_perplexity,val_bits_per_byte$' &&
    ok || bad "metrics.csv header: $(head -1 gpt_run/metrics.csv)"
  [ "$(grep -c '^val,' gpt_run/metrics.csv)" -eq 3 ] && ok || bad "expected 3 validation rows (--eval-every 8 of 24)"
  # The loss falls: the last validation loss is below the first.
  awk -F, '$1 == "val" { v[n++] = $8 } END { exit !(n == 3 && v[2] < v[0]) }' gpt_run/metrics.csv && ok ||
    bad "validation loss does not fall"; 
  grep -q '"val_perplexity"' gpt_run/summary.json && ok || bad "summary.json lacks val_perplexity"
  h5ls -r gpt_run/checkpoint.h5 >h5ls.txt
  grep -q '^/model/transformer.h.0.attn.c_attn.weight  *Dataset {384, 128}' h5ls.txt &&
    grep -q '^/model/transformer.wte.weight  *Dataset {256, 128}' h5ls.txt && ! grep -q lm_head h5ls.txt &&
    ok || bad "checkpoint lacks nanoGPT-named weights (lm_head tied to wte)"
  # Stop and resume: the same losses as the uninterrupted run; one thread: the same bits.
  "$bin/train_gpt" "${gpt_common[@]}" --threads 2 --out part --stop-after 11 >/dev/null || bad "stopped gpt run"
  "$bin/train_gpt" --data text.h5 --out part --resume --threads 2 --fixed-threads >/dev/null ||
    bad "gpt resume"
  "$bin/train_gpt" "${gpt_common[@]}" --threads 1 --out one >one.log || bad "gpt run on one thread"
  grep -qE '^step 2/24 epoch 0 loss [0-9.]+ lr [0-9.e+-]+ [0-9]+ tok/s elapsed' one.log && ok ||
    bad "progress line: $(grep -m1 '^step' one.log)"
  for run in part one; do
    same_losses "gpt run '$run' differs from the uninterrupted two-thread run" gpt_run $run val 1-5,8-
  done
  # Evaluation: validation and test, one prediction per scored token.
  "$bin/train_gpt" --data text.h5 --eval-only --checkpoint gpt_run/checkpoint.h5 --limit-test 600 \
    --predictions pred.txt >eval.json || bad "gpt eval-only"
  grep -q '"test_bits_per_byte"' eval.json && grep -q '"val_perplexity"' eval.json && ok ||
    bad "eval-only lacks test or val measures: $(cat eval.json)"
  [ "$(wc -l <pred.txt)" -eq 1198 ] && ok || bad "predictions: $(wc -l <pred.txt) lines, expected 2 x 599"
  # Sampling: the prompt continued, the same text for the same seed.
  "$bin/train_gpt" --checkpoint gpt_run/checkpoint.h5 --sample 40 --prompt "the 07 fox" --seed 5 >s1.txt &&
    "$bin/train_gpt" --checkpoint gpt_run/checkpoint.h5 --sample 40 --prompt "the 07 fox" --seed 5 >s2.txt ||
    bad "sampling failed"
  grep -q '^the 07 fox' s1.txt && cmp -s s1.txt s2.txt && [ "$(head -c 200 s1.txt | wc -c)" -gt 20 ] &&
    ok || bad "sample: $(cat s1.txt)"
  # DAPA on the GPT: tables from 2048 tokens, fixed point in place of GELU costs under 2%
  # of validation perplexity; and a run that calibrates at initialisation trains.
  "$bin/dapa_fit" --checkpoint gpt_run/checkpoint.h5 --data text.h5 --tokens 2048 --out fit.h5 >/dev/null ||
    bad "dapa_fit on a gpt"
  "$bin/train_gpt" --data text.h5 --eval-only --checkpoint gpt_run/checkpoint.h5 --limit-test 600 \
    --act dapa:16:fixed --dapa-table fit.h5 >dapa.json || bad "gpt eval with dapa tables"
  ppl() { sed -E 's/.*"val_perplexity":([0-9.eE+-]+).*/\1/' "$1"; }
  awk -v a="$(ppl dapa.json)" -v b="$(ppl eval.json)" 'BEGIN { exit !(a < 1.02 * b && a > 0.98 * b) }' &&
    ok || bad "DAPA(16) fixed: perplexity $(ppl dapa.json) against GELU's $(ppl eval.json)"
  "$bin/train_gpt" --data text.h5 --context 16 --batch 8 --steps 8 --warmup 2 --limit-test 600 \
    --threads 2 --act dapa:16 --out gpt_dapa >/dev/null &&
    [ -s gpt_dapa/dapa_tables.h5 ] && ok || bad "gpt training with dapa:16"
}

# train_gpt and dapa_fit on bad input
section_gpt_errors() {
  local guard_dir=gpt_guard
  mkdir -p gpt_guard && cp gpt_run/checkpoint.h5 gpt_run/metrics.csv gpt_guard/
  local g=("$bin/train_gpt" --out gpt_guard)
  expect_error "gpt: vit checkpoint" "holds a vit-nano, which train_vit trains" "${g[@]}" \
    --data text.h5 --eval-only --checkpoint guarded/checkpoint.h5
  expect_error "vit: gpt checkpoint" "holds a gpt-nano, which train_gpt trains" "${t[@]}" \
    --data fm.h5 --eval-only --checkpoint gpt_guard/checkpoint.h5
  expect_error "gpt: image data" "missing" "${g[@]}" --data fm.h5 --force
  expect_error "gpt: no data" "--data is required" "${g[@]}" --force
  expect_error "gpt: context too long" "longer than gpt-nano's context of 128" "${g[@]}" \
    --data text.h5 --context 512 --force
  expect_error "gpt: unknown model" "unknown model 'gpt-huge'" "${g[@]}" --data text.h5 \
    --model gpt-huge --force
  expect_error "gpt: one test token" "--limit-test: 1 token leaves nothing to predict" "${g[@]}" \
    --data text.h5 --limit-test 1 --force
  mkdir -p tiny
  for i in $(seq -w 1 10); do printf 'document %s %s\n' "$i" "$(seq -s' ' 1 40)" >"tiny/doc$i.txt"; done
  printf 'x' >tiny/doc10.txt  # the tenth file (position 9): the validation split, one token
  "$bin/prepare_text" --text tiny --out tiny.h5 >/dev/null || bad "prepare_text tiny"
  expect_error "gpt: one validation token" "the val split's single token" "${g[@]}" \
    --data tiny.h5 --context 8 --batch 2 --force
  expect_error "gpt: batch too large" "training windows" "${g[@]}" --data text.h5 --batch 100000 --force
  expect_error "gpt: empty prompt" "--prompt: give the text" "${g[@]}" \
    --checkpoint gpt_guard/checkpoint.h5 --sample 5 --prompt ""
  expect_error "gpt: prompt too long" "longer than the model's context" "${g[@]}" \
    --checkpoint gpt_guard/checkpoint.h5 --sample 5 --prompt "$(printf 'x%.0s' $(seq 200))"
  expect_error "gpt: prompt without sample" "--prompt needs --sample" "${g[@]}" --data text.h5 \
    --prompt hi --force
  expect_error "gpt: sample a vit" "not a language model" "${g[@]}" \
    --checkpoint guarded/checkpoint.h5 --sample 5 --prompt hi
  expect_error "gpt: sample nothing" "does not exist" "${g[@]}" --checkpoint none.h5 --sample 5 \
    --prompt hi
  expect_error "dapa_fit: images for a gpt" "use --tokens" "$bin/dapa_fit" \
    --checkpoint gpt_guard/checkpoint.h5 --data text.h5 --images 64 --out gpt_guard/t.h5
  expect_error "dapa_fit: too many tokens" "training tokens" "$bin/dapa_fit" \
    --checkpoint gpt_guard/checkpoint.h5 --data text.h5 --tokens 100000000 --out gpt_guard/t.h5
  expect_error "dapa_fit: gpt with images" "missing" "$bin/dapa_fit" \
    --checkpoint gpt_guard/checkpoint.h5 --data fm.h5 --tokens 64 --out gpt_guard/t.h5
}

# the attention softmax's exp as a DAPA table (--softmax)
section_softmax() {
  # Training with both nonlinearities as tables, refitted: resume reproduces the run, its
  # checkpoint and tables too (refits at 4, 8 and 12, none after the stop: each site's
  # distribution comes back from the checkpoint).
  local sm=(--act dapa:8 --softmax dapa:8:fixed --dapa-refit-every 4 --epochs 2)
  "$bin/train_vit" "${common[@]}" "${sm[@]}" --out sm_full >/dev/null || bad "softmax run"
  "$bin/train_vit" "${common[@]}" "${sm[@]}" --out sm_part --stop-after 13 >/dev/null || bad "stopped softmax run"
  "$bin/train_vit" --data fm.h5 --out sm_part --resume --threads 2 --fixed-threads --log-every 2 >/dev/null ||
    bad "softmax resume"
  identical "resumed softmax-table run" sm_full sm_part test
  h5dump -a /sites/blocks.3.attn.softmax/domain_hi sm_full/dapa_tables.h5 | grep -q '(0): 0$' &&
    h5dump -a /sites/blocks.3.attn.softmax/target sm_full/dapa_tables.h5 | grep -q '"exp"' &&
    h5dump -a /sites/blocks.3.mlp.act/target sm_full/dapa_tables.h5 | grep -q '"gelu"' && ok ||
    bad "the run's tables lack the softmax sites (exp on [lo, 0]) or the MLP ones"
  grep -q '"softmax": "dapa:8:fixed"' sm_full/summary.json && ok || bad "summary.json lacks the softmax"
  # dapa_fit --fit softmax on a GELU model, then inference with the tables in place of exp.
  "$bin/dapa_fit" --checkpoint full/checkpoint.h5 --data fm.h5 --images 100 --segments 16 \
    --fit softmax --out sm16.h5 --threads 2 >smfit.txt &&
    grep -q "blocks.0.attn.softmax" smfit.txt && ok || bad "dapa_fit --fit softmax"
  "$bin/train_vit" --data fm.h5 --eval-only --checkpoint full/checkpoint.h5 --limit-test 200 >exact.json &&
    "$bin/train_vit" --data fm.h5 --eval-only --checkpoint full/checkpoint.h5 --limit-test 200 \
      --softmax dapa:16:fixed --dapa-table sm16.h5 >table.json || bad "eval-only with a softmax table"
  acc() { sed -E 's/.*"test_accuracy":([0-9.eE+-]+).*/\1/' "$1"; }
  awk -v a="$(acc table.json)" -v b="$(acc exact.json)" 'BEGIN { exit !(a > b - 0.03) }' && ok ||
    bad "softmax DAPA(16) fixed: accuracy $(acc table.json) against exact $(acc exact.json)"
  # A GPT trains with a table softmax, and samples through it from its checkpoint.
  "$bin/train_gpt" --data text.h5 --context 16 --batch 8 --steps 8 --warmup 2 --limit-test 600 \
    --threads 2 --softmax dapa:16:refined --out gpt_sm >/dev/null && [ -s gpt_sm/dapa_tables.h5 ] &&
    "$bin/train_gpt" --checkpoint gpt_sm/checkpoint.h5 --sample 20 --prompt "the 07" --seed 1 >gs.txt &&
    grep -q '^the 07' gs.txt && ok || bad "gpt training and sampling with a softmax table"
  # Tables of the wrong kind, or breaking a softmax table's rules, are refused.
  "$bin/dapa_fit" --checkpoint full/checkpoint.h5 --data fm.h5 --images 50 --segments 8 --shared \
    --fit softmax --out sm8.json --threads 2 >/dev/null || bad "dapa_fit --fit softmax to JSON"
  "$bin/dapa_fit" --checkpoint full/checkpoint.h5 --data fm.h5 --images 50 --segments 8 --shared \
    --out gelu8.json --threads 2 >/dev/null || bad "dapa_fit to JSON"
  sed 's/"shared.softmax"/"shared"/' sm8.json >exp_as_act.json
  sed 's/"shared"/"shared.softmax"/' gelu8.json >gelu_as_softmax.json
  expect_error "exp table to --act" "approximates gelu, but the table given approximates exp" \
    "${t[@]}" --data fm.h5 --act dapa:8 --dapa-table exp_as_act.json --force
  expect_error "gelu table to --softmax" "softmax 'dapa:8' approximates exp, but the table given approximates gelu" \
    "${t[@]}" --data fm.h5 --softmax dapa:8 --dapa-table gelu_as_softmax.json --force
  /usr/bin/python3 - <<'PY' || bad "could not write the broken softmax tables"
import json
t = json.load(open("sm8.json"))
s = t["sites"]["shared.softmax"]
for name, change in [("domain", lambda s: s["domain"].__setitem__(1, 0.5)),
                     ("positive", lambda s: s["breakpoints"].__setitem__(-1, 0.25)),
                     ("falling", lambda s: s["slope"].__setitem__(2, -0.5)),
                     ("negative", lambda s: s["intercept"].__setitem__(-1, -1.0))]:
    b = json.loads(json.dumps(t))
    change(b["sites"]["shared.softmax"])
    json.dump(b, open(f"sm_{name}.json", "w"))
PY
  expect_error "softmax domain past 0" "is not [lo, 0]" "${t[@]}" --data fm.h5 --softmax dapa:8 \
    --dapa-table sm_domain.json --force
  expect_error "softmax positive breakpoint" "above 0" "${t[@]}" --data fm.h5 --softmax dapa:8 \
    --dapa-table sm_positive.json --force
  expect_error "softmax falling segment" "decreases" "${t[@]}" --data fm.h5 --softmax dapa:8 \
    --dapa-table sm_falling.json --force
  expect_error "softmax negative at 0" "value at 0" "${t[@]}" --data fm.h5 --softmax dapa:8 \
    --dapa-table sm_negative.json --force
  expect_error "softmax unknown name" "softmax 'dapa:8:gelu'" "${t[@]}" --data fm.h5 \
    --softmax dapa:8:gelu --force
  "$bin/dapa_export" --table sm16.h5 --site blocks.0.attn.softmax --header sm.h --verilog sm.vh \
    >/dev/null && grep -q "#define DAPA_DOMAIN_HI (0)" sm.h && grep -q "DAPA_DOMAIN_LO = 16'sh[89a-f]" sm.vh &&
    ok || bad "dapa_export of a softmax table: no domain words"
  expect_error "dapa_fit softmax with a target" "--fit softmax fits the softmax's exp" \
    "$bin/dapa_fit" --checkpoint full/checkpoint.h5 --data fm.h5 --fit softmax --target silu \
    --out guarded/t.h5
}

# --micro-batches: the batch in parts, gradients summed in order
section_micro() {
  # The gradient of 4 parts is the batch's up to rounding: the same losses to 1e-3 as
  # the one-part run, over a 1-epoch ViT (SGD unclipped: its steps scale with the gradient) and
  # a GPT (gpt_run/, setup).
  "$bin/train_vit" "${common[@]}" --epochs 1 --optimizer sgd --lr 0.05 --clip 0 --out vit1 >/dev/null &&
    "$bin/train_vit" "${common[@]}" --epochs 1 --optimizer sgd --lr 0.05 --clip 0 --micro-batches 4 \
      --out vit4 >/dev/null || bad "vit micro-batches"
  "$bin/train_gpt" "${gpt_common[@]}" --threads 2 --micro-batches 3 --out gpt3 >/dev/null || bad "gpt micro-batches"
  close() {  # close RUN1 RUN2 SPLIT COLUMN: the column's values agree to 1e-3 row by row
    paste -d, <(grep -E "^(train|$3)," "$1/metrics.csv") <(grep -E "^(train|$3)," "$2/metrics.csv") |
      awk -F, -v c="$4" -v n="$(head -1 "$1/metrics.csv" | tr , '\n' | wc -l)" \
        '$c != "" { d = $c - $(c + n); if (d < 0) d = -d; if (d > 1e-3) bad = 1; rows++ }
         END { exit bad || rows < 1 }'
  }
  close vit1 vit4 test 4 && close vit1 vit4 test 8 && ok || bad "4 parts: losses differ from one part's"
  close gpt_run gpt3 val 4 && close gpt_run gpt3 val 8 && ok || bad "3 parts: gpt losses differ from one part's"
  grep -q '"micro_batches": 4' vit4/config.json && ok || bad "config.json lacks micro_batches"
  # Stop and resume reproduce the uninterrupted micro-batched run exactly, refits included.
  local mb=(--micro-batches 2 --act dapa:8 --dapa-refit-every 5)
  "$bin/train_gpt" "${gpt_common[@]}" --threads 2 "${mb[@]}" --out mb_full >/dev/null || bad "micro run"
  "$bin/train_gpt" "${gpt_common[@]}" --threads 2 "${mb[@]}" --out mb_part --stop-after 13 >/dev/null ||
    bad "stopped micro run"
  "$bin/train_gpt" --data text.h5 --out mb_part --resume --threads 2 --fixed-threads >/dev/null ||
    bad "micro resume"
  same_losses "resumed micro-batched run differs from the uninterrupted one" mb_full mb_part val 1-5,8-
  # One part's activations at a time: the peak of live tensors falls.
  peak() { "$bin/train_gpt" --data text.h5 --context 16 --batch 64 --threads 1 --benchmark-steps 2 \
    --micro-batches "$1" | sed -E 's/.*"peak_tensor_mb":([0-9.eE+-]+).*/\1/'; }
  awk -v a="$(peak 4)" -v b="$(peak 1)" 'BEGIN { exit !(a < 0.7 * b) }' && ok ||
    bad "4 micro-batches: peak tensor memory $(peak 4) MB against $(peak 1) MB"
  expect_error "micro-batches above the batch" "--micro-batches: expected 1 to 64, got 65" \
    "${t[@]}" --data fm.h5 --batch 64 --micro-batches 65 --force
  expect_error "micro-batches 0" "--micro-batches" "${t[@]}" --data fm.h5 --micro-batches 0 --force
  expect_error "resume with other micro-batches" "--micro-batches 3 disagrees with the checkpoint's 2" \
    "$bin/train_gpt" --data text.h5 --out mb_full --resume --micro-batches 3
}

# Each section runs in WORK_DIR/sections/SECTION, with the shared files of setup linked
# in: a section's name cannot collide with one of them (the section `micro` once removed
# setup's micro/ run while `flags` was reading it).
if [ "$section" = setup ]; then
  rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
else
  [ -s "$work/fm.h5" ] || { echo "cli_test: $work holds no setup (run the setup section)"; exit 1; }
  dir="$work/sections/$section"
  rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" || exit 1
  for f in fm.h5 guarded full micro corrupt.h5 text.h5 gpt_run; do ln -s "../../$f" "$f"; done
fi
declare -F "section_$section" >/dev/null || { echo "cli_test: unknown section '$section'"; exit 2; }
"section_$section"
finish "cli_test $section"

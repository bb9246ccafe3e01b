#!/usr/bin/env bash
# The main job: installs dependencies, builds, prepares Fashion-MNIST (from Debian's
# dataset-fashion-mnist package) and trains vit-nano for 2 epochs with batch 128,
# then prints the test accuracy and where the loss curve and checkpoint are.
# Extra arguments go to train_vit (e.g. ./scripts/run.sh --model vit-micro --epochs 5).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
./scripts/install-deps.sh
./scripts/build.sh "$root/build"
data="$root/data/fashion-mnist.h5"
if [ ! -s "$data" ]; then
  ./build/bin/prepare_data --fashion-mnist --out "$data"
fi
./build/bin/train_vit --data "$data" --model vit-nano --epochs 2 --batch 128 \
  --out "$root/runs/vit-nano" --force "$@"

#!/usr/bin/env bash
# The main job: installs dependencies, builds, and trains.
# For now: the autograd demonstration (an MLP learning a synthetic spiral).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
./scripts/install-deps.sh
./scripts/build.sh "$root/build"
./build/bin/demo_mlp "$@"

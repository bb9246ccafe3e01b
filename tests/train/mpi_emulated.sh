#!/usr/bin/env bash
# Data-parallel training on the target under emulation (cross builds whose sysroot holds
# Open MPI; scripts/test-arm.sh): the sysroot's own mpirun, run through qemu-user, starts
# 2 ranks of the cross-built train_vit, each through qemu-user, and their losses and
# checkpoint must equal, bit for bit, one emulated process with --micro-batches 2 (GELU
# by the fixed-point DAPA unit, refits pooled across the ranks).
# Two artefacts of the emulation are worked around here, not in the program; on a board
# neither arises:
#  - the launcher is the target's too: PMIx's wire format differs between 32- and 64-bit
#    processes, so the host's mpirun cannot start armhf ranks (the handshake stalls);
#  - Open MPI and PMIx find their plugins by listing a directory, which a 32-bit program
#    cannot do on a 64-bit host's ext4 (readdir fails with EOVERFLOW on 64-bit directory
#    offsets, and MPI_Init then finds no shared-memory plugin): copies on tmpfs list
#    fine, and the mca_base_component_path variables point there.
# Usage: mpi_emulated.sh BIN_DIR SYSROOT EMULATOR...
set -uo pipefail
bin="$1"
sysroot="$2"
shift 2
emu=("$@")
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
enter_temp_dir

plugins="$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)"
trap 'rm -rf "$temp_dir" "$plugins"' EXIT
cp -r "$sysroot"/usr/lib/*/openmpi/lib/openmpi3 "$plugins/ompi" &&
  cp -r "$sysroot"/usr/lib/*/pmix2/lib/pmix "$plugins/pmix" ||
  { echo "FAIL: Open MPI's plugins are not in the sysroot $sysroot"; exit 1; }
export OMPI_MCA_mca_base_component_path="$plugins/ompi"
export PMIX_MCA_mca_base_component_path="$plugins/pmix"
export OMPI_MCA_btl_vader_single_copy_mechanism=none  # see mpi_test.sh

"${emu[@]}" "$bin/prepare_data" --fashion-mnist --out fm.h5 >/dev/null || bad "prepare_data"
# Small: under qemu a vit-nano step runs at about 2 images/s.
vit=(--data fm.h5 --limit-train 64 --limit-test 16 --batch 8 --steps 4 --warmup 1 --threads 1
  --fixed-threads --log-every 1 --act dapa:16:fixed --dapa-refit-every 2)
"${emu[@]}" "$bin/train_vit" "${vit[@]}" --micro-batches 2 --out single >single.log 2>&1 ||
  { bad "one process, 2 micro-batches"; cat single.log; }
timeout 600 "${emu[@]}" "$sysroot/usr/bin/orterun" --allow-run-as-root --oversubscribe \
  --bind-to none -np 2 "${emu[@]}" "$bin/train_vit" "${vit[@]}" --out np2 >np2.log 2>&1 ||
  { bad "mpirun -np 2"; tail -20 np2.log; }
[ -e single/dapa_tables.h5 ] && ok || bad "one process wrote no DAPA tables"
identical "np 2 under qemu" single np2 test
grep -q '"processes": 2' np2/summary.json && ok || bad "summary.json lacks the process count"
finish mpi_emulated

#!/usr/bin/env bash
# Makes a Debian 12 sysroot for cross-building: the target's C/C++ runtime and every
# library the project links, extracted (not installed) by mmdebstrap from the main Debian
# archive this machine's apt already uses. Idempotent: an existing complete sysroot of the
# same package list is kept.
#   scripts/make-sysroot.sh armhf|arm64 DIR
set -euo pipefail
arch="${1:-}"
dir="${2:-}"
case "$arch" in
  armhf) triplet=arm-linux-gnueabihf ;;
  arm64) triplet=aarch64-linux-gnu ;;
  *) echo "make-sysroot.sh: expected armhf or arm64 as the architecture, got '$arch'" >&2; exit 2 ;;
esac
[ -n "$dir" ] || { echo "make-sysroot.sh: expected the sysroot directory as second argument" >&2; exit 2; }
packages=(
  libc6-dev libstdc++-12-dev libgcc-12-dev libgomp1
  libhdf5-dev zlib1g-dev libopenblas-openmp-dev libpcre2-dev
  libeigen3-dev xtensor-dev xtl-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev
  libopenmpi-dev openmpi-bin
)
# Open MPI: data-parallel training on the boards; openmpi-bin is the target's mpirun,
# which the emulated data-parallel test runs (tests/train/mpi_emulated.sh).
# Kept when complete and made from this package list (a package added here rebuilds it).
if [ -f "$dir/.complete" ] && [ "$(cat "$dir/.complete")" = "${packages[*]}" ]; then
  exit 0
fi

# The main archive's address, read from the host's apt sources (deb822 first, then the
# one-line format): the stanza whose suites include plain "bookworm".
mirror=""
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  mirror="$(awk '
    /^$/ { if (suite && uri) { print uri; exit } suite = 0; uri = "" }
    /^URIs:/ { uri = $2 }
    /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") suite = 1 }
    END { if (suite && uri) print uri }' /etc/apt/sources.list.d/debian.sources | head -1)"
fi
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror="$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list)"
fi
[ -n "$mirror" ] || { echo "make-sysroot.sh: no bookworm archive in this machine's apt sources" >&2; exit 1; }

rm -rf "$dir"
mkdir -p "$dir"
echo "make-sysroot.sh: extracting ${#packages[@]} packages for $arch from $mirror into $dir"
mmdebstrap --quiet --arch="$arch" --variant=extract --include="$(IFS=,; echo "${packages[*]}")" \
  bookworm "$dir" "deb $mirror bookworm main"
# Absolute symlinks inside the sysroot (libm.so -> /lib/...) must point into it.
find "$dir" -type l -lname '/*' | while read -r link; do
  target="$(readlink "$link")"
  ln -sfn "$dir$target" "$link"
done
# What update-alternatives would do on install: the OpenMP OpenBLAS as libopenblas.so.0.
ln -sfn "openblas-openmp/libopenblas.so.0" "$dir/usr/lib/$triplet/libopenblas.so.0"
[ -d "$dir/usr/lib/$triplet" ] || { echo "make-sysroot.sh: $dir lacks usr/lib/$triplet" >&2; exit 1; }
echo "${packages[*]}" >"$dir/.complete"

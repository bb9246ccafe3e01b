#!/usr/bin/env bash
# Writes the hardware tests' coefficient sets: for each configuration a table
# (make_test_table, JSON) and the C header and Verilog include dapa_export makes from it.
# The committed copies live in tests/golden/hw; the hw_fixtures_current test regenerates
# them into a temporary directory and compares, so generator and fixtures cannot drift.
#   make_fixtures.sh BIN_DIR OUT_DIR
set -euo pipefail
bin="$1"
out="$2"
# The configurations: hw/configurations.txt (comments and blank lines skipped).
configs=$(grep -v '^#' "$(dirname "$0")/../../hw/configurations.txt" | grep .)
for cfg in $configs; do
  segments="${cfg%_*}"
  mode="${cfg#*_}"
  mkdir -p "$out/$cfg"
  "$bin/make_test_table" "$segments" "$mode" "$out/$cfg/table.json"
  "$bin/dapa_export" --table "$out/$cfg/table.json" --header "$out/$cfg/dapa_coeffs.h" \
    --verilog "$out/$cfg/dapa_coeffs.vh" >/dev/null
  # The source line names the file it came from; keep it independent of OUT_DIR.
  sed -i "s|from $out/$cfg/table.json|from tests/golden/hw/$cfg/table.json|" \
    "$out/$cfg/dapa_coeffs.h" "$out/$cfg/dapa_coeffs.vh"
done

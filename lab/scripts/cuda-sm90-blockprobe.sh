#!/usr/bin/env bash
# Device-side per-block timelines (r14 probe, -DMLA4J_SM90_PROBE=2) of the base build and of variants, on the four-tile
# and the one-tile b = 128 rows. Build first, here: SM90_VARIANTS="PROBE=2 X=1,PROBE=2 ..." lab/scripts/cuda-sm90-build.sh
# (SM90_NO_PROBE=1 skips the PROBE=1 builds). Usage: VARIANTS="_X1" bash lab/scripts/cuda-sm90-blockprobe.sh
# (runs sm90_check_PROBE2 and sm90_check_X1_PROBE2). Output: the timeline table per build and row, and $OUT/probe*.txt.
set -uo pipefail
source "$(dirname "$0")/cuda-sm90-env.sh"
for v in "" ${VARIANTS:-}; do
  bin=$B/sm90_check${v}_PROBE2
  [ -x "$bin" ] || { echo "=== ${v:-base}: $bin not built"; continue; }
  for row in "128 4096 128 2" "128 4096 16 1"; do
    f=$OUT/probe${v:-_base}_$(echo "$row" | tr ' ' '_').txt
    timeout 120 "$bin" probe $row > "$f" 2>&1
    echo "=== ${v:-base} probe $row"
    sed -n '/per-block timeline/,/period of releases/p' "$f"
  done
done

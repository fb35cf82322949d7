#!/usr/bin/env bash
# Device-side A/B of kernel variants built by SM90_VARIANTS=... lab/scripts/cuda-sm90-build.sh: quick check,
# timelines (probe) and the small-batch sweep at F = 1, per variant. Usage: VARIANTS="_QFIRST1 _QFIRST2" bash ...
set -uo pipefail
cd "$(dirname "$0")/../.."
B=.carry/sm90
for v in "" ${VARIANTS:-}; do
  echo "=== variant ${v:-base}"
  SM90_F=1 timeout 100 $B/sm90_check$v quick | tail -n 1
  for a in "1 4096 16" "1 32768 16" "128 4096 16"; do SM90_F=1 $B/sm90_check_probe$v probe $a 2>&1 | grep -E "^probe|^  [a-zQ]" | grep -v empty; done
  SM90_SWEEP_F=1 timeout 100 $B/sm90_check$v sweep ${GEMM:-790} | grep -E "^\| [0-9]"
done

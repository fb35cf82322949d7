#!/usr/bin/env bash
# Device-side A/B of kernel variants (SM90_VARIANTS=... lab/scripts/cuda-sm90-build.sh): the 60-case check per
# variant, then the full bench table for base and each variant, in one run (same clocks, same ceilings).
# Usage: VARIANTS="_RELAY1 _RELAY2" bash lab/scripts/cuda-sm90-ab.sh   (SM90_F sets the split overhead; default 1)
set -uo pipefail
source "$(dirname "$0")/cuda-sm90-env.sh"
rc=0
for v in "" ${VARIANTS:-}; do
  timeout 150 $B/sm90_check$v check > $OUT/check${v:-_base}.txt 2>&1 || rc=1
  echo "check ${v:-base}: $(tail -n 1 $OUT/check${v:-_base}.txt)"
done
[ $rc -ne 0 ] && { grep -h FAIL $OUT/check*.txt | head -20; exit 1; }
for v in "" ${VARIANTS:-} ${REPEAT_BASE:+""}; do
  timeout 200 $B/sm90_check$v bench ${GEMM:-790} > $OUT/bench${v:-_base}.txt 2>&1
  echo "=== bench ${v:-base}"; grep -E "^\| [0-9]" $OUT/bench${v:-_base}.txt | awk -F'|' '{printf "%s/%s/%s/%s: %s (%s) %s\n",$2,$3,$4,$5,$10,$11,$15}' | tr -s ' ' | paste -sd';' | fold -w 240
done

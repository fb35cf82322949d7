#!/usr/bin/env bash
# Device-side A/B: the seesaw schedule for every row count (-DMLA4J_SM90_SEESAW=2, binary built by
# scripts/cuda-sm90-build.sh into .carry/sm90/sm90_check_seesaw_all), correctness then timings, test-only combine.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/sm90-out}; mkdir -p "$OUT"
B=.carry/sm90/sm90_check_seesaw_all
SM90_TEST_COMBINE=1 timeout 150 $B check 2>&1 | tail -2 | tee $OUT/check_seesaw_all.txt
SM90_TEST_COMBINE=1 timeout 200 $B bench 780 2>&1 | tee $OUT/bench_seesaw_all.txt

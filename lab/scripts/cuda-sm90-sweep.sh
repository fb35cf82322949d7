#!/usr/bin/env bash
# Device-side: the small-batch split policy and combine experiments (docs/PERF.md r8).
# Correctness first (60-case matrix at F = 5 and F = 1, new combine), then the F sweep with the combine
# launched plainly, with PDL, with PDL + same carveout as the decode, and the test-only combine for reference.
# Uses .carry/sm90 (lab/scripts/cuda-sm90-build.sh). Logs to $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/sm90-out}
mkdir -p "$OUT"
B=.carry/sm90
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,driver_version --format=csv | tee $OUT/device.txt
rc=0
for F in 5 1; do
  SM90_F=$F timeout 150 $B/sm90_check check > $OUT/check-F$F.txt 2>&1 || rc=1
  tail -1 $OUT/check-F$F.txt
done
[ $rc -ne 0 ] && { grep FAIL $OUT/check-F*.txt | head -20; exit 1; }
GEMM=${GEMM:-790}
timeout 120 $B/sm90_check sweep $GEMM > $OUT/sweep-plain.txt 2>&1; cat $OUT/sweep-plain.txt
SM90_PDL=1 timeout 120 $B/sm90_check sweep $GEMM > $OUT/sweep-pdl.txt 2>&1; cat $OUT/sweep-pdl.txt
SM90_PDL=1 SM90_CARVEOUT=1 timeout 120 $B/sm90_check sweep $GEMM > $OUT/sweep-pdl-carveout.txt 2>&1; cat $OUT/sweep-pdl-carveout.txt
SM90_TEST_COMBINE=1 timeout 120 $B/sm90_check sweep $GEMM > $OUT/sweep-testcombine.txt 2>&1; tail -5 $OUT/sweep-testcombine.txt
exit 0

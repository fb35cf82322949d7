#!/usr/bin/env bash
# Device-side: compute-sanitizer (memcheck, synccheck) on the quick correctness subset, then ncu on
# one tensor-bound config (seesaw schedule). Clocks left as found.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/sm90-out}; mkdir -p "$OUT"
B=.carry/sm90
[ -x $B/sm90_check ] || bash lab/scripts/cuda-sm90-build.sh
for tool in memcheck synccheck; do
  echo "=== compute-sanitizer --tool $tool"
  timeout 200 compute-sanitizer --tool $tool --error-exitcode 9 $B/sm90_check quick 2>&1 | tail -6 | tee $OUT/sanitize-$tool.txt
done
M=sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,dram__throughput.avg.pct_of_peak_sustained_elapsed,lts__t_sectors_op_read.sum,gpu__time_duration.sum,smsp__warp_issue_stalled_barrier_per_warp_active.pct,smsp__warp_issue_stalled_long_scoreboard_per_warp_active.pct,smsp__warp_issue_stalled_wait_per_warp_active.pct,sm__cycles_active.avg
for cfg in "128 4096 128 2" "128 4096 64 2"; do
  echo "=== ncu $cfg"
  timeout 120 ncu --clock-control none -k mla4j_decode_sm90 --launch-skip 2 --launch-count 1 \
    --section SpeedOfLight --metrics $M $B/sm90_check one $cfg 2>&1 | grep -vE "^==PROF==|^\s*$" | tee -a $OUT/ncu-seesaw.txt | grep -E "tensor_op|dram__thr|gpu__time|stalled|L2 Cache Thr|SM Freq"
done

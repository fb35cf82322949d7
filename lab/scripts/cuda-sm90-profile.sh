#!/usr/bin/env bash
# Device-side: Nsight Compute on a few configs of mla4j_decode_sm90 (clocks left as found).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/sm90-out}; mkdir -p "$OUT"
B=.carry/sm90
[ -x $B/sm90_check ] || bash lab/scripts/cuda-sm90-build.sh
M=sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,dram__throughput.avg.pct_of_peak_sustained_elapsed,lts__t_sectors_op_read.sum,dram__bytes_read.sum,gpu__time_duration.sum,smsp__warp_issue_stalled_barrier_per_warp_active.pct,smsp__warp_issue_stalled_long_scoreboard_per_warp_active.pct,smsp__warp_issue_stalled_wait_per_warp_active.pct,l1tex__data_pipe_lsu_wavefronts_mem_shared.sum,sm__cycles_active.avg
for cfg in "128 4096 128 2" "128 4096 64 1" "128 4096 16 1" "1 32768 16 1"; do
  echo "=== $cfg"
  timeout 120 ncu --clock-control none -k mla4j_decode_sm90 --launch-skip 2 --launch-count 1 \
    --section SpeedOfLight --section WarpStateStats --metrics $M $B/sm90_check one $cfg 2>&1 | grep -vE "^==PROF==|^\s*$" | tee -a $OUT/ncu.txt | tail -60
done

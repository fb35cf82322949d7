#!/usr/bin/env bash
# Device-side run: SASS summary, correctness matrix, then (if it passed) the timing table.
# Uses binaries carried in .carry/sm90 (lab/scripts/cuda-sm90-build.sh), else builds them here.
# Usage: bash lab/scripts/cuda-sm90-check.sh [check|bench|all]   (SM90_AB=1: also check/bench with 2-CTA clusters)
set -uo pipefail
cd "$(dirname "$0")/../.."
MODE=${1:-all}
OUT=${OUT:-/tmp/sm90-out}
mkdir -p "$OUT"
B=.carry/sm90
[ -x $B/sm90_check ] || bash lab/scripts/cuda-sm90-build.sh
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,driver_version --format=csv | tee $OUT/device.txt
if command -v cuobjdump >/dev/null; then
  cuobjdump -sass $B/decode_sm90.cubin > $OUT/decode_sm90.sass 2>&1
  echo "SASS op counts:"; grep -oE "HGMMA[.A-Z0-9x]*|UTMALDG[.A-Z0-9]*|USETMAXREG[.A-Z0-9]*|SYNCS[.A-Z0-9]*|LDL|STL" $OUT/decode_sm90.sass | sort | uniq -c
fi
rc=0
if [ "$MODE" != bench ]; then
  timeout 150 $B/sm90_check check 2>&1 | tee $OUT/check.txt; rc=${PIPESTATUS[0]}
  if [ $rc -eq 1 ]; then
    echo "=== check failed (rc=$rc): trying the LBO/SBO-swapped V descriptor variant"
    timeout 200 $B/sm90_check_vswap check 2>&1 | tail -25 | tee $OUT/check_vswap.txt
  elif [ "${SM90_AB:-0}" = 1 ]; then
    echo "=== check with 2-CTA clusters (SM90_CLUSTER=1)"
    SM90_CLUSTER=1 timeout 150 $B/sm90_check check 2>&1 | tail -3 | tee $OUT/check_cluster.txt
  fi
fi
if [ "$MODE" != check ] && [ $rc -eq 0 ]; then
  GEMM=$(timeout 60 python3 - <<'PY' 2>/dev/null || echo 790
import torch
a=torch.randn(8192,8192,device='cuda',dtype=torch.bfloat16); b=torch.randn(8192,8192,device='cuda',dtype=torch.bfloat16)
for _ in range(3): a@b
torch.cuda.synchronize(); ts=[]
for _ in range(10):
    s=torch.cuda.Event(enable_timing=True); e=torch.cuda.Event(enable_timing=True); s.record(); a@b; e.record(); e.synchronize(); ts.append(s.elapsed_time(e))
ts.sort(); print(round(2*8192**3/(ts[5]*1e-3)/1e12))
PY
)
  echo "measured bf16 GEMM peak: $GEMM TFLOP/s"
  timeout 200 $B/sm90_check bench $GEMM 2>&1 | tee $OUT/bench.txt
  if [ "${SM90_AB:-0}" = 1 ]; then
    echo "=== A/B: 2-CTA clusters (SM90_CLUSTER=1)"
    SM90_CLUSTER=1 timeout 200 $B/sm90_check bench $GEMM 2>&1 | tee $OUT/bench_cluster.txt
  fi
fi
exit $rc

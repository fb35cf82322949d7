#!/usr/bin/env bash
# Device-side run (one `run` call): device info, SASS op counts, correctness matrix, then the timing table + csv.
# Uses the binaries built here by build.sh (carried in lab/etap/bin), rebuilds there if they do not start.
# Logs under $OUT. Usage: bash lab/etap/run.sh [check|bench|all] (default all); ETAP_SANITIZE=1 adds memcheck.
set -uo pipefail
cd "$(dirname "$0")"
MODE=${1:-all}
OUT=${OUT:-/tmp/etap-out}
mkdir -p "$OUT"
T0=$(date +%s)
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,clocks.mem,driver_version,temperature.gpu,power.draw --format=csv | tee $OUT/device.txt
B=bin/etap_check_main
$B nosuchmode >/dev/null 2>&1; r=$?
if [ $r -ne 2 ]; then echo "carried binary does not start (rc $r): building here"; bash build.sh 2>&1 | tail -15; fi
$B nosuchmode 2>&1 | head -1
if command -v cuobjdump >/dev/null && [ -f obj/etap_main.cubin ]; then
  cuobjdump -sass obj/etap_main.cubin > $OUT/etap_main.sass 2>&1
  echo "SASS op counts:"; grep -oE "HGMMA\.[0-9x]*|UTMALDG[.A-Z0-9]*|USETMAXREG[.A-Z0-9]*|STSM[.A-Z0-9]*|LDL|STL" $OUT/etap_main.sass | sort | uniq -c
  gzip -f $OUT/etap_main.sass
fi
rc=0
if [ "$MODE" != bench ]; then
  timeout 100 $B check 2>&1 > $OUT/check.txt; rc=$?
  grep -E "FAIL|worst|CHECK" $OUT/check.txt | tail -25
  if [ $rc -ne 0 ] && [ -x bin/etap_check_vswap ]; then
    echo "=== check failed (rc=$rc): the LBO/SBO-swapped V^T descriptor variant"
    timeout 60 bin/etap_check_vswap check 2>&1 | grep -E "FAIL|CHECK" | tail -8
  fi
  echo "check wall: $(( $(date +%s) - T0 )) s"
fi
if [ "$MODE" != check ]; then
  ETAP_CSV=$OUT/etap_bench.csv timeout 120 $B bench 798 2>&1 | tee $OUT/bench.txt | grep -v "^$"
  for v in ${ETAP_BENCH_VARIANTS:-}; do  # variant binaries, 16/1 only
    [ -x bin/etap_check_$v ] || continue
    echo "=== variant $v (16/1)"
    ETAP_BENCH_ONLY=16/1 ETAP_CSV=$OUT/etap_bench_$v.csv timeout 60 bin/etap_check_$v bench 798 2>&1 | grep "^|" | tee $OUT/bench_$v.txt
  done
fi
if [ "${ETAP_SANITIZE:-0}" = 1 ]; then
  echo "=== compute-sanitizer memcheck (one 6 3000 16 2)"
  timeout 60 compute-sanitizer --tool memcheck $B one 6 3000 16 2 2>&1 | tail -3
  echo "=== memcheck (one 5 3000 16 1: the block-parallel configuration)"
  timeout 60 compute-sanitizer --tool memcheck $B one 5 3000 16 1 2>&1 | tail -2
  for tool in racecheck synccheck; do
    echo "=== $tool (one 4 2000 16 1)"; timeout 50 compute-sanitizer --tool $tool $B one 4 2000 16 1 2>&1 | tail -2
  done
fi
echo "total wall: $(( $(date +%s) - T0 )) s"
exit $rc

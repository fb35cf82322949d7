#!/usr/bin/env bash
# Device-side quick iteration on the sm90 kernel: SASS spill/op counts, the 60-case check (F = 1 and 5),
# timelines (probe), the small-batch sweep and the full bench table. Uses .carry/sm90. Logs to $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/sm90-out}
mkdir -p "$OUT"
B=.carry/sm90
if command -v cuobjdump >/dev/null; then
  cuobjdump -sass $B/decode_sm90.cubin > $OUT/decode_sm90.sass 2>&1
  echo "SASS op counts:"; grep -oE "HGMMA[.A-Z0-9x]*|UTMALDG[.A-Z0-9]*|LDGSTS[.A-Z0-9]*|LDL[.A-Z0-9]*|STL[.A-Z0-9]*" $OUT/decode_sm90.sass | sort | uniq -c
fi
rc=0
for F in 1 5; do
  SM90_F=$F timeout 150 $B/sm90_check check > $OUT/check-F$F.txt 2>&1 || rc=1
  tail -n 1 $OUT/check-F$F.txt
done
[ $rc -ne 0 ] && { grep FAIL $OUT/check-F*.txt | head -20; exit 1; }
for a in "1 4096 16" "1 32768 16" "128 4096 16"; do SM90_F=1 $B/sm90_check_probe probe $a 2>&1 | grep -v "^device\|^combine\|^co-res\|^split" ; done | tee $OUT/probe.txt
[ "${SWEEP:-1}" = 1 ] && { timeout 150 $B/sm90_check sweep ${GEMM:-790} > $OUT/sweep.txt 2>&1; grep -E "^\| [0-9]" $OUT/sweep.txt | awk -F'|' '$7+0==1 || $2+0==128 {print}'; }
[ "${BENCH:-0}" = 1 ] && { SM90_F=${BENCH_F:-1} timeout 200 $B/sm90_check bench ${GEMM:-790} > $OUT/bench.txt 2>&1; cat $OUT/bench.txt; }
exit 0

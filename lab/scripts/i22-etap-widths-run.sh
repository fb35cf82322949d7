#!/usr/bin/env bash
# One device call for issue 22's width target on Hopper through the transposed kernel's width entries
# (mla4j_decode_sm90_etap_<dc>x<dr>; docs/PERF.md "2026-12-04 (late night): the transposed kernel at the other widths").
# Run it after lab/scripts/i19-etap-run.sh passed (that call checks every width case of the conformance matrix with
# the etap variant). Bounded smoke run of the width entries first, then the width grid with the portable kernel
# (sm80) and with the transposed kernel where it serves (etap: the s_q = 1 rows; s_q = 2 is 32 rows, the portable
# entry's), so the floor fractions of 256+32 and 512+64 come from one run.
# usage (device): run(command="bash lab/scripts/i22-etap-widths-run.sh", carry=[".carry"])
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv > "$OUT/env.txt" 2>&1
source scripts/gpu-env.sh
timeout 120 "$JAVA" "${JOPTS[@]}" -Dmla4j.cuda.kernel=etap -cp "$CP" io.mla4j.conformance.ConformanceMain --backend cuda \
  --geometry-only > "$OUT/geometry.log" 2>&1
rc=$?; echo "geometry conformance (etap) rc=$rc"; tail -6 "$OUT/geometry.log"
[ $rc -eq 0 ] || { cd "$OUT" && tar czf logs.tgz geometry.log env.txt; exit 1; }
mkdir -p "$OUT/widths"
"$JAVA" "${JOPTS[@]}" -cp "$CP" io.mla4j.gpubench.GpuBench --kernels sm80,etap --dims 512+64,256+64,256+32,128+64,128+32 \
  --no-baseline --out "$OUT/widths" > "$OUT/widths/bench.log" 2>&1; echo "widths rc=$?"
sed -n '/^ceilings/,$p' "$OUT/widths/bench.log"
cd "$OUT" && tar czf logs.tgz geometry.log widths env.txt 2>/dev/null

#!/usr/bin/env bash
# One device call for issue 23's GPU targets through the transposed kernel's fp8 entry (mla4j_decode_sm90_etap_fp8;
# docs/PERF.md "2026-12-04 (late night): fp8_e4m3 on the transposed kernel"). Run it after lab/scripts/i19-etap-run.sh
# passed. The conformance matrix's fp8 cases with the etap variant first (bounded), then the cache-format grid (each
# config with a bf16 and an fp8_e4m3 cache) with the relay kernel alone (sm90) and with the transposed one where it
# serves (etap: the 16-row rows), so the fp8 / bf16 ratios of both come from one run.
# usage (device): run(command="bash lab/scripts/i23-etap-fp8-run.sh", carry=[".carry"])
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv > "$OUT/env.txt" 2>&1
source scripts/gpu-env.sh
timeout 240 "$JAVA" "${JOPTS[@]}" -Dmla4j.cuda.kernel=etap -cp "$CP" io.mla4j.conformance.ConformanceMain --backend cuda \
  > "$OUT/conformance.log" 2>&1
rc=$?; echo "conformance (etap, fp8 cases included) rc=$rc"; tail -6 "$OUT/conformance.log"
[ $rc -eq 0 ] || { cd "$OUT" && tar czf logs.tgz conformance.log env.txt; exit 1; }
mkdir -p "$OUT/fp8"
"$JAVA" "${JOPTS[@]}" -cp "$CP" io.mla4j.gpubench.GpuBench --cache fp8 --kernels sm90,etap --no-baseline --out "$OUT/fp8" \
  > "$OUT/fp8/bench.log" 2>&1; echo "fp8 rc=$?"
sed -n '/^ceilings/,$p' "$OUT/fp8/bench.log"
cd "$OUT" && tar czf logs.tgz conformance.log fp8 env.txt 2>/dev/null

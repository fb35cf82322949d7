#!/usr/bin/env bash
# One device call (2026-12-04): the gather fix re-measured. GPU tests (conformance sm80/sm90, checks, sanitizers),
# conformance of the gather-everything lab image (.carry/lab-gather-all.fatbin: kTmaMinPageShift 9), the page grid
# on the shipped sm90 image, and the quick grid on both images (same call).
set -uo pipefail
cd "$(dirname "$0")/../.."
source scripts/gpu-env.sh
base="$OUT"
{ nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv; "$JAVA" -version 2>&1 | head -1; } > "$base/env.txt"
OUT="$base/tests" ; mkdir -p "$OUT"; timeout 200 bash scripts/gpu-test.sh > "$base/gpu-test.out" 2>&1; echo "gpu-test rc=$?" >> "$base/gpu-test.out"
ga=(-Dmla4j.cuda.fatbin=.carry/lab-gather-all.fatbin)
timeout 60 "$JAVA" "${JOPTS[@]}" "${ga[@]}" -Dmla4j.cuda.kernel=sm90 -cp "$CP" io.mla4j.conformance.ConformanceMain --backend cuda > "$base/gather-all-conformance.log" 2>&1
echo "rc=$?" >> "$base/gather-all-conformance.log"
mkdir -p "$base/pages" "$base/quick" "$base/quick-gather-all"
timeout 200 "$JAVA" "${JOPTS[@]}" -cp "$CP" io.mla4j.gpubench.GpuBench --out "$base/pages" --kernels sm90 --pages 1,2,4,8,16,32,64,128 > "$base/pages/bench.log" 2>&1; echo "rc=$?" >> "$base/pages/bench.log"
timeout 60 "$JAVA" "${JOPTS[@]}" -cp "$CP" io.mla4j.gpubench.GpuBench --out "$base/quick" --kernels sm90 --quick --no-baseline > "$base/quick/bench.log" 2>&1; echo "rc=$?" >> "$base/quick/bench.log"
timeout 60 "$JAVA" "${JOPTS[@]}" "${ga[@]}" -cp "$CP" io.mla4j.gpubench.GpuBench --out "$base/quick-gather-all" --kernels sm90 --quick --no-baseline > "$base/quick-gather-all/bench.log" 2>&1; echo "rc=$?" >> "$base/quick-gather-all/bench.log"
rm -rf "$base/tests/"*.json 2>/dev/null
tar czf "$base/logs.tgz" -C "$base" tests pages quick quick-gather-all gather-all-conformance.log && rm -rf "$base/tests" "$base/pages" "$base/quick" "$base/quick-gather-all"
tail -16 "$base/gpu-test.out"; tail -3 "$base/gather-all-conformance.log"

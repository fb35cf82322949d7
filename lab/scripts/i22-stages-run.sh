#!/usr/bin/env bash
# Second device call of 2026-12-04 (night): the sm80 width entries with the K stages that fit (stages_that_fit) against
# the same image launched with two stages (its launch properties overridden, .carry/ab2/), and the portable kernel's
# fp8_e4m3 entry (conformance, GpuChecks' all-codes check, sanitizers on the geometry/fp8 cases).
# usage (device): run(command="bash lab/scripts/i22-stages-run.sh", carry=[".carry"])
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
source scripts/gpu-env.sh
log="$OUT/checks.log"; : > "$log"
chk() { local name="$1"; shift; echo "=== $name" >> "$log"; "$@" >> "$log" 2>&1; echo "$name rc=$?"; }
for k in sm80 sm90; do
  chk "conformance $k" "$JAVA" "${JOPTS[@]}" -Dmla4j.cuda.kernel=$k -cp "$CP" io.mla4j.conformance.ConformanceMain --backend cuda
done
chk "gpu-checks sm80" "$JAVA" "${JOPTS[@]}" -Dmla4j.cuda.kernel=sm80 -cp "$CP" io.mla4j.gpubench.GpuChecks
for tool in memcheck racecheck synccheck; do
  chk "$tool sm80 geometry" timeout 200 compute-sanitizer --tool $tool --error-exitcode 3 --print-limit 20 "$JAVA" "${JOPTS[@]}" \
    -Dmla4j.cuda.kernel=sm80 -cp "$CP" io.mla4j.conformance.ConformanceMain --backend cuda --geometry-only
done
grep -E "cases passed|gpu-checks: |ERROR SUMMARY|RACECHECK SUMMARY|^FAIL" "$log" | head -40
bench() { local name="$1"; shift; mkdir -p "$OUT/$name"
  "$JAVA" "${JOPTS[@]}" "$@" --out "$OUT/$name" --no-baseline > "$OUT/$name/bench.log" 2>&1; echo "$name rc=$?"; }
bench widths -cp "$CP" io.mla4j.gpubench.GpuBench --kernels sm80 --dims 256+64,256+32,128+64,128+32
bench widths-2stages -Dmla4j.cuda.fatbin="$root/.carry/ab2/mla4j_kernels.fatbin" -cp "$CP" io.mla4j.gpubench.GpuBench \
  --kernels sm80 --dims 256+64,256+32,128+64,128+32
for d in widths widths-2stages; do echo "== $d"; sed -n '/^config/,/^bench:/p' "$OUT/$d/bench.log"; done
cd "$OUT" && tar czf logs.tgz checks.log widths widths-2stages 2>/dev/null
rm -rf "$OUT/widths" "$OUT/widths-2stages" "$OUT/checks.log"

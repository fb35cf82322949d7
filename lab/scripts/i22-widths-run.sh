#!/usr/bin/env bash
# One device call for issue 22's width pairs (docs/PERF.md "2026-12-04 (night), H200: the other width pairs"):
# the GPU tests (conformance on both variants incl. the width cases, GpuChecks, sanitizers), then the width grid on
# the portable kernel, the sm90 kernel's 512+64 rows, and the previous image's sm80 rows (A/B of the DeepSeek entry
# and the combine, same call). The previous image and its launch properties are carried in .carry/ab/.
# usage (device): run(command="bash lab/scripts/i22-widths-run.sh", carry=[".carry"])
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bash scripts/gpu-test.sh > "$OUT/gpu-test.out" 2>&1; echo "gpu-test rc=$?"; tail -22 "$OUT/gpu-test.out"
source scripts/gpu-env.sh
bench() { local name="$1"; shift; mkdir -p "$OUT/$name"
  "$JAVA" "${JOPTS[@]}" "$@" --out "$OUT/$name" --no-baseline > "$OUT/$name/bench.log" 2>&1; echo "$name rc=$?"; }
bench widths -cp "$CP" io.mla4j.gpubench.GpuBench --kernels sm80 --dims 512+64,256+64,256+32,128+64,128+32
bench sm90 -cp "$CP" io.mla4j.gpubench.GpuBench --kernels sm90 --pages 64
bench ab-old -Dmla4j.cuda.fatbin="$root/.carry/ab/mla4j_kernels.fatbin" -cp "$CP" io.mla4j.gpubench.GpuBench --kernels sm80 \
  --pages 64
for d in widths sm90 ab-old; do echo "== $d"; sed -n '/^config/,$p' "$OUT/$d/bench.log"; done
cd "$OUT" && tar czf logs.tgz gpu-test.out test.log sanitizer.log widths sm90 ab-old 2>/dev/null
rm -rf "$OUT/widths" "$OUT/sm90" "$OUT/ab-old" "$OUT/test.log" "$OUT/sanitizer.log"

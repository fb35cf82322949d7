#!/usr/bin/env bash
# Device call: mla4j_step with batched loads from the staging memory (docs/PERF.md "mla4j_step's loads", issue 26):
# GpuChecks (graph steps correctness and poisoned staging), memcheck on 20 graph steps, GraphSteps on this image and on
# the previous one (.carry/ab3/), and ncu's duration of mla4j_step in both (GraphSteps --quick).
# usage (device): run(command="bash lab/scripts/i26-step-run.sh", carry=[".carry"])
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
source scripts/gpu-env.sh
old=(-Dmla4j.cuda.fatbin="$root/.carry/ab3/mla4j_kernels.fatbin")
"$JAVA" "${JOPTS[@]}" -cp "$CP" io.mla4j.gpubench.GpuChecks > "$OUT/gpu-checks.log" 2>&1; echo "gpu-checks rc=$?"
grep -E "graph steps|gpu-checks:" "$OUT/gpu-checks.log" | tail -4
timeout 150 compute-sanitizer --tool memcheck --error-exitcode 3 "$JAVA" "${JOPTS[@]}" -cp "$CP" io.mla4j.gpubench.GpuChecks \
  --graph-steps 20 > "$OUT/memcheck.log" 2>&1; echo "memcheck rc=$?"; grep "ERROR SUMMARY" "$OUT/memcheck.log"
mkdir -p "$OUT/new" "$OUT/old"
"$JAVA" "${JOPTS[@]}" -cp "$CP" io.mla4j.gpubench.GraphSteps --out "$OUT/new" > "$OUT/new/graph-steps.log" 2>&1; echo "new rc=$?"
"$JAVA" "${JOPTS[@]}" "${old[@]}" -cp "$CP" io.mla4j.gpubench.GraphSteps --out "$OUT/old" > "$OUT/old/graph-steps.log" 2>&1
echo "old rc=$?"
for d in new old; do echo "== $d"; grep -v WARNING "$OUT/$d/graph-steps.log"; done
for d in new old; do
  opt=(); [ $d = old ] && opt=("${old[@]}")
  timeout 200 ncu --kernel-name mla4j_step --launch-count 30 --metrics gpu__time_duration.sum --csv "$JAVA" "${JOPTS[@]}" \
    "${opt[@]}" -cp "$CP" io.mla4j.gpubench.GraphSteps --quick > "$OUT/$d/ncu.csv" 2> "$OUT/$d/ncu.err"
  echo "ncu $d rc=$?: mla4j_step us:" $(grep -o '"gpu__time_duration.sum","[a-z]*","[0-9.,]*"' "$OUT/$d/ncu.csv" | cut -d'"' -f6 | head -30)
done
cd "$OUT" && tar czf logs.tgz gpu-checks.log memcheck.log new old && rm -rf new old gpu-checks.log memcheck.log

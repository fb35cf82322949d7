#!/usr/bin/env bash
# Device call: the schedule walk by runs (include/mla4j/schedule_walk.h; docs/PERF.md, issue 26): GpuChecks (GPU
# scheduler == SplitSchedule, graph steps), conformance on both kernels (every plan is scheduled on the GPU), memcheck and
# racecheck on graph steps, ncu's duration of mla4j_step / mla4j_schedule on this image and on the one before the step
# changes (.carry/ab3/), GraphSteps on this image, the GPU bench's plan lines on both.
# usage (device): run(command="bash lab/scripts/i26-walk-run.sh", carry=[".carry"])
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
source scripts/gpu-env.sh
old=(-Dmla4j.cuda.fatbin="$root/.carry/ab3/mla4j_kernels.fatbin")
"$JAVA" "${JOPTS[@]}" -cp "$CP" io.mla4j.gpubench.GpuChecks > "$OUT/gpu-checks.log" 2>&1; echo "gpu-checks rc=$?"
grep -E "GPU scheduler ==|gpu-checks:" "$OUT/gpu-checks.log" | tail -3
for k in sm80 sm90; do
  "$JAVA" "${JOPTS[@]}" -Dmla4j.cuda.kernel=$k -cp "$CP" io.mla4j.conformance.ConformanceMain --backend cuda > "$OUT/conf-$k.log" 2>&1
  echo "conformance $k rc=$?" $(grep "cases passed" "$OUT/conf-$k.log" | tail -1)
done
for t in memcheck racecheck; do
  timeout 150 compute-sanitizer --tool $t --error-exitcode 3 "$JAVA" "${JOPTS[@]}" -cp "$CP" io.mla4j.gpubench.GpuChecks \
    --graph-steps 20 > "$OUT/$t.log" 2>&1; echo "$t rc=$?" $(grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$OUT/$t.log")
done
mkdir -p "$OUT/new" "$OUT/old"
for d in new old; do
  opt=(); [ $d = old ] && opt=("${old[@]}")
  timeout 200 ncu --kernel-name regex:'mla4j_st|mla4j_sch' --launch-count 40 --metrics gpu__time_duration.sum --csv "$JAVA" \
    "${JOPTS[@]}" "${opt[@]}" -cp "$CP" io.mla4j.gpubench.GraphSteps --quick > "$OUT/$d/ncu.csv" 2> "$OUT/$d/ncu.err"
  echo "ncu $d rc=$?"; grep '"gpu__time_duration.sum"' "$OUT/$d/ncu.csv" | awk -F'","' '{print $5, $9, $NF}' | sort | uniq -c | head -14
  "$JAVA" "${JOPTS[@]}" "${opt[@]}" -cp "$CP" io.mla4j.gpubench.GpuBench --kernels sm90 --limit 1 --no-baseline --out "$OUT/$d/bench" \
    > "$OUT/$d/bench.log" 2>&1; echo "bench $d rc=$?"; grep "^plan" "$OUT/$d/bench.log"
done
"$JAVA" "${JOPTS[@]}" -cp "$CP" io.mla4j.gpubench.GraphSteps --out "$OUT/new" > "$OUT/new/graph-steps.log" 2>&1
echo "graph-steps new rc=$?"; grep -v WARNING "$OUT/new/graph-steps.log"
cd "$OUT" && tar czf logs.tgz *.log new old && rm -rf new old *.log

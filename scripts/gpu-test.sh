#!/usr/bin/env bash
# GPU tests, on the GPU machine (after scripts/jlink-runtime.sh here; carry .carry):
#   1. the whole conformance matrix (ConformanceMain --backend cuda) once per decode kernel variant;
#   2. GpuChecks: GPU scheduler == SplitSchedule, graph replay == eager, views over caller memory,
#      cuBLAS baseline vs the oracle, device memory back to its cuMemGetInfo baseline;
#   3. compute-sanitizer memcheck, racecheck and synccheck over a few small harness shapes per variant.
# Writes $OUT/test.log and $OUT/sanitizer.log; prints a summary last; exits non-zero on any failure.
# Environment: MLA4J_VARIANTS (default "sm80 sm90 etap": etap = the relay kernel plus the transposed one where it
# serves), MLA4J_SANITIZE=0 (skip the sanitizers), MLA4J_SANITIZE_TIMEOUT (s).
# usage: OUT=$(mktemp -d) bash scripts/gpu-test.sh
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/gpu-env.sh"
log="$OUT/test.log"; slog="$OUT/sanitizer.log"
: > "$log"; : > "$slog"
summary=()
status=0
step() { # name, then the command
  local name="$1"; shift
  echo "=== $name" | tee -a "$log"
  local t0=$SECONDS
  "$@" >> "$log" 2>&1
  local rc=$?
  local last; last="$(grep -E 'cases passed|gpu-checks: (all|[0-9]+ FAILED)' "$log" | tail -1)"
  summary+=("$(printf '%-48s rc=%d  %3ds  %s' "$name" "$rc" $((SECONDS - t0)) "$last")")
  [ $rc -ne 0 ] && status=1
  return 0
}
variants="${MLA4J_VARIANTS:-sm80 sm90 etap}"
for k in $variants; do
  step "conformance cuda kernel=$k" "$JAVA" "${JOPTS[@]}" -Dmla4j.cuda.kernel=$k -cp "$CP" \
    io.mla4j.conformance.ConformanceMain --backend cuda
done
step "gpu-checks (schedule, graph, views, cuBLAS, memory)" "$JAVA" "${JOPTS[@]}" -cp "$CP" io.mla4j.gpubench.GpuChecks
if command -v compute-sanitizer >/dev/null 2>&1 && [ "${MLA4J_SANITIZE:-1}" = 1 ]; then
  for k in $variants; do
    for tool in memcheck racecheck synccheck; do
      echo "=== compute-sanitizer $tool kernel=$k" >> "$slog"
      t0=$SECONDS
      timeout "${MLA4J_SANITIZE_TIMEOUT:-150}" compute-sanitizer --tool $tool --error-exitcode 3 --print-limit 20 \
        "$JAVA" "${JOPTS[@]}" -Dmla4j.cuda.kernel=$k -cp "$CP" io.mla4j.gpubench.GpuChecks --cases 3 >> "$slog" 2>&1
      rc=$?
      last="$(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$slog" | tail -1)"
      summary+=("$(printf '%-48s rc=%d  %3ds  %s' "compute-sanitizer $tool $k" "$rc" $((SECONDS - t0)) "$last")")
      [ $rc -ne 0 ] && status=1
    done
  done
  # the paging paths (TMA loads of page rows, the cp.async gather below 8-token pages) on the geometry cases
  for k in $variants; do
    for tool in memcheck racecheck; do
      echo "=== compute-sanitizer $tool kernel=$k geometry cases" >> "$slog"
      t0=$SECONDS
      timeout "${MLA4J_SANITIZE_TIMEOUT:-150}" compute-sanitizer --tool $tool --error-exitcode 3 --print-limit 20 \
        "$JAVA" "${JOPTS[@]}" -Dmla4j.cuda.kernel=$k -cp "$CP" io.mla4j.conformance.ConformanceMain --backend cuda \
        --geometry-only >> "$slog" 2>&1
      rc=$?
      last="$(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$slog" | tail -1)"
      summary+=("$(printf '%-48s rc=%d  %3ds  %s' "compute-sanitizer $tool $k pages" "$rc" $((SECONDS - t0)) "$last")")
      [ $rc -ne 0 ] && status=1
    done
  done
  # graph-replayed steps of an updatable plan, with the staging memory poisoned past the host checks (issue 26)
  for tool in memcheck synccheck; do
    echo "=== compute-sanitizer $tool graph steps" >> "$slog"
    t0=$SECONDS
    timeout "${MLA4J_SANITIZE_TIMEOUT:-150}" compute-sanitizer --tool $tool --error-exitcode 3 --print-limit 20 \
      "$JAVA" "${JOPTS[@]}" -cp "$CP" io.mla4j.gpubench.GpuChecks --graph-steps 20 >> "$slog" 2>&1
    rc=$?
    last="$(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$slog" | tail -1)"
    summary+=("$(printf '%-48s rc=%d  %3ds  %s' "compute-sanitizer $tool graph steps" "$rc" $((SECONDS - t0)) "$last")")
    [ $rc -ne 0 ] && status=1
  done
else
  summary+=("compute-sanitizer: not run (not on the PATH or MLA4J_SANITIZE=0)")
fi
grep -E "^FAIL|FAIL " "$log" | head -40
echo "---- gpu-test summary"
printf '%s\n' "${summary[@]}"
exit $status

#!/usr/bin/env bash
# The fuzz suite on the CUDA backend, on the GPU machine (after scripts/jlink-runtime.sh here; carry .carry):
# random valid and hostile calls checked against the oracle, allocate/plan/decode/close cycles with device
# memory back at its baseline, a soak, and a short run under compute-sanitizer memcheck (docs/RELIABILITY.md).
# Writes $OUT/fuzz.log; prints one summary line per step; exits non-zero on any failure.
# Environment: MLA4J_FUZZ_CALLS (20000), MLA4J_FUZZ_CYCLES (10000), MLA4J_FUZZ_SOAK (seconds, 120),
# MLA4J_FUZZ_MEMCHECK_CALLS (600; 0 skips memcheck).
# usage: OUT=$(mktemp -d) bash scripts/gpu-fuzz.sh
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/gpu-env.sh"
log="$OUT/fuzz.log"
: > "$log"
status=0
summary=()
fuzz() { # name, then FuzzMain's arguments
  local name="$1"; shift
  echo "=== fuzz $name: $*" >> "$log"
  local t0=$SECONDS
  local step; step="$(mktemp)"
  "$JAVA" "${JOPTS[@]}" -cp "$CP" io.mla4j.conformance.fuzz.FuzzMain --backend cuda "$@" > "$step" 2>&1
  local rc=$?
  cat "$step" >> "$log"
  # FuzzMain passes (status 0) when it cannot open the backend; on the GPU machine that is a failure
  grep -q "skipped: cannot open it here" "$step" && rc=4
  summary+=("$(printf 'fuzz %-10s rc=%d  %4ds  %s' "$name" "$rc" $((SECONDS - t0)) "$(grep -E '^FUZZ ' "$step" | tail -1)")")
  rm -f "$step"
  [ $rc -ne 0 ] && status=1
  return 0
}
fuzz calls --calls "${MLA4J_FUZZ_CALLS:-20000}" --seed 1
fuzz cycles --cycles "${MLA4J_FUZZ_CYCLES:-10000}" --seed 2
fuzz soak --soak "${MLA4J_FUZZ_SOAK:-120}" --seed 3
n="${MLA4J_FUZZ_MEMCHECK_CALLS:-600}"
if [ "$n" != 0 ] && command -v compute-sanitizer >/dev/null 2>&1; then
  echo "=== fuzz memcheck: --calls $n --seed 4" >> "$log"
  t0=$SECONDS
  compute-sanitizer --tool memcheck --error-exitcode 3 --print-limit 20 \
    "$JAVA" "${JOPTS[@]}" -cp "$CP" io.mla4j.conformance.fuzz.FuzzMain --backend cuda --calls "$n" --seed 4 >> "$log" 2>&1
  rc=$?
  summary+=("$(printf 'fuzz %-10s rc=%d  %4ds  %s' memcheck "$rc" $((SECONDS - t0)) \
    "$(grep -E 'ERROR SUMMARY' "$log" | tail -1)")")
  [ $rc -ne 0 ] && status=1
fi
echo "---- gpu-fuzz summary"
printf '%s\n' "${summary[@]}"
exit $status

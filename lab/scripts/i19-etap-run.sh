#!/usr/bin/env bash
# One device call for issue 19's transposed kernel in the product (docs/PERF.md "2026-12-04 (late night), H200: the
# transposed kernel shipped"): the GPU tests (conformance for sm80, sm90 = relay only, etap = relay + the transposed
# kernel where it serves; GpuChecks; the sanitizers for each), then the kernel-choice grid: etap (the transposed
# kernel where it serves) against auto (the relay kernel while DecodeKernels.ETAP_BY_DEFAULT is off): a choice FAIL
# there (auto > 3% slower than the transposed kernel) is the measurement that turns it on.
# usage (device): run(command="bash lab/scripts/i19-etap-run.sh", carry=[".carry"])
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv > "$OUT/env.txt" 2>&1
source scripts/gpu-env.sh
# a first run of the port that has never run: bounded, so a hang or a fault costs 90 s of the call, not all of it
timeout 90 "$JAVA" "${JOPTS[@]}" -Dmla4j.cuda.kernel=etap -cp "$CP" io.mla4j.gpubench.GpuChecks --cases 3 > "$OUT/smoke.log" 2>&1
rc=$?; echo "smoke (etap, GpuChecks --cases 3) rc=$rc"; tail -15 "$OUT/smoke.log"
[ $rc -eq 0 ] || { cd "$OUT" && tar czf logs.tgz smoke.log env.txt; exit 1; }
bash scripts/gpu-test.sh > "$OUT/gpu-test.out" 2>&1; echo "gpu-test rc=$?"; tail -26 "$OUT/gpu-test.out"
# the fuzz suite with the transposed kernel where it serves: random valid shapes (geometries included) checked
# against the oracle, and hostile ones
timeout 180 "$JAVA" "${JOPTS[@]}" -Dmla4j.cuda.kernel=etap -cp "$CP" io.mla4j.conformance.fuzz.FuzzMain --backend cuda \
  --calls 4000 --seed 19 > "$OUT/fuzz.log" 2>&1; echo "fuzz (etap) rc=$?"; grep "^FUZZ" "$OUT/fuzz.log" | tail -1
mkdir -p "$OUT/choice"
"$JAVA" "${JOPTS[@]}" -cp "$CP" io.mla4j.gpubench.GpuBench --choice --kernels etap,auto --no-baseline --out "$OUT/choice" \
  > "$OUT/choice/bench.log" 2>&1; echo "choice rc=$?"
sed -n '/^ceilings/,$p' "$OUT/choice/bench.log"
cd "$OUT" && tar czf logs.tgz smoke.log gpu-test.out test.log sanitizer.log fuzz.log choice env.txt 2>/dev/null
rm -rf "$OUT/test.log" "$OUT/sanitizer.log"

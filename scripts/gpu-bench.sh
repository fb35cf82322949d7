#!/usr/bin/env bash
# The one device call: GPU tests (scripts/gpu-test.sh) then the GPU bench, results under $OUT.
#   here:   scripts/jlink-runtime.sh        (builds, jlinks a JRE, copies jars + JCuda driver JNI to .carry/)
#   device: run(command="bash scripts/gpu-bench.sh", carry=[".carry"])
# Outputs ($OUT: bench.csv, bench.json, roofline.png, env.txt, the logs): to cite a run, copy them into
# lab/results/bench/gpu/<run>/ and commit them with the docs/PERF.md entry that cites them.
# usage: OUT=$(mktemp -d) bash scripts/gpu-bench.sh [--quick] [--limit N] [--no-tests] [--bench-only-kernels sm90]
#          [--pages 1,16,64] [--dims 512+64,256+32] [--cache fp8] [--build] [--graph-steps] [--no-bench]
# Options: --quick (small grid), --limit N (first N configs), --no-tests, --bench-only-kernels sm90,
# --pages P,Q,... (the page-size grid at those page sizes, 64 included for same-run ratios),
# --dims D,E,... (the width grid: the page grid's rows at 64-token pages for each width pair, 512+64 included),
# --cache fp8 (the cache-format grid: each config with a bf16 and an fp8_e4m3 cache),
# --build (build the fatbin on the device with kernels-cuda/Makefile instead of using the carried one),
# --graph-steps (then GraphSteps: 61-layer steps replayed from one graph with in-place updates, graph-steps.csv),
# --no-bench (skip GpuBench, e.g. with --graph-steps).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
quick=""; tests=1; kernels="sm80,sm90"; build=0; extra=(); graph=0; bench=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick="--quick" ;;
    --no-tests) tests=0 ;;
    --bench-only-kernels) kernels="$2"; shift ;;
    --build) build=1 ;;
    --graph-steps) graph=1 ;;
    --no-bench) bench=0 ;;
    --limit) extra+=(--limit "$2"); shift ;;
    --pages) extra+=(--pages "$2"); shift ;;  # the page-size grid (GpuBench.pageGrid), e.g. 1,16,32,64,128
    --dims) extra+=(--dims "$2"); shift ;;    # the width grid (GpuBench.widthGrid), e.g. 512+64,256+32
    --cache) extra+=(--cache "$2"); shift ;;  # the cache-format grid (GpuBench.cacheGrid): --cache fp8
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ $build = 1 ]; then
  make -C "$here/../kernels-cuda" > /tmp/mla4j-build.log 2>&1 || { tail -30 /tmp/mla4j-build.log; exit 1; }
  mkdir -p "$here/../kernels-cuda/target/device" \
    && cp "$here/../kernels-cuda/target/mla4j_kernels.fatbin" "$here/../kernels-cuda/target/device/"
fi
source "$here/gpu-env.sh"
{ nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv
  echo "cublas: ${MLA4J_CUBLAS:-not found}"; "$JAVA" -version 2>&1 | head -1; } | tee "$OUT/env.txt"
rc=0
if [ $tests = 1 ]; then
  bash "$here/gpu-test.sh" || rc=1
fi
echo "=== diagnostics (bare FFM launch cost, kernels in the fatbin)"
"$JAVA" "${JOPTS[@]}" -cp "$CP" io.mla4j.cuda.CudaDiagnostics --no-ceilings 2>&1 | tee "$OUT/diagnostics.log"
set -o pipefail
if [ $bench = 1 ]; then
  echo "=== bench"
  "$JAVA" "${JOPTS[@]}" -cp "$CP" io.mla4j.gpubench.GpuBench --out "$OUT" --kernels "$kernels" $quick "${extra[@]}" 2>&1 \
    | tee "$OUT/bench.log" || rc=1
  python3 "$here/../bench/gpu/src/main/python/plot_roofline.py" "$OUT" || echo "plot failed"
fi
if [ $graph = 1 ]; then
  echo "=== graph steps (issue 26)"
  "$JAVA" "${JOPTS[@]}" -cp "$CP" io.mla4j.gpubench.GraphSteps --out "$OUT" $quick 2>&1 | tee "$OUT/graph-steps.log" || rc=1
fi
exit $rc

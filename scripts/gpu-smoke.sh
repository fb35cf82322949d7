#!/usr/bin/env bash
# A short device call that needs no decode kernels: checks the carried JRE, JCuda's driver JNI library,
# the driver, cuBLAS 13, the sanitizer, and measures the two ceilings (CudaDiagnostics).
# device: run(command="bash scripts/gpu-smoke.sh", carry=[".carry"])
# usage: OUT=$(mktemp -d) bash scripts/gpu-smoke.sh
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/gpu-env.sh"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv
echo "cublas: ${MLA4J_CUBLAS:-not found}"; ls /usr/local/cuda*/lib64/libcublas* 2>/dev/null | head -3
command -v compute-sanitizer && compute-sanitizer --version | tail -1
extra=()
[ -f "$carry/mla4j_baseline.fatbin" ] && extra+=("-Dmla4j.cuda.baselineFatbin=$carry/mla4j_baseline.fatbin")
"$JAVA" "${JOPTS[@]}" "${extra[@]}" -cp "$CP" io.mla4j.cuda.CudaDiagnostics 2>&1 | tee "$OUT/smoke.log"

#!/usr/bin/env bash
# The project's test command (README; CI runs it, .ci/run): builds everything (Java, native emulators,
# CUDA fatbin when nvcc is there: without it kernels-cuda is skipped with a one-line notice) and runs every
# test that this machine can run; GPU tests skip with a reason without a GPU. Then the consumer check:
# a separate Maven project built against the artifacts just made, through the BOM, run on the class path
# and on the module path (examples/consumer/run.sh; MLA4J_SKIP_CONSUMER=1 skips it). Then the engine example
# as a user runs it (examples/run.sh, a few seconds on the cpu backend; its last layer is checked against the
# fp64 reference and a mismatch fails the run; MLA4J_SKIP_ENGINE=1 skips it).
# Arguments go to `mvn verify` (e.g. -P release for the javadoc jars).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/find-jdk.sh"
cd "$root"
start=$(date +%s)
bash scripts/style-check.sh  # formatting rules of .editorconfig, cited lab/results paths (~5 s)
echo "mla4j tests: JDK $JAVA_HOME, $(nproc) cores, nvcc: ${NVCC:-$(command -v nvcc || echo none)}"
# The Hopper kernels' synchronisation protocols, model-checked on the CPU: every interleaving of a small schedule,
# plus mutations that must be caught (the relay: kernels-cuda/sm90/test/, ~15 s; the transposed kernel:
# kernels-cuda/sm90_etap/test/, its 16-bit and fp8 producers, ~70 s).
if [ "${MLA4J_SKIP_PROTOCOL_MODEL:-0}" = 1 ]; then
  echo "protocol models: skipped (MLA4J_SKIP_PROTOCOL_MODEL=1)"
elif command -v python3 >/dev/null; then
  python3 kernels-cuda/sm90/test/relay_protocol_model.py --selftest
  python3 kernels-cuda/sm90_etap/test/etap_protocol_model.py --selftest
else
  echo "protocol models: skipped (no python3)"
fi
# The native cpu kernel (native/cpu): the library NativeCpuConformanceTest loads, and its CPUID-independent
# unit test (layouts, conversions, both kernels on emulated instructions; real paths where this CPU has them).
if command -v gcc >/dev/null; then
  make -s -C native/cpu test
else
  echo "native cpu kernel: skipped (no gcc); NativeCpuConformanceTest will skip too"
fi
mvn -B -ntp verify "$@"
if [ "${MLA4J_SKIP_CONSUMER:-0}" = 1 ]; then
  echo "consumer check: skipped (MLA4J_SKIP_CONSUMER=1)"
else
  bash "$root/examples/consumer/run.sh"
fi
if [ "${MLA4J_SKIP_ENGINE:-0}" = 1 ]; then
  echo "engine example: skipped (MLA4J_SKIP_ENGINE=1)"
else
  bash "$root/examples/run.sh" --backend cpu --layers 2 --batch 2 --context 200 --steps 3 --warmup off
fi
echo "mla4j tests: passed in $(( $(date +%s) - start )) s"

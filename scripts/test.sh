#!/usr/bin/env bash
# The project's test command (README; CI runs exactly this): builds everything (Java, native emulators,
# CUDA fatbin) and runs every test that this machine can run. GPU tests skip with a reason without a GPU.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/find-jdk.sh"
cd "$root"
echo "mla4j tests: JDK $JAVA_HOME, $(nproc) cores"
# The sm90 relay's synchronisation protocols (shipped, HALFREL=1, HALFREL=2), model-checked on the CPU: every
# interleaving of a small schedule, plus mutations that must be caught (kernels-cuda/sm90/test/; ~15 s).
if command -v python3 >/dev/null; then
  python3 kernels-cuda/sm90/test/relay_protocol_model.py --selftest
else
  echo "relay protocol model: skipped (no python3)"
fi
# The native cpu kernel (native/cpu): the library NativeCpuConformanceTest loads, and its CPUID-independent
# unit test (layouts, conversions, both kernels on emulated instructions; real paths where this CPU has them).
if command -v gcc >/dev/null; then
  make -s -C native/cpu test
else
  echo "native cpu kernel: skipped (no gcc); NativeCpuConformanceTest will skip too"
fi
mvn -B -ntp verify "$@"

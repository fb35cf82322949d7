#!/usr/bin/env bash
# The project's test command (README; CI runs exactly this): builds everything (Java, native emulators,
# CUDA fatbin) and runs every test that this machine can run. GPU tests skip with a reason without a GPU.
# usage: ./scripts/test.sh [extra Maven arguments, e.g. -pl java-bindings/core -am]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/find-jdk.sh"
cd "$root"
bash scripts/style-check.sh  # formatting rules of .editorconfig, cited lab/results paths (~5 s)
echo "mla4j tests: JDK $JAVA_HOME, $(nproc) cores"
# The shipped sm90 relay's synchronisation protocol, model-checked on the CPU: every
# interleaving of a small schedule, plus mutations that must be caught (kernels-cuda/sm90/test/; ~15 s).
if command -v python3 >/dev/null; then
  python3 kernels-cuda/sm90/test/relay_protocol_model.py --selftest
else
  echo "relay protocol model: skipped (no python3)"
fi
mvn -B -ntp verify "$@"

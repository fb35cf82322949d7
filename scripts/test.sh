#!/usr/bin/env bash
# The project's test command (README; CI runs exactly this): builds everything (Java, native emulators,
# CUDA fatbin) and runs every test that this machine can run. GPU tests skip with a reason without a GPU.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/find-jdk.sh"
cd "$root"
echo "mla4j tests: JDK $JAVA_HOME, $(nproc) cores"
mvn -B -ntp verify "$@"

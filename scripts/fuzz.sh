#!/usr/bin/env bash
# The fuzz suite's long, soak and cycle modes (the CI profile runs in mvn verify as FuzzCiTest). docs/RELIABILITY.md.
usage="usage: scripts/fuzz.sh long [CALLS=100000] [CHILDREN=48] [PARALLEL=1] | soak BACKEND SECONDS | cycles BACKEND [N=10000] | run BACKEND [CALLS=20000] [SEED=1]"
#   long    child JVMs round-robin over cpu,reference,ascend (crashes and hangs counted by the parent)
#   soak    one backend serving a mixed stream of steps for SECONDS, sampled against the oracle, RSS/device memory tracked
#   cycles  N plan/allocate/copy/decode/close cycles: memory back at its baseline
#   run     FuzzMain on one backend (what the GPU machine runs for cuda; see RELIABILITY.md for its class path)
# Extra JVM flags: MLA4J_FUZZ_JAVA_OPTS. Seeds: MLA4J_FUZZ_SEED (default 1).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/find-jdk.sh"
cd "$root"
[ $# -ge 1 ] || { echo "$usage" >&2; exit 2; }
mode="$1"; shift
if [ ! -f tests/target/classes/io/mla4j/conformance/fuzz/FuzzMain.class ] || [ ! -f kernels-ascend/target/libmla4j_ascend_kernel.so ]; then
  echo "fuzz: building (native, kernels-ascend, core, ascend, cuda, tests)..." >&2
  mvn -q -B -ntp -DskipTests -pl native,kernels-ascend,java-bindings/core,java-bindings/ascend,kernels-cuda,java-bindings/cuda,tests package >&2
fi
cp="java-bindings/core/target/classes:java-bindings/ascend/target/classes:tests/target/classes"
if [ -d java-bindings/cuda/target/classes ]; then
  cp="$cp:java-bindings/cuda/target/classes:kernels-cuda/target/classes"
  for j in "$HOME"/.m2/repository/org/jcuda/jcuda/*/jcuda-*.jar "$HOME"/.m2/repository/org/jcuda/jcuda-natives/*/jcuda-natives-*-linux-x86_64.jar; do
    [ -f "$j" ] && cp="$cp:$j"
  done
fi
if [ "$mode" = long ]; then
  # the children run for minutes: give them a snapshot of the classes, so a rebuild meanwhile cannot break them
  snap="$(mktemp -d "${TMPDIR:-/tmp}/mla4j-fuzz-classes.XXXXXX")"
  trap 'rm -rf "$snap"' EXIT
  snapcp=""
  IFS=: read -ra parts <<< "$cp"
  for i in "${!parts[@]}"; do
    p="${parts[$i]}"
    if [ -d "$p" ]; then cp -r "$p" "$snap/$i"; snapcp="$snapcp:$snap/$i"; else snapcp="$snapcp:$p"; fi
  done
  cp="${snapcp#:}"
fi
seed="${MLA4J_FUZZ_SEED:-1}"
run() { "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xss4m \
  -Dmla4j.ascend.cores="${MLA4J_ASCEND_CORES:-4}" ${MLA4J_FUZZ_JAVA_OPTS:-} -cp "$cp" io.mla4j.conformance.fuzz.FuzzMain "$@"; }
case "$mode" in
  long)   run --long --calls "${1:-100000}" --children "${2:-48}" --parallel "${3:-1}" --backends cpu,reference,ascend --seed "$seed" ;;
  soak)   [ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }; run --backend "$1" --soak "$2" --seed "$seed" ;;
  cycles) [ $# -ge 1 ] || { echo "$usage" >&2; exit 2; }; run --backend "$1" --cycles "${2:-10000}" --seed "$seed" ;;
  run)    [ $# -ge 1 ] || { echo "$usage" >&2; exit 2; }; run --backend "$1" --calls "${2:-20000}" --seed "${3:-$seed}" ;;
  -h|--help) echo "$usage" ;;
  *) echo "$usage" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Runs the cpu backend's JMH benchmarks and prints the roofline summary (also written to
# bench/target/jmh-summary.md; raw JMH results in bench/target/jmh-*.json).
#
# Default: 1 fork, 3 warmup x 2 s, 5 measurements x 3 s for 4 decodes + 2 ceilings, then the fp64
# reference on slices (1 warmup x 2 s, 2 x 3 s). About 4-5 minutes on 2 cores.
# Options (passed through to io.mla4j.bench.BenchMain): --warmup N --warmup-time S --iterations N --time S
#   --forks N --amla (also time AMLA rescaling) --no-reference --out DIR
#   e.g. a quick look: scripts/jmh.sh --warmup 1 --iterations 2 --time 2 --no-reference
# usage: bash scripts/jmh.sh [--amla] [--warmup N] [--iterations N] [--time S] [--forks N] [--no-reference] [--out DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/find-jdk.sh"
cd "$root"
if grep -q '<module>bench</module>' pom.xml; then
  mvn -B -q -ntp -pl bench -am package -DskipTests
else # bench is not in the reactor yet: install core, then build bench on its own
  mvn -B -q -ntp -pl java-bindings/core install -DskipTests
  mvn -B -q -ntp -f bench/pom.xml package -DskipTests
fi
# the native cpu kernel (native/cpu): the decodes' "native" kernel and the bf16 peak loops need it; without gcc
# they report that they cannot run and the rest goes on
native=()
if make -s -C native/cpu >/dev/null 2>&1; then native=("-Dmla4j.cpu.native.library=$root/native/cpu/build/libmla4j_cpu.so"); fi
exec java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED "${native[@]}" -jar bench/target/benchmarks.jar \
  "$@" 2> >(grep -v 'WARNING: Using incubator modules' >&2)

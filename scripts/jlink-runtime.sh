#!/usr/bin/env bash
# Prepares .carry/ for the GPU machine (which has no Java): a jlink'd runtime of JDK 25 (java.base,
# jdk.incubator.vector, java.logging: ~44 MB), the mla4j jars the GPU runs need, the JCuda jar and ONLY
# JCuda's driver JNI library (loaded through -Djava.library.path; the 24 MB PTX-compiler library and the
# runtime one are left out). Then: run(command="bash scripts/gpu-bench.sh", carry=[".carry"]).
# usage: bash scripts/jlink-runtime.sh [--no-build]   (builds the reactor first unless --no-build)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JDK="${MLA4J_JLINK_JDK:-/usr/lib/jvm/temurin-25-jdk-amd64}"
carry="$root/.carry"
cd "$root"
if [ "${1:-}" != "--no-build" ]; then
  # the reactor, then this script's modules by file (in case the root pom does not list them yet)
  JAVA_HOME="$JDK" mvn -B -q -o install -DskipTests
  for m in kernels-cuda java-bindings/cuda bench/gpu; do
    JAVA_HOME="$JDK" mvn -B -q -o install -DskipTests -f "$m/pom.xml"
  done
fi
rm -rf "$carry/jre" "$carry/lib" "$carry/native"
# a loose kernel image left from a bring-up run would override the jar's (scripts/gpu-env.sh): drop it
rm -f "$carry/mla4j_kernels.fatbin" "$carry/mla4j_kernels.properties"
mkdir -p "$carry/lib" "$carry/native"
"$JDK/bin/jlink" --add-modules java.base,jdk.incubator.vector,java.logging \
  --compress=zip-9 --strip-debug --no-header-files --no-man-pages --output "$carry/jre"
m2="${MAVEN_REPO:-$HOME/.m2/repository}"
jcv=12.6.0
cp "$m2/org/jcuda/jcuda/$jcv/jcuda-$jcv.jar" "$carry/lib/"
unzip -q -o -j "$m2/org/jcuda/jcuda-natives/$jcv/jcuda-natives-$jcv-linux-x86_64.jar" \
  "lib/libJCudaDriver-$jcv-linux-x86_64.so" -d "$carry/native"
for j in java-bindings/core/target/mla4j-core-*.jar tests/target/mla4j-conformance-*.jar \
         java-bindings/cuda/target/mla4j-cuda-*.jar kernels-cuda/target/mla4j-kernels-cuda-*.jar \
         bench/gpu/target/mla4j-gpu-bench-*.jar examples/engine/target/mla4j-example-engine.jar; do
  for f in $j; do
    case "$f" in *-sources.jar|*-tests.jar) continue ;; esac
    [ -f "$f" ] && cp "$f" "$carry/lib/" || echo "jlink-runtime: missing $j (not built?)" >&2
  done
done
du -sh "$carry"/* | sed 's/^/jlink-runtime: /'
echo "jlink-runtime: total $(du -sh "$carry" | cut -f1) (the device call carries at most 64 MiB with the tree)"

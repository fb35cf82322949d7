# Sourced by scripts/gpu-test.sh and scripts/gpu-bench.sh on the GPU machine: the carried runtime
# (.carry/, made here by scripts/jlink-runtime.sh), the class path, JVM flags, where cuBLAS 13 is.
# usage: source scripts/gpu-env.sh
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
carry="$root/.carry"
if [ ! -x "$carry/jre/bin/java" ]; then
  echo "gpu-env: $carry/jre/bin/java missing: run scripts/jlink-runtime.sh here and pass carry=[\".carry\"]" >&2
  exit 2
fi
JAVA="$carry/jre/bin/java"
CP="$(ls "$carry"/lib/*.jar | tr '\n' ':')"
if [ -z "${MLA4J_CUBLAS:-}" ]; then
  for d in /usr/local/cuda/lib64 /usr/local/cuda-13.0/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
    [ -f "$d/libcublas.so.13" ] && MLA4J_CUBLAS="$d/libcublas.so.13" && break
  done
fi
if [ -z "${MLA4J_CUBLAS:-}" ]; then
  MLA4J_CUBLAS="$(find /usr /opt -name 'libcublas.so.13' 2>/dev/null | head -1)"
fi
JOPTS=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xss4m -Xmx16g
       "-Djava.library.path=$carry/native")
[ -n "${MLA4J_CUBLAS:-}" ] && JOPTS+=("-Dmla4j.cublas.path=$MLA4J_CUBLAS")
# a fatbin built on the device (scripts/gpu-bench.sh --build) or carried loose in .carry/ (bring-up of a
# kernel before it is in the jar) overrides the carried jar's
for f in "$root/kernels-cuda/target/device/mla4j_kernels.fatbin" "$carry/mla4j_kernels.fatbin"; do
  [ -f "$f" ] && { JOPTS+=("-Dmla4j.cuda.fatbin=$f"); echo "gpu-env: using kernel image $f" >&2; break; }
done
OUT="${OUT:-$root/target/gpu-out}"
mkdir -p "$OUT"
export JAVA CP OUT MLA4J_CUBLAS

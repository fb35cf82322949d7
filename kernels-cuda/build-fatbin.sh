#!/usr/bin/env bash
# Maven's entry to the CUDA kernel build (kernels-cuda/pom.xml, process-resources): with nvcc, runs
# scripts/gpu-build-kernels.sh (the Makefile + the baseline fatbin) into DEST; without nvcc, prints one
# line and builds nothing, so the rest of the reactor still builds and tests: the cuda jar then carries no
# kernel image and the cuda backend reports "no kernel image in this build".
# Without nvcc, MLA4J_PREBUILT_FATBINS=DIR (a folder with mla4j_kernels.fatbin [+ mla4j_baseline.fatbin,
# mla4j_kernels.properties], e.g. unpacked from the published io.mla4j:mla4j-kernels-cuda jar) is packaged instead.
# usage: build-fatbin.sh DEST
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="${1:?usage: build-fatbin.sh DEST}"
# the same lookup as gpu-build-kernels.sh: $NVCC, the PATH, /usr/local/cuda/bin
nvcc="${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
if [ -x "$nvcc" ]; then
  exec bash "$here/../scripts/gpu-build-kernels.sh" "$dest"
fi
# A stale image from an earlier build must not ride along: the jar says exactly what this build made.
rm -f "$dest/mla4j_kernels.fatbin" "$dest/mla4j_baseline.fatbin" "$dest/mla4j_kernels.properties"
if [ -n "${MLA4J_PREBUILT_FATBINS:-}" ]; then
  [ -f "$MLA4J_PREBUILT_FATBINS/mla4j_kernels.fatbin" ] || { echo "kernels-cuda: MLA4J_PREBUILT_FATBINS=$MLA4J_PREBUILT_FATBINS has no mla4j_kernels.fatbin" >&2; exit 1; }
  mkdir -p "$dest"
  cp "$MLA4J_PREBUILT_FATBINS"/mla4j_*.fatbin "$dest/"
  [ -f "$MLA4J_PREBUILT_FATBINS/mla4j_kernels.properties" ] && cp "$MLA4J_PREBUILT_FATBINS/mla4j_kernels.properties" "$dest/"
  echo "kernels-cuda: nvcc not found ($nvcc); packaged the prebuilt kernel images from $MLA4J_PREBUILT_FATBINS"
  exit 0
fi
echo "kernels-cuda: SKIPPED, nvcc not found ($nvcc): this build has no CUDA kernel image (cuda backend unavailable); set NVCC, or MLA4J_PREBUILT_FATBINS=DIR, or use the published io.mla4j:mla4j-kernels-cuda"

#!/usr/bin/env bash
# Builds the CUDA kernel images and copies them into DEST (the kernels-cuda jar's class-path folder
# io/mla4j/cuda): kernels-cuda/Makefile makes target/mla4j_kernels.fatbin; this script itself makes
# target/mla4j_baseline.fatbin from kernels-cuda/common/baseline_softmax.cu (the cuBLAS baseline's
# gather/softmax kernels and the bench's device-side random fill).
# Without nvcc it reuses fatbins already under kernels-cuda/target/ (e.g. built elsewhere and copied in),
# and fails with a clear message when there are none.
# Run by Maven (kernels-cuda/pom.xml) with DEST = the jar's class-path folder.
# usage: bash scripts/gpu-build-kernels.sh DEST
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kc="$root/kernels-cuda"
dest="${1:?usage: gpu-build-kernels.sh DEST}"
NVCC="${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
mkdir -p "$kc/target" "$dest"
if [ -x "$NVCC" ]; then
  if [ -f "$kc/Makefile" ]; then
    make -C "$kc" NVCC="$NVCC"
  else
    echo "gpu-build-kernels: no kernels-cuda/Makefile yet; only the baseline fatbin is built" >&2
  fi
  base="$kc/target/mla4j_baseline.fatbin"
  if [ ! -f "$base" ] || [ "$kc/common/baseline_softmax.cu" -nt "$base" ] || [ "$kc/include/mla4j/params.h" -nt "$base" ] \
     || [ "$kc/common/baseline_args.h" -nt "$base" ]; then
    "$NVCC" -fatbin -O3 -std=c++17 -I"$kc/include" \
      -gencode=arch=compute_80,code=sm_80 -gencode=arch=compute_90,code=sm_90 -gencode=arch=compute_90,code=compute_90 \
      -o "$base" "$kc/common/baseline_softmax.cu"
  fi
else
  echo "gpu-build-kernels: nvcc not found (looked at \$NVCC, the PATH, /usr/local/cuda/bin);" \
    "using prebuilt fatbins in kernels-cuda/target" >&2
fi
if [ ! -f "$kc/target/mla4j_kernels.fatbin" ]; then
  echo "gpu-build-kernels: ERROR: kernels-cuda/target/mla4j_kernels.fatbin does not exist and could not be built." >&2
  echo "  Install the CUDA toolkit (nvcc 12.8+/13.x) and rebuild, or copy a prebuilt mla4j_kernels.fatbin there." >&2
  exit 1
fi
cp "$kc/target/mla4j_kernels.fatbin" "$dest/"
# launch constants travel with the image they belong to (io.mla4j.cuda.DecodeKernels reads them)
bash "$root/scripts/gpu-launch-props.sh" > "$dest/mla4j_kernels.properties"
[ -f "$kc/target/mla4j_baseline.fatbin" ] && cp "$kc/target/mla4j_baseline.fatbin" "$dest/"
echo "gpu-build-kernels: $(ls "$dest" | tr '\n' ' ')in $dest"

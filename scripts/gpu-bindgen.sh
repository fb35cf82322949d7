#!/usr/bin/env bash
# Regenerates the cuBLAS FFM bindings (io.mla4j.cuda.cublas.cublas_h) from the committed header subset
# native/include/cublas_subset.h, with the project's jextract-style generator (native/bindgen).
# usage: bash scripts/gpu-bindgen.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python3 "$root/native/bindgen/acl_bindgen.py" --header "$root/native/include/cublas_subset.h" \
  --class cublas_h --package io.mla4j.cuda.cublas --lookup "CublasLibrary.lookup()" \
  --out "$root/java-bindings/cuda/src/main/java"

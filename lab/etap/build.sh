#!/usr/bin/env bash
# Builds lab/etap/bin/etap_check_main: the ETAP-style kernel (one symbol per configuration, mla4j_decode_sm90_etap_r16
# / _r32 / _r48 / _r64), the shipped mla4j_decode_sm90 and the shared combine in one binary; with ETAP_NOSPLIT=1 also
# bin/etap_check_nosplit (P^T not split at rows <= 32). Prints ptxas -v per kernel. Fails fast.
set -euo pipefail
cd "$(dirname "$0")"
NVCC=${NVCC:-nvcc}
mkdir -p bin obj
FLAGS="-gencode=arch=compute_90a,code=sm_90a -O3 -std=c++17 -lineinfo -I../../kernels-cuda/include"
K=../../kernels-cuda
[ -f obj/decode_sm90.o ] || $NVCC $FLAGS -Xptxas -v -c -o obj/decode_sm90.o $K/sm90/decode_sm90.cu > obj/ptxas_sm90.txt 2>&1 &
[ -f obj/combine.o ] || $NVCC $FLAGS -c -o obj/combine.o $K/common/combine.cu &
$NVCC $FLAGS -c -o obj/etap_check.o etap_check.cu &
cfg() { case $1 in r16) echo 1;; r32) echo 6;; r48) echo 3;; r64) echo 4;; esac; }
for r in r16 r32 r48 r64; do
  ( $NVCC $FLAGS -DETAP_ONLY=$(cfg $r) -DETAP_KERNEL_NAME=mla4j_decode_sm90_etap_$r -Xptxas -v -c -o obj/etap_$r.o decode_sm90_etap.cu > obj/ptxas_etap_$r.txt 2>&1 || { cat obj/ptxas_etap_$r.txt; exit 1; } ) &
done
if [ "${ETAP_NOSPLIT:-0}" = 1 ]; then for r in r16 r32; do
  ( $NVCC $FLAGS -DETAP_PSPLIT_MAX_N=0 -DETAP_ONLY=$(cfg $r) -DETAP_KERNEL_NAME=mla4j_decode_sm90_etap_$r -c -o obj/etap_nosplit_$r.o decode_sm90_etap.cu ) &
done; fi
fail=0
for j in $(jobs -p); do wait $j || fail=1; done
[ $fail = 0 ] || { echo "BUILD FAILED"; exit 1; }
L="$NVCC -gencode=arch=compute_90a,code=sm_90a"
$L -o bin/etap_check_main obj/etap_check.o obj/etap_r16.o obj/etap_r32.o obj/etap_r48.o obj/etap_r64.o obj/decode_sm90.o obj/combine.o
[ "${ETAP_NOSPLIT:-0}" = 1 ] && $L -o bin/etap_check_nosplit obj/etap_check.o obj/etap_nosplit_r16.o obj/etap_nosplit_r32.o obj/etap_r48.o obj/etap_r64.o obj/decode_sm90.o obj/combine.o
cuobjdump_in() { :; }
for r in r16 r32 r48 r64; do echo "== $r: $(grep -A1 'Function properties' obj/ptxas_etap_$r.txt | tail -1)"; done
echo "== shipped: $(grep -A1 'Function properties for mla4j_decode_sm90$' obj/ptxas_sm90.txt | tail -1)"
ls -la bin

#!/usr/bin/env bash
# Native check + benchmark of the portable decode path (mla4j_schedule -> mla4j_decode_sm80 -> mla4j_combine),
# built with nvcc on the GPU machine from kernels-cuda/test/native_check.cu. Logs go to $OUT (or ./target/native).
#   bash scripts/cuda-native-check.sh       build, ptxas report, correctness matrix, sanitizers, timings (on a GPU)
#   SKIP_BENCH=1 SKIP_SANITIZE=1 bash scripts/cuda-native-check.sh   (either one leaves that step out)
set -uo pipefail
cd "$(dirname "$0")/../kernels-cuda"
OUT=${OUT:-$PWD/target/native}
mkdir -p "$OUT"
BIN=$(mktemp -d)
NVCC=${NVCC:-nvcc}
ARCH=${ARCH:-$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)}
[ "$ARCH" = 90 ] && ARCH=90a  # the fatbin's Hopper image is sm_90a
FLAGS="-O3 -std=c++17 -Iinclude -I. -lineinfo -Xcompiler -fopenmp -gencode=arch=compute_$ARCH,code=sm_$ARCH"
rc=0
step() { echo "== $*"; }

step "build (sm_$ARCH)"
$NVCC $FLAGS -Xptxas -v -o "$BIN/native_check" test/native_check.cu 2> "$OUT/ptxas.txt" || { cat "$OUT/ptxas.txt"; exit 1; }
grep -A2 "mla4j_decode_sm80" "$OUT/ptxas.txt" | grep -E "Compiling|spill|registers"
if grep -A1 "Compiling entry function 'mla4j_decode_sm80'" "$OUT/ptxas.txt" | grep -q " [1-9][0-9]* bytes spill"; then
    echo "FAIL: mla4j_decode_sm80 spills"; rc=1
fi
# the image is the device's own (sm_$ARCH): its stage size is mla4j_sm80::stage_tokens of it (64 from Hopper on), as
# in the shipped fatbin; the binary prints it

step "correctness (deepest pipeline the device allows)"
timeout 300 "$BIN/native_check" check 2>&1 | tee "$OUT/check.txt" || rc=1
step "correctness (2 stages: the launch io.mla4j.cuda uses, see README)"
MLA4J_SM80_STAGES=2 timeout 300 "$BIN/native_check" check > "$OUT/check-variants.txt" 2>&1 || rc=1
tail -1 "$OUT/check-variants.txt"
grep FAIL "$OUT/check-variants.txt"

if [ -z "${SKIP_SANITIZE:-}" ]; then
    for tool in memcheck racecheck; do
        step "compute-sanitizer $tool (small shape)"
        timeout 240 compute-sanitizer --tool $tool --error-exitcode 9 "$BIN/native_check" small 2>&1 | tee "$OUT/sanitize-$tool.txt" | tail -4 || rc=1
    done
fi

if [ -z "${SKIP_BENCH:-}" ]; then
    step "timings (deepest pipeline the device allows)"
    timeout 240 "$BIN/native_check" bench 2>&1 | tee "$OUT/bench.txt" || rc=1
    step "timings (2 stages: the launch io.mla4j.cuda uses)"
    MLA4J_SM80_STAGES=2 timeout 240 "$BIN/native_check" bench 2>&1 | tee "$OUT/bench-2stages.txt" || rc=1
fi
rm -rf "$BIN"
echo "== done rc=$rc"
exit $rc

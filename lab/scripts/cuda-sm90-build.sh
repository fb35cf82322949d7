#!/usr/bin/env bash
# Builds the lab's sm90 decode kernel (lab/kernels-cuda/sm90/decode_sm90.cu, all experiment switches) + its
# standalone harness (and test-only variants: V descriptor LBO/SBO swapped for layout diagnosis, the older
# schedules, the timeline probe; SM90_VARIANTS="X=1 ..." adds -DMLA4J_SM90_X=1 builds; "X=1,Y=2" combines
# knobs) into .carry/sm90, plus sm90_check_shipped: the same harness on the shipped kernel. Runs where nvcc 13 is.
#   bash lab/scripts/cuda-sm90-build.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
NVCC=${NVCC:-nvcc}
OUTDIR=${OUTDIR:-.carry/sm90}
mkdir -p "$OUTDIR"
# -Ikernels-cuda/sm90: the lab kernel uses the shipped PTX and wgmma wrappers (its own sm90_launch.h, next to it, wins)
FLAGS="-gencode=arch=compute_90a,code=sm_90a -O3 -std=c++17 -lineinfo -Ikernels-cuda/include -Ikernels-cuda/sm90"
LAB=lab/kernels-cuda/sm90
SRC="$LAB/decode_sm90.cu $LAB/test/sm90_check.cu"
# Link the project's combine kernel when it exists (the harness then uses it; SM90_TEST_COMBINE=1 does not).
if [ -f kernels-cuda/common/combine.cu ]; then
  SRC="$SRC kernels-cuda/common/combine.cu"; FLAGS="$FLAGS -DMLA4J_HAVE_SHARED_COMBINE"
fi
$NVCC $FLAGS -Xptxas -v -o "$OUTDIR/sm90_check" $SRC 2>&1 | tee "$OUTDIR/ptxas.txt" | grep -A2 "mla4j_decode_sm90" || true
$NVCC $FLAGS -DMLA4J_SM90_VDESC_SWAP=1 -o "$OUTDIR/sm90_check_vswap" $SRC
# the r5 kernel's schedules, for A/B: key-split (rows <= 64) + seesaw (rows > 64), and key-split only
$NVCC $FLAGS -DMLA4J_SM90_RELAY=0 -o "$OUTDIR/sm90_check_keysplit_seesaw" $SRC
$NVCC $FLAGS -DMLA4J_SM90_RELAY=0 -DMLA4J_SM90_SEESAW=0 -o "$OUTDIR/sm90_check_keysplit" $SRC
$NVCC $FLAGS -DMLA4J_SM90_PROBE=1 -o "$OUTDIR/sm90_check_probe" $SRC  # timeline probe (probe mode)
if [ -n "${SM90_VARIANTS:-}" ]; then  # A/B builds, e.g. SM90_VARIANTS="QFIRST=1 RELAY=0,SEESAW=2" (SM90_NO_PROBE=1: no probe builds)
  for v in $SM90_VARIANTS; do
    defs=$(echo "$v" | tr ',' '\n' | sed 's/^/-DMLA4J_SM90_/' | tr '\n' ' ')
    name=$(echo "$v" | tr -d '=' | tr ',' '_')  # RELAY=0,SEESAW=2 -> RELAY0_SEESAW2
    $NVCC $FLAGS $defs -o "$OUTDIR/sm90_check_$name" $SRC
    [ -n "${SM90_NO_PROBE:-}" ] || $NVCC $FLAGS $defs -DMLA4J_SM90_PROBE=1 -o "$OUTDIR/sm90_check_probe_$name" $SRC
  done
fi
$NVCC $FLAGS -cubin -o "$OUTDIR/decode_sm90.cubin" $LAB/decode_sm90.cu
# the harness on the shipped kernel (the A/B base the lab's defaults must match: lab/scripts/sm90-text-identity.sh)
$NVCC ${FLAGS/-Ikernels-cuda\/sm90/-Ikernels-cuda} -o "$OUTDIR/sm90_check_shipped" kernels-cuda/sm90/decode_sm90.cu ${SRC#* }

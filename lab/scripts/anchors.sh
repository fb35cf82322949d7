#!/usr/bin/env bash
# Same-run anchors on the GPU machine: FlashMLA HEAD and FlashMLA-ETAP, built from source and timed on the GPU
# bench's grid (b = 128 varlen; small batch graph-replayed) with the copy and GEMM ceilings of the same run.
# Needs .anchors/ in the carry, prepared here (never committed):
#   .anchors/{build_head.sh,build_old.sh,bench.py}  the shared anchor scripts (../shared/anchors/)
#   .anchors/fm/    FlashMLA HEAD's csrc subset + CUTLASS include/ as cut_inc.tgz (../shared/anchors/README.md)
#   .anchors/etap/  FlashMLA-ETAP's csrc/ + CUTLASS include/ at FlashMLA b31bfe7's submodule commit
# usage: OUT=... bash lab/scripts/anchors.sh build   (both builds in parallel; run during non-timing work)
#        OUT=... bash lab/scripts/anchors.sh time    (waits for nothing: run after build finished)
set -uo pipefail
a="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.anchors"
OUT="${OUT:?set OUT}"
case "${1:-}" in
  build)
    ( bash "$a/build_head.sh" "$a" > "$OUT/anchor-build-fm.log" 2>&1; echo "rc=$?" >> "$OUT/anchor-build-fm.log" ) &
    ( bash "$a/build_old.sh" "$a/etap" flash_mla_etap > "$OUT/anchor-build-etap.log" 2>&1
      echo "rc=$?" >> "$OUT/anchor-build-etap.log" ) &
    wait ;;
  time)
    so_fm="$(ls "$a"/fm/build/flash_mla_dense*.so 2>/dev/null | head -1)"
    so_etap="$(ls "$a"/etap/build/flash_mla_etap*.so 2>/dev/null | head -1)"
    [ -n "$so_fm" ] && python3 "$a/bench.py" "$so_fm" flash_mla_dense head "$OUT/anchor-flashmla-head.json" \
      > "$OUT/anchor-time-fm.log" 2>&1
    [ -n "$so_etap" ] && python3 "$a/bench.py" "$so_etap" flash_mla_etap old-vcache "$OUT/anchor-etap.json" \
      > "$OUT/anchor-time-etap.log" 2>&1
    ls "$OUT"/anchor-*.json ;;
  *) echo "usage: anchors.sh build|time" >&2; exit 2 ;;
esac

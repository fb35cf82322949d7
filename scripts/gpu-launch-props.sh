#!/usr/bin/env bash
# Prints the kernels' launch constants (kernels-cuda/sm90/sm90_launch.h,
# kernels-cuda/sm90_etap/etap_launch.h, include/mla4j/schedule.h for the
# combine and the scheduler, the sm80 kernel's constants) as Java properties,
# packaged next to the fatbin as io/mla4j/cuda/mla4j_kernels.properties so Java always launches an image
# with the numbers of the same source snapshot. Run by scripts/gpu-build-kernels.sh.
# usage: bash scripts/gpu-launch-props.sh > mla4j_kernels.properties
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
h="$root/kernels-cuda/sm90/sm90_launch.h"
get() { sed -n "s/^#define $1 \([0-9][0-9]*\).*/\1/p" "$2"; }
if [ -f "$h" ]; then
  echo "sm90.threads=$(get MLA4J_SM90_THREADS "$h")"
  echo "sm90.smem=$(get MLA4J_SM90_SMEM_BYTES "$h")"
fi
e="$root/kernels-cuda/sm90_etap/etap_launch.h"
if [ -f "$e" ]; then
  echo "etap.threads=$(get MLA4J_ETAP_THREADS "$e")"
  echo "etap.smem=$(get MLA4J_ETAP_SMEM_BYTES "$e")"
  echo "etap.maxRows=$(get MLA4J_ETAP_MAX_ROWS "$e")"
  echo "etap.minPageShift=$(get MLA4J_ETAP_MIN_PAGE_SHIFT "$e")"
fi
s="$root/kernels-cuda/include/mla4j/schedule.h"
echo "combine.threads=$(get MLA4J_COMBINE_THREADS "$s")"
echo "combine.columns=$(get MLA4J_COMBINE_COLUMNS "$s")"
echo "schedule.threads=$(get MLA4J_SCHEDULE_THREADS "$s")"
echo "step.threads=$(get MLA4J_STEP_THREADS "$s")"
# the portable kernel's numbers are C++ constants (MLA4J_SM80_SMEM = mla4j_sm80::kSmemBytes): ask the compiler,
# building exactly the source all_kernels.cu includes
NVCC="${NVCC:-$(command -v nvcc || true)}"
src="$root/kernels-cuda/sm80/decode_sm80.cu"
if [ -n "$NVCC" ] && [ -f "$src" ]; then
  tmp="$(mktemp -d)"
  # two K stages of each image's stage size (mla4j_sm80::stage_tokens): the sm_80/PTX image, and sm_90a
  cat > "$tmp/p.cu" <<'CU'
#include <cstdio>
#include "sm80/decode_sm80.cu"
// the other width pairs' entries (MLA4J_SM80_OTHER_WIDTHS) and their shared memory, keyed <d_c>x<d_r>
#define W_LIST(DC, DR) printf("%s%dx%d", first ? "" : ",", DC, DR), first = false;
#define W_SMEM(DC, DR) printf("sm80.smem.%dx%d=%d\nsm80.smem.sm90a.%dx%d=%d\n", DC, DR,                        \
    smem_bytes<Dims<DC, DR>>(stage_tokens(800), 2), DC, DR,                                  \
    smem_bytes<Dims<DC, DR>>(stage_tokens(900), 2));
int main() {
    using namespace mla4j_sm80;
    printf("sm80.smem=%d\nsm80.smem.sm90a=%d\nsm80.threads=%d\n", (int)MLA4J_SM80_SMEM_BYTES(stage_tokens(800), 2),
           (int)MLA4J_SM80_SMEM_BYTES(stage_tokens(900), 2), kThreads);
    bool first = true;
    printf("sm80.widths=");
    MLA4J_SM80_OTHER_WIDTHS(W_LIST)
    printf("\n");
    MLA4J_SM80_OTHER_WIDTHS(W_SMEM)
    return 0;
}
CU
  if "$NVCC" -std=c++17 -arch=sm_80 -I"$root/kernels-cuda/include" -I"$root/kernels-cuda" -o "$tmp/p" "$tmp/p.cu" \
      >/dev/null 2>&1; then
    "$tmp/p"
  else
    echo "gpu-launch-props: could not compile the sm80 constants; Java uses its defaults" >&2
  fi
  rm -rf "$tmp"
fi
exit 0

#!/usr/bin/env bash
# Machine code of the shipped kernels, for refactors that must not change it: prints the md5 of every kernel's
# .text in the product build's cubins (make -C kernels-cuda cubins: all_kernels.cu, the fatbin's flags), checks
# that the shipped fatbin's images hold exactly those sections, and that the lab's sm90 kernel with every switch at
# its default compiles to the shipped mla4j_decode_sm90 .text byte for byte. With a file (an earlier output of this
# script) it also fails on any difference from it.
#   bash lab/scripts/sm90-text-identity.sh [expected.txt]
#   bash lab/scripts/sm90-text-identity.sh lab/kernels-cuda/sm90/text-md5-before-split.txt
# Needs nvcc and python3 only (no GPU, no cuobjdump).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
NVCC=${NVCC:-nvcc}
make -s -C kernels-cuda NVCC="$NVCC" all cubins >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$NVCC" -cubin -O3 -std=c++17 -lineinfo -Ikernels-cuda/include -Ikernels-cuda/sm90 -gencode=arch=compute_90a,code=sm_90a \
  -o "$tmp/lab.cubin" lab/kernels-cuda/sm90/decode_sm90.cu

# "<label> <kernel> <bytes> <md5>" for each .text.<kernel> section of a cubin, or of every CUDA ELF image
# (uncompressed, as nvcc 13 writes them) inside a fatbin
texts() {
  python3 - "$1" "$2" <<'PY'
import hashlib, re, struct, sys
data = open(sys.argv[1], 'rb').read()
for start in (m.start() for m in re.finditer(b'\x7fELF', data)):
    b = data[start:]
    if b[4] != 2 or struct.unpack_from('<H', b, 18)[0] != 190:  # ELF64, EM_CUDA
        continue
    shoff, = struct.unpack_from('<Q', b, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from('<HHH', b, 0x3a)
    sh = [struct.unpack_from('<IIQQQQ', b, shoff + i * shentsize) for i in range(shnum)]
    strtab = sh[shstrndx][4]
    for name, _, _, _, off, size in sh:
        n = b[strtab + name:b.index(b'\0', strtab + name)].decode()
        if n.startswith('.text.'):
            print(sys.argv[2], n[6:], size, hashlib.md5(b[off:off + size]).hexdigest())
PY
}
{ texts kernels-cuda/target/cubin/mla4j_kernels.sm_90a.cubin sm_90a; texts kernels-cuda/target/cubin/mla4j_kernels.sm_80.cubin sm_80; } \
  | sort > "$tmp/shipped.txt"
cat "$tmp/shipped.txt"
rc=0
if diff <(cut -d' ' -f2- "$tmp/shipped.txt" | sort) <(texts kernels-cuda/target/mla4j_kernels.fatbin - | cut -d' ' -f2- | sort) >&2; then
  echo "sm90-text-identity: target/mla4j_kernels.fatbin holds the same .text sections as the cubins"
else
  echo "sm90-text-identity: FAIL: the fatbin's images differ from the cubins (diff above)"; rc=1
fi
shipped=$(awk '$1 == "sm_90a" && $2 == "mla4j_decode_sm90" {print $4}' "$tmp/shipped.txt")
lab=$(texts "$tmp/lab.cubin" sm_90a | awk '$2 == "mla4j_decode_sm90" {print $4}')
if [ -n "$shipped" ] && [ "$lab" = "$shipped" ]; then
  echo "sm90-text-identity: lab kernel at its defaults = shipped mla4j_decode_sm90 ($lab)"
else
  echo "sm90-text-identity: FAIL: lab kernel at its defaults $lab, shipped ${shipped:-missing}"; rc=1
fi
if [ $# -ge 1 ]; then
  if diff <(grep -v '^#' "$1" | sort) "$tmp/shipped.txt"; then
    echo "sm90-text-identity: every kernel's .text as in $1"
  else
    echo "sm90-text-identity: FAIL: .text differs from $1 (diff above: < expected, > now)"; rc=1
  fi
fi
exit $rc

#!/usr/bin/env bash
# Disassembles a CUDA 13 sm_90a cubin to SASS on a machine without a GPU or cuobjdump (this one), so kernel variants
# can be checked for HGMMA chains, waits and fences before any device time is spent.
#
#   lab/scripts/sass-local.sh kernel.cubin [out.sass]       (stdout when out.sass is omitted)
#
# How (2026-11-23): the CUDA 13 toolkit here ships no nvdisasm/cuobjdump. Debian bookworm's non-free
# nvidia-cuda-toolkit (CUDA 11.8, whose SASS tables know sm_90) has both; this script downloads that one package
# into a cache folder (apt-get with its own sources list and state dirs: the system's apt config is not touched)
# and keeps only nvdisasm. CUDA 12.8+ cubins use a newer ELF header (OS/ABI 0x41, ABI version 8, e_flags
# 0x6005a04 for sm_90a) that 11.8 refuses ("does not contain Cuda architecture information"); a copy with the
# 11.8 header for sm_90 (OS/ABI 0x21, ABI version 7, e_flags 0x5a055a) disassembles. Checked against the device's
# cuobjdump: lab/results/kernels-cuda/sm90/r15-sass-shipped-qk-loop.txt is the same instructions at the same addresses
# (only label and spacing differ). Instructions newer than 11.8 could print wrongly; HGMMA, SYNCS, WARPGROUP and
# BAR print as cuobjdump 13 prints them.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 kernel.cubin [out.sass]" >&2; exit 2; }
CUBIN=$1
OUT=${2:-/dev/stdout}
CACHE=${MLA4J_TOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mla4j}/nvdisasm-11.8
NVDISASM=${NVDISASM:-$CACHE/nvdisasm}

if [ ! -x "$NVDISASM" ]; then
  command -v apt-get >/dev/null || { echo "sass-local: needs apt-get (Debian) to fetch nvdisasm, or NVDISASM=/path/to/nvdisasm" >&2; exit 1; }
  echo "sass-local: fetching nvdisasm from Debian's nvidia-cuda-toolkit 11.8 (84 MB, once) into $CACHE" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/dl" "$CACHE"
  echo 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm non-free' > "$tmp/sources.list"
  O=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o Dir::Etc::SourceParts=/nonexistent -o "Dir::State::Lists=$tmp/lists"
     -o "Dir::Cache=$tmp/cache" -o APT::Sandbox::User="$(id -un)")
  apt-get "${O[@]}" -qq update >&2
  (cd "$tmp/dl" && apt-get "${O[@]}" -qq download nvidia-cuda-toolkit >&2)
  dpkg-deb --fsys-tarfile "$tmp"/dl/nvidia-cuda-toolkit_*.deb | tar -x -C "$tmp" ./usr/bin/nvdisasm
  mv "$tmp/usr/bin/nvdisasm" "$NVDISASM"
fi

patched=$(mktemp --suffix=.cubin)
python3 - "$CUBIN" "$patched" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
if b[:4] != b'\x7fELF' or b[4] != 2:
    sys.exit('sass-local: not a 64-bit ELF cubin: ' + sys.argv[1])
flags = struct.unpack_from('<I', b, 48)[0]
if b[7] == 0x41 and (flags >> 8) & 0xff != 0x5a:  # new header: the SM is in bits 8..15
    sys.exit('sass-local: only sm_90/sm_90a cubins are handled (e_flags 0x%x)' % flags)
b[7], b[8] = 0x21, 7                      # OS/ABI and ABI version of CUDA 11.8 cubins
struct.pack_into('<I', b, 48, 0x5a055a)  # sm_90, virtual sm_90, 64-bit addresses
open(sys.argv[2], 'wb').write(b)
PY
"$NVDISASM" -c "$patched" > "$OUT"
rm -f "$patched"

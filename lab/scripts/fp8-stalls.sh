#!/usr/bin/env bash
# Device-side: where the fp8 sm90 kernel's warps stall (ncu warp-state sampling per SASS line, scheduler and
# memory sections), on the cache grid's first fp8 config (b = 128, s_k 8192, h_q 16). Carried runtime: .carry.
#   run(command="bash lab/scripts/fp8-stalls.sh", carry=[".carry"])
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/fp8-out}; mkdir -p "$OUT"
source scripts/gpu-env.sh
timeout 400 ncu --clock-control none -k regex:mla4j_decode_sm90_fp8 --launch-skip 3 --launch-count 1 \
  --section SpeedOfLight --section WarpStateStats --section SourceCounters --section SchedulerStats \
  --section MemoryWorkloadAnalysis --import-source yes -o /tmp/rep_fp8 -f \
  "$JAVA" "${JOPTS[@]}" -cp "$CP" io.mla4j.gpubench.GpuBench --out /tmp/fp8-bench --kernels sm90 --cache fp8 --limit 2 \
  > "$OUT/ncu.log" 2>&1 || tail -20 "$OUT/ncu.log"
ncu -i /tmp/rep_fp8.ncu-rep --page details --print-details all > "$OUT/details.txt" 2>&1
ncu -i /tmp/rep_fp8.ncu-rep --page source --csv --print-source sass > /tmp/src_fp8.csv 2>/dev/null
python3 - /tmp/src_fp8.csv > "$OUT/stalls.txt" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
hdr = next((i for i, r in enumerate(rows) if any('Sampling' in c for c in r)), None)
if hdr is None: print("no sampling columns"); sys.exit()
h = rows[hdr]
ci = [j for j, c in enumerate(h) if 'Warp Stall Sampling (All' in c] or [j for j, c in enumerate(h) if 'Sampling' in c]
si = [j for j, c in enumerate(h) if c.strip().lower() in ('source', 'sass')]
c = ci[0]; s = si[0] if si else 1
data = []
for r in rows[hdr + 1:]:
    try: data.append((float(r[c].replace(',', '') or 0), r[s], r[0]))
    except Exception: pass
tot = sum(d[0] for d in data) or 1
print("total samples", tot, "column", h[c])
for v, src, addr in sorted(data, reverse=True)[:40]:
    print(f"{100*v/tot:5.1f}%  {addr}  {src[:120]}")
PY
grep -E "Duration|Throughput|Stall|Warp Cycles|Issued|Eligible|No Eligible|Bank|L2 Hit|DRAM" "$OUT/details.txt" | head -60
head -45 "$OUT/stalls.txt"

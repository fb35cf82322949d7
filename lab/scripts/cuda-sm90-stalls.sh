#!/usr/bin/env bash
# Device-side: where the sm90 kernel's warps stall, per SASS instruction (ncu source page, warp-state
# sampling), for one tensor-bound and one memory-bound config. Uses .carry/sm90. Logs to $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/sm90-out}; mkdir -p "$OUT"
B=.carry/sm90
export SM90_F=1
for cfg in "128 4096 128 2" "128 4096 16 1"; do
  tag=$(echo $cfg | tr ' ' '_')
  timeout 240 ncu --clock-control none -k mla4j_decode_sm90 --launch-skip 2 --launch-count 1 \
    --section WarpStateStats --section SourceCounters --section SchedulerStats --import-source yes \
    -o /tmp/rep_$tag -f $B/sm90_check one $cfg > /tmp/ncu_$tag.log 2>&1 || tail -5 /tmp/ncu_$tag.log

  ncu -i /tmp/rep_$tag.ncu-rep --page details --print-details all 2>/dev/null | grep -E "Stall|Warp Cycles|Issued|Eligible|Active Warps|No Eligible" | head -40 > $OUT/stalls_$tag.txt
  ncu -i /tmp/rep_$tag.ncu-rep --page source --csv --print-source sass > /tmp/src_$tag.csv 2>/dev/null
  python3 - /tmp/src_$tag.csv >> $OUT/stalls_$tag.txt <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
hdr = None
for i, r in enumerate(rows):
    if any('Sampling' in c for c in r): hdr = i; break
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
for v, src, addr in sorted(data, reverse=True)[:30]:
    print(f"{100*v/tot:5.1f}%  {addr}  {src[:110]}")
PY
  echo "=== $cfg"; cat $OUT/stalls_$tag.txt
done

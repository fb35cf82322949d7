#!/usr/bin/env python3
"""Summarises the wgmma chains of a SASS listing (lab/scripts/sass-local.sh or cuobjdump -sass).

Each output line is a run of consecutive HGMMAs of one shape with nothing between them that syncs: the shape, how
many, whether the run's last HGMMA carries the gsb0 scoreboard, and the sync instructions met just before the run
(W = mbarrier try-wait, s = WARPSYNC, A = WARPGROUP.ARRIVE, D = WARPGROUP.DEPBAR, B = BAR.SYNC/BAR.ARV).
Why: a WARPGROUP.ARRIVE between two HGMMAs of one chain follows an HGMMA with gsb0, and the r15 timings read that as a
tensor-pipe drain (docs/KERNEL-SM90.md, "Why S runs below the m64n64 rate"), so the number of runs per chain is
what an A/B of the Q K^T wait modes changes.

    lab/scripts/sass-wgmma-chains.py kernel.sass [--totals]
"""
import re
import sys

EVENTS = (("TRYWAIT", "W"), ("WARPSYNC", "s"), ("WARPGROUP.ARRIVE", "A"), ("WARPGROUP.DEPBAR", "D"),
          ("BAR.SYNC", "B"), ("BAR.ARV", "B"), ("BAR.RED", "B"))


def runs(lines):
    """Yields (shape, count, ends_with_gsb0, events_before) for each run of HGMMAs."""
    shape, count, gsb, before, pending = None, 0, False, "", ""
    for line in lines:
        m = re.search(r"/\*[0-9a-f]+\*/\s+(.*?);", line)
        if not m:
            continue
        ins = m.group(1)
        if "HGMMA" in ins:
            s = re.search(r"HGMMA\.(\d+x\d+x\d+)", ins).group(1)
            if shape is not None and (s != shape or pending):
                yield shape, count, gsb, before
                shape = None
            if shape is None:
                shape, count, before = s, 0, pending
            count += 1
            gsb = "gsb0" in ins
            pending = ""
        else:
            pending += "".join(tag for key, tag in EVENTS if key in ins)
    if shape is not None:
        yield shape, count, gsb, before


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    lines = open(sys.argv[1]).read().splitlines()
    all_runs = list(runs(lines))
    if "--totals" in sys.argv:
        hg = sum(c for _, c, _, _ in all_runs)
        arrives = sum(1 for l in lines if "WARPGROUP.ARRIVE" in l)
        waits = sum(1 for l in lines if "SYNCS.PHASECHK" in l)
        print(f"HGMMA {hg}  runs {len(all_runs)}  WARPGROUP.ARRIVE {arrives}  mbarrier try-waits {waits}")
        return
    prev = None
    n = 0
    for r in all_runs:  # identical consecutive runs are printed once with a repeat count
        if r == prev:
            n += 1
            continue
        if prev is not None:
            print(f"{n:3d} x  {prev[0]:>10} x{prev[1]:<3d}{' gsb0' if prev[2] else '     '}  after [{prev[3]}]")
        prev, n = r, 1
    if prev is not None:
        print(f"{n:3d} x  {prev[0]:>10} x{prev[1]:<3d}{' gsb0' if prev[2] else '     '}  after [{prev[3]}]")


if __name__ == "__main__":
    main()

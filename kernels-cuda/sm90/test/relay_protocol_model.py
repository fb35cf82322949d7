#!/usr/bin/env python3
"""Exhaustive interleaving check of the relay's synchronisation protocol with half-stage release and the one-way
handoff (decode_sm90.cu, -DMLA4J_SM90_HALFREL=2), written because that variant was built on a day with no GPU.

It models the protocol, not the CUDA code: the actors are the producer thread, TMA completions, two warps of
warpgroup 0 (enough to expose ordering inside the warpgroup, since each warp's wgmma.wait_group covers only its
own wgmmas) and warpgroup 1. Shared memory is a set of cells, each holding which block's data it has:
  A[st]  V/K boxes 0..3 of stage st (warpgroup 0's half, freed by warpgroup 0)
  B[st]  V/K boxes 4..7 (warpgroup 1's half)        R[st]  the RoPE box: K of block i, then P_i
  M[st]  m_i, the running max slot of stage st      Q      the query tile of the current split
Every read is an interval (from a wgmma's issue to its wait, or one step for a plain load); every write checks
that no interval of another block's data is open on its cell, and every read checks that the cell holds what the
reader expects (the block it works on, fully written, stale rows zeroed where the block is partly used).
Synchronisation: mbarriers full (per half), empty (per half, one arrival per warp), pready (per stage), named
barriers per warpgroup (kBarW0 / kBarW1) and across both (kBarSum, kBarQ at split boundaries).

A breadth-first search visits every reachable state; it fails on a deadlock (a state where nothing can move and
not all actors are done) or a violated check. `--mutate NAME` removes one piece of the protocol to show the check
catches it: `no_second_w0` (the barrier that orders a partly used block's zeroing before warpgroup 0's own P V),
`no_w0` (the barrier before warpgroup 0 writes into the stage), `early_release_b` (warpgroup 1 frees its half
before its P V retired).

    python3 kernels-cuda/sm90/test/relay_protocol_model.py            # the protocol as built: expect OK
    python3 kernels-cuda/sm90/test/relay_protocol_model.py --mutate no_second_w0   # expect a violation
    python3 kernels-cuda/sm90/test/relay_protocol_model.py --selftest  # both: what scripts/test.sh runs (~2 s)
"""
import sys
from collections import deque

# Two splits in one part: blocks 0..2 (the last partly used), then 3..4 (the last partly used).
SPLITS = [(0, 3), (3, 5)]
PARTIAL = {2, 4}
NBLK = 5
STAGES = 2
W0_WARPS = 2
MUTATE = sys.argv[sys.argv.index("--mutate") + 1] if "--mutate" in sys.argv else None


def split_of(i):
    return next(k for k, (a, b) in enumerate(SPLITS) if a <= i < b)


# ---- program of each actor: a list of ops; an actor's state is its program counter ----
def producer_prog():
    ops = []
    for i in range(NBLK):
        st = i % STAGES
        ops += [("wait_empty", "A", st, i), ("load", "A", st, i), ("wait_empty", "B", st, i), ("load", "B", st, i)]
    return ops


def wg0_prog(w):
    ops = []
    for k, (a, b) in enumerate(SPLITS):
        if k > 0:  # split_begin: Q tile reloaded by all consumers between two all-consumer barriers
            ops += [("write_q", k), ("bar", "Q", k)]
        for i in range(a, b):
            st = i % STAGES
            partial = i in PARTIAL
            # Q K^T starts on warpgroup 0's half while the other half may still be in flight (per-box or two-group
            # waits), then S retires (this warp's wgmma.wait_group)
            ops += [("wait_full", "A", st, i), ("open", "S", (("A", st, i), ("Q", None, k))),
                    ("wait_full", "B", st, i), ("open", "S2", (("B", st, i), ("R", st, ("K", i)))),
                    ("close", "S"), ("close", "S2")]
            if not partial:
                ops += [("open", "PVL", (("A", st, ("V", i)),))]  # P V issued before the handoff
            if MUTATE != "no_w0":
                ops += [("bar", "W0", i)]
            if partial:
                ops += [("zero", st, i)]
            ops += [("write", "M", st, i), ("write", "R", st, ("P", i))]
            if partial and MUTATE != "no_second_w0":
                ops += [("bar", "W0b", i)]
            ops += [("arrive_pready", st, i)]
            if partial:
                ops += [("open", "PVL", (("A", st, ("V", i)),))]
            ops += [("close", "PVL"), ("arrive_empty", "A", st, i)]
        ops += [("bar", "SUM", k)]
    return ops


def wg1_prog():
    ops = []
    for k, (a, b) in enumerate(SPLITS):
        if k > 0:
            ops += [("write_q", k), ("bar", "Q", k)]
        for i in range(a, b):
            st = i % STAGES
            ops += [("wait_pready", st, i), ("read", "M", st, i)]
            if MUTATE == "early_release_b":
                ops += [("arrive_empty", "B", st, i)]
            ops += [("open", "PVR", (("B", st, ("V", i)), ("R", st, ("P", i)))), ("close", "PVR")]
            if MUTATE != "early_release_b":
                ops += [("arrive_empty", "B", st, i)]
        ops += [("bar", "SUM", k)]
    return ops


ACTORS = ["prod"] + [f"w0.{w}" for w in range(W0_WARPS)] + ["wg1"]
PROGS = {"prod": producer_prog(), "wg1": wg1_prog(), **{f"w0.{w}": wg0_prog(w) for w in range(W0_WARPS)}}
BAR_MEMBERS = {"W0": [f"w0.{w}" for w in range(W0_WARPS)], "W0b": [f"w0.{w}" for w in range(W0_WARPS)],
               "SUM": [a for a in ACTORS if a != "prod"], "Q": [a for a in ACTORS if a != "prod"]}


class Violation(Exception):
    pass


# ---- state: (pcs, cells, pending TMA loads, barrier arrivals, open read intervals) as hashable tuples ----
def initial():
    cells = {}
    for st in range(STAGES):
        cells[("A", st)] = None
        cells[("B", st)] = None
        cells[("R", st)] = None
        cells[("M", st)] = None
    cells[("Q", None)] = ("Q", 0)
    return (tuple(0 for _ in ACTORS), tuple(sorted(cells.items(), key=str)), frozenset(), frozenset(), frozenset())


def content_ok(cells, cell, want, zero_needed):
    v = cells.get(cell)
    if cell[0] in ("A", "B"):
        # v = (block, frozenset of warps that zeroed its stale rows)
        if v is None or v[0] != want:
            return False
        return not zero_needed or v[1] == frozenset(range(W0_WARPS))
    if cell[0] == "R":
        return v == want or (isinstance(v, tuple) and len(v) == 3 and (v[0], v[1]) == want and v[2] == frozenset(range(W0_WARPS)))
    return v == want


def check_write(opens, cell, writer, ok_block):
    for (actor, name, c, want) in opens:
        if c == cell and actor != writer:
            raise Violation(f"{writer} writes {cell} (block {ok_block}) while {actor}'s {name} still reads it for {want}")


def successors(state):
    pcs, cells_t, pending, arrivals, opens = state
    cells = dict(cells_t)
    out = []

    # TMA completions: any pending load may land now
    for ld in pending:
        half, st, i = ld
        c = dict(cells)
        targets = [(half, st)] + ([("R", st)] if half == "B" else [])
        for t in targets:
            check_write(opens, t, "tma", i)
        c[(half, st)] = (i, frozenset())
        if half == "B":
            c[("R", st)] = ("K", i)
        out.append((pcs, tuple(sorted(c.items(), key=str)), pending - {ld}, arrivals | {("full", half, st, i)}, opens))

    for ai, actor in enumerate(ACTORS):
        pc = pcs[ai]
        prog = PROGS[actor]
        if pc >= len(prog):
            continue
        op = prog[pc]
        kind = op[0]
        npcs = pcs[:ai] + (pc + 1,) + pcs[ai + 1:]
        c = dict(cells)
        arr, opn, pend = arrivals, opens, pending
        if kind == "wait_empty":
            _, half, st, i = op
            prev = i - STAGES
            if prev >= 0:
                need = W0_WARPS if half == "A" else 1
                got = sum(1 for a in arrivals if a[:4] == ("empty", half, st, prev))
                if got < need:
                    continue
        elif kind == "load":
            _, half, st, i = op
            pend = pending | {(half, st, i)}
        elif kind == "wait_full":
            _, half, st, i = op
            if ("full", half, st, i) not in arrivals:
                continue
        elif kind == "open":
            _, name, reads = op
            for (cname, st, want) in reads:
                cell = (cname, st)
                zero = False
                if cname in ("A", "B"):  # want: block (S reads K) or ("V", block) (P V reads V)
                    pv = isinstance(want, tuple)
                    want = want[1] if pv else want
                    zero = pv and want in PARTIAL
                elif cname == "Q":
                    want = ("Q", want)
                if not content_ok(cells, cell, want, zero):
                    raise Violation(f"{actor}'s {name} reads {cell} = {cells.get(cell)}, expected {want}"
                                    f"{' with stale rows zeroed by every warp' if zero else ''}")
                opn = opn | {(actor, name, cell, want)}
        elif kind == "close":
            _, name = op
            opn = frozenset(x for x in opens if not (x[0] == actor and x[1] == name))
        elif kind == "bar":
            _, bname, key = op
            members = BAR_MEMBERS[bname]
            tag = ("bar", bname, key)
            mine = tag + (actor,)
            if mine not in arrivals:  # arrive, then wait at the same pc
                out.append((pcs, cells_t, pending, arrivals | {mine}, opens))
                continue
            if not all(tag + (m,) in arrivals for m in members):
                continue
        elif kind == "zero":
            _, st, i = op
            w = int(actor.split(".")[1])
            for half in ("A", "B"):
                check_write(opens, (half, st), actor, i)
                blk, zs = c[(half, st)]
                c[(half, st)] = (blk, zs | {w})
        elif kind == "write":
            _, cname, st, val = op
            check_write(opens, (cname, st), actor, val)
            w = int(actor.split(".")[1])
            old = c[(cname, st)]
            if cname == "R":  # each warp writes its rows of P_i
                parts = old[2] if isinstance(old, tuple) and len(old) == 3 and (old[0], old[1]) == val else frozenset()
                c[(cname, st)] = (val[0], val[1], parts | {w})
            else:
                parts = old[1] if isinstance(old, tuple) and old[0] == ("m", val) else frozenset()
                c[(cname, st)] = (("m", val), parts | {w})
        elif kind == "read":
            _, cname, st, i = op
            v = c[(cname, st)]
            if v != (("m", i), frozenset(range(W0_WARPS))):
                raise Violation(f"{actor} reads {cname}[{st}] = {v}, expected m of block {i} from every warp")
        elif kind == "write_q":
            _, k = op
            check_write(opens, ("Q", None), actor, ("Q", k))
            c[("Q", None)] = ("Q", k)
        elif kind == "arrive_pready":
            _, st, i = op
            arr = arrivals | {("pready", st, i, actor)}
        elif kind == "wait_pready":
            _, st, i = op
            if sum(1 for a in arrivals if a[:3] == ("pready", st, i)) < W0_WARPS:
                continue
        elif kind == "arrive_empty":
            _, half, st, i = op
            arr = arrivals | {("empty", half, st, i, actor)}
        else:
            raise AssertionError(op)
        out.append((npcs, tuple(sorted(c.items(), key=str)), pend, arr, opn))
    return out


def main():
    start = initial()
    seen = {start}
    queue = deque([start])
    try:
        while queue:
            s = queue.popleft()
            nxt = successors(s)
            if not nxt:
                if any(s[0][i] < len(PROGS[a]) for i, a in enumerate(ACTORS)):
                    where = {a: PROGS[a][s[0][i]] for i, a in enumerate(ACTORS) if s[0][i] < len(PROGS[a])}
                    raise Violation(f"deadlock: {where}")
                continue
            for t in nxt:
                if t not in seen:
                    seen.add(t)
                    queue.append(t)
    except Violation as v:
        print(f"relay protocol model ({MUTATE or 'as built'}): VIOLATION after {len(seen)} states: {v}")
        return 1
    print(f"relay protocol model ({MUTATE or 'as built'}): OK, {len(seen)} reachable states, no deadlock, no race, no stale read")
    return 0


MUTATIONS = ("no_second_w0", "no_w0", "early_release_b")


def selftest():
    """The protocol as built must pass and every mutation must be caught; each in a fresh process (module state)."""
    import subprocess
    bad = 0
    for m in (None,) + MUTATIONS:
        args = [sys.executable, __file__] + (["--mutate", m] if m else [])
        r = subprocess.run(args, capture_output=True, text=True)
        print(r.stdout.strip())
        if (r.returncode == 0) != (m is None):
            print(f"relay protocol model: {'as built' if m is None else m} should have {'passed' if m is None else 'failed'}")
            bad = 1
    return bad


if __name__ == "__main__":
    sys.exit(selftest() if "--selftest" in sys.argv else main())

#!/usr/bin/env python3
"""Exhaustive interleaving check of the sm90 relay's synchronisation protocols in the lab's kernel
(lab/kernels-cuda/sm90/decode_sm90.cu, consume_relay and produce): the shipped one (also, alone, in the product's
kernels-cuda/sm90/test/relay_protocol_model.py, which CI runs), and the half-stage-release variants -DMLA4J_SM90_HALFREL=1 and =2, which were written on
days with no GPU (docs/PERF.md r15, r16).

It models the protocol, not the CUDA code: the actors are the producer thread, TMA completions, two warps of
warpgroup 0 (enough to expose ordering inside the warpgroup, since each warp's wgmma.wait_group covers only its own
wgmmas) and warpgroup 1. Shared memory is a set of cells, each holding which block's data it has:
  A[st]  V/K boxes 0..3 of stage st        B[st]  V/K boxes 4..7        R[st]  the RoPE box (K; P_i with HALFREL=2)
  P      the shared P tile (shipped, HALFREL=1)    M[st]  the published running max (one slot unless HALFREL=2)
  Q      the query tile of the current split
Every wgmma read is an interval from its issue to its wait (a plain load is one step); every write checks that no
other actor has an interval open on its cell, and every read checks that the cell holds what the reader expects (its
block, written by every warp, stale V rows zeroed where the block is partly used).

Protocols (what differs):
  shipped   one empty barrier per stage (all consumers); loads A, B, R; kBarB / kBarA (256 threads) hand P and m over
  halfrel1  empty barrier per half: A + R freed by warpgroup 0, B by warpgroup 1; S takes A, R, then B; kBarB / kBarA
  halfrel2  empty per half: A by warpgroup 0, B + R by warpgroup 1; P_i in R[st], m_i in M[st]; warpgroup 0 meets its
            own barrier kBarW0 (twice on a partly used block) and arrives on pready[st]; warpgroup 1 waits on it

A breadth-first search visits every reachable state of two splits (3 and 2 blocks, each ending partly used) in one
part; it fails on a deadlock (nothing can move, not all done) or a violated check. `--mutate NAME` removes one piece
of a protocol to show the check catches it (MUTATIONS below: a missing barrier, a stage half released or refilled
too early).

    python3 lab/kernels-cuda/sm90/test/relay_protocol_model.py --protocol halfrel2 [--mutate no_second_w0]
    python3 lab/kernels-cuda/sm90/test/relay_protocol_model.py --selftest   # every protocol passes, every mutation caught
"""
import subprocess
import sys
from collections import deque

SPLITS = [(0, 3), (3, 5)]  # blocks of each split; the last block of each is partly used
PARTIAL = {2, 4}
NBLK = 5
STAGES = 2
W0 = [f"w0.{w}" for w in range(2)]
WG1 = "wg1"
CONSUMERS = W0 + [WG1]
ALL_W0 = frozenset(W0)


def arg(name, default=None):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


PROTOCOL = arg("--protocol", "halfrel2")
MUTATE = arg("--mutate")
MUTATIONS = {  # protocol -> mutations that must be caught
    "shipped": ("no_bar_b", "release_before_pv"),
    "halfrel1": ("no_bar_b", "no_wait_b"),
    "halfrel2": ("no_second_w0", "no_w0", "early_release_b"),
}

# Which cells each empty barrier frees (and who must arrive), and the order Q K^T takes the cells.
if PROTOCOL == "shipped":
    EMPTY = {"all": (("A", "B", "R"), CONSUMERS)}
    S_ORDER = ("A", "B", "R")
elif PROTOCOL == "halfrel1":
    EMPTY = {"a": (("A", "R"), W0), "b": (("B",), [WG1])}
    S_ORDER = ("A", "R", "B")
else:
    EMPTY = {"a": (("A",), W0), "b": (("B", "R"), [WG1])}
    S_ORDER = ("A", "B", "R")
ONE_WAY = PROTOCOL == "halfrel2"


def group_of(cell):
    return next(g for g, (cells, _) in EMPTY.items() if cell in cells)


# ---- programs: a list of ops per actor ----
def producer_prog():
    ops = []
    for i in range(NBLK):
        st = i % STAGES
        for g, (cells, _) in EMPTY.items():
            if not (MUTATE == "no_wait_b" and g == "b"):  # the mutation refills warpgroup 1's half unasked
                ops.append(("wait_empty", g, st, i))
            ops += [("load", c, st, i) for c in S_ORDER if c in cells]
    return ops


def wg0_prog():
    ops = []
    for k, (a, b) in enumerate(SPLITS):
        if k > 0:  # split_begin: the Q tile is reloaded by all consumers, between all-consumer barriers
            ops += [("write_q", k), ("bar", "Q", k)]
        for i in range(a, b):
            st, partial = i % STAGES, i in PARTIAL
            for n, cell in enumerate(S_ORDER):  # Q K^T waits per box (or per group) and reads as it goes
                want = ("K", i) if cell == "R" else i
                ops += [("wait_full", cell, st, i), ("open", f"S{n}", ((cell, st, want),) + ((("Q", None, k),) if n == 0 else ()))]
            ops += [("close", f"S{n}") for n in range(len(S_ORDER))]
            if not partial:
                ops.append(("open", "PVL", (("A", st, ("V", i)),)))  # P V issued before the handoff
            mslot = st if ONE_WAY else 0
            if ONE_WAY:
                if MUTATE != "no_w0":
                    ops.append(("bar", "W0", i))
                if partial:
                    ops.append(("zero", st, i))
                ops += [("write_m", mslot, i), ("write_p", ("R", st), i)]
                if partial and MUTATE != "no_second_w0":
                    ops.append(("bar", "W0b", i))
                ops.append(("arrive", "pready", st, i))
            else:
                if MUTATE != "no_bar_b":
                    ops.append(("bar", "B", i))
                if partial:
                    ops.append(("zero", st, i))
                ops += [("write_m", mslot, i), ("write_p", ("P", None), i), ("bar", "A", i)]
            if partial:
                ops.append(("open", "PVL", (("A", st, ("V", i)),)))
            if MUTATE == "release_before_pv":
                ops += [("arrive", "empty", group_of("A"), st, i), ("close", "PVL")]
            else:
                ops += [("close", "PVL"), ("arrive", "empty", group_of("A"), st, i)]
        ops.append(("bar", "SUM", k))
    return ops


def wg1_prog():
    ops = []
    for k, (a, b) in enumerate(SPLITS):
        if k > 0:
            ops += [("write_q", k), ("bar", "Q", k)]
        for i in range(a, b):
            st = i % STAGES
            if ONE_WAY:
                ops.append(("wait", "pready", st, i))
                pcell = ("R", st)
            else:
                if MUTATE != "no_bar_b":
                    ops.append(("bar", "B", i))
                ops.append(("bar", "A", i))
                pcell = ("P", None)
            ops.append(("read_m", st if ONE_WAY else 0, i))
            if MUTATE == "early_release_b":
                ops.append(("arrive", "empty", group_of("B"), st, i))
            ops += [("open", "PVR", (("B", st, ("V", i)), (pcell[0], pcell[1], ("P", i)))), ("close", "PVR")]
            if MUTATE != "early_release_b":
                ops.append(("arrive", "empty", group_of("B"), st, i))
        ops.append(("bar", "SUM", k))
    return ops


ACTORS = ["prod"] + W0 + [WG1]
PROGS = {"prod": producer_prog(), WG1: wg1_prog(), **{w: wg0_prog() for w in W0}}
BAR_MEMBERS = {"W0": W0, "W0b": W0, "A": CONSUMERS, "B": CONSUMERS, "SUM": CONSUMERS, "Q": CONSUMERS}


class Violation(Exception):
    pass


def initial():
    cells = {("Q", None): ("Q", 0), ("P", None): None}
    for st in range(STAGES):
        for c in ("A", "B", "R", "M"):
            cells[(c, st)] = None
    return (tuple(0 for _ in ACTORS), tuple(sorted(cells.items(), key=str)), frozenset(), frozenset(), frozenset())


def holds(v, cell, want, zero_needed):
    """Whether cell value v is what a reader of `want` needs."""
    if cell[0] in ("A", "B"):  # v = (block, warps that zeroed its stale rows)
        return v is not None and v[0] == want and (not zero_needed or v[1] == ALL_W0)
    if isinstance(want, tuple) and want[0] == "P":  # v = ("P", block, warps that wrote their rows)
        return v == ("P", want[1], ALL_W0)
    return v == want


def check_write(opens, cell, writer, what):
    for (actor, name, c, want) in opens:
        if c == cell and actor != writer:
            raise Violation(f"{writer} writes {cell} ({what}) while {actor}'s {name} still reads it for {want}")


def successors(state):
    pcs, cells_t, pending, arrivals, opens = state
    cells = dict(cells_t)
    out = []
    for ld in pending:  # any TMA load in flight may land now
        cell, st, i = ld
        check_write(opens, (cell, st), "tma", i)
        c = dict(cells)
        c[(cell, st)] = ("K", i) if cell == "R" else (i, frozenset())
        out.append((pcs, tuple(sorted(c.items(), key=str)), pending - {ld}, arrivals | {("full", cell, st, i)}, opens))

    for ai, actor in enumerate(ACTORS):
        pc = pcs[ai]
        if pc >= len(PROGS[actor]):
            continue
        op = PROGS[actor][pc]
        kind = op[0]
        npcs = pcs[:ai] + (pc + 1,) + pcs[ai + 1:]
        c, arr, opn, pend = dict(cells), arrivals, opens, pending
        if kind == "wait_empty":
            _, g, st, i = op
            if i >= STAGES and not all(("empty", g, st, i - STAGES, m) in arrivals for m in EMPTY[g][1]):
                continue
        elif kind == "load":
            _, cell, st, i = op
            pend = pending | {(cell, st, i)}
        elif kind == "wait_full":
            _, cell, st, i = op
            if ("full", cell, st, i) not in arrivals:
                continue
        elif kind == "open":
            _, name, reads = op
            for (cname, st, want) in reads:
                cell, zero = (cname, st), False
                if cname in ("A", "B"):  # want: block (S reads K) or ("V", block) (P V reads V)
                    zero = isinstance(want, tuple) and want[1] in PARTIAL
                    want = want[1] if isinstance(want, tuple) else want
                elif cname == "Q":
                    want = ("Q", want)
                if not holds(cells[cell], cell, want, zero):
                    raise Violation(f"{actor}'s {name} reads {cell} = {cells[cell]}, expected {want}"
                                    f"{' with stale rows zeroed by every warp' if zero else ''}")
                opn = opn | {(actor, name, cell, want)}
        elif kind == "close":
            opn = frozenset(x for x in opens if not (x[0] == actor and x[1] == op[1]))
        elif kind == "bar":
            _, bname, key = op
            tag = ("bar", bname, key)
            if tag + (actor,) not in arrivals:  # arrive, then wait at the same op
                out.append((pcs, cells_t, pending, arrivals | {tag + (actor,)}, opens))
                continue
            if not all(tag + (m,) in arrivals for m in BAR_MEMBERS[bname]):
                continue
        elif kind == "zero":  # this warp's share of the stale V rows of a partly used block
            _, st, i = op
            for half in ("A", "B"):
                check_write(opens, (half, st), actor, f"zeroed rows of block {i}")
                blk, zs = c[(half, st)]
                c[(half, st)] = (blk, zs | {actor})
        elif kind == "write_m":  # each warp writes the maxima of its rows
            _, slot, i = op
            check_write(opens, ("M", slot), actor, f"m of block {i}")
            old = c[("M", slot)]
            parts = old[2] if old is not None and old[1] == i else frozenset()
            c[("M", slot)] = ("m", i, parts | {actor})
        elif kind == "write_p":  # each warp writes its rows of P_i
            _, cell, i = op
            check_write(opens, cell, actor, f"P of block {i}")
            old = c[cell]
            parts = old[2] if isinstance(old, tuple) and len(old) == 3 and old[:2] == ("P", i) else frozenset()
            c[cell] = ("P", i, parts | {actor})
        elif kind == "read_m":
            _, slot, i = op
            if c[("M", slot)] != ("m", i, ALL_W0):
                raise Violation(f"{actor} reads M[{slot}] = {c[('M', slot)]}, expected m of block {i} from every warp")
        elif kind == "write_q":
            check_write(opens, ("Q", None), actor, f"Q of split {op[1]}")
            c[("Q", None)] = ("Q", op[1])
        elif kind == "arrive":
            arr = arrivals | {op[1:] + (actor,)}
        elif kind == "wait":  # pready: every warp of warpgroup 0 arrived
            _, bar, st, i = op
            if not all((bar, st, i, w) in arrivals for w in W0):
                continue
        else:
            raise AssertionError(op)
        out.append((npcs, tuple(sorted(c.items(), key=str)), pend, arr, opn))
    return out


def main():
    start = initial()
    seen, queue = {start}, deque([start])
    label = f"{PROTOCOL}{', mutation ' + MUTATE if MUTATE else ''}"
    try:
        while queue:
            s = queue.popleft()
            nxt = successors(s)
            if not nxt and any(s[0][i] < len(PROGS[a]) for i, a in enumerate(ACTORS)):
                where = {a: PROGS[a][s[0][i]] for i, a in enumerate(ACTORS) if s[0][i] < len(PROGS[a])}
                raise Violation(f"deadlock: {where}")
            for t in nxt:
                if t not in seen:
                    seen.add(t)
                    queue.append(t)
    except Violation as v:
        print(f"relay protocol model ({label}): VIOLATION after {len(seen)} states: {v}")
        return 1
    print(f"relay protocol model ({label}): OK, {len(seen)} reachable states, no deadlock, no race, no stale read")
    return 0


def selftest():
    """Each protocol as built must pass and each of its mutations must be caught (a fresh process per run)."""
    bad = 0
    for proto, muts in MUTATIONS.items():
        for m in (None,) + muts:
            args = [sys.executable, __file__, "--protocol", proto] + (["--mutate", m] if m else [])
            r = subprocess.run(args, capture_output=True, text=True)
            print((r.stdout or r.stderr).strip())
            if (r.returncode == 0) != (m is None):
                print(f"relay protocol model: {proto} {m or 'as built'} should have {'passed' if m is None else 'failed'}")
                bad = 1
    return bad


if __name__ == "__main__":
    sys.exit(selftest() if "--selftest" in sys.argv else main())

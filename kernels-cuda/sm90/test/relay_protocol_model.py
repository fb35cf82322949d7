#!/usr/bin/env python3
"""Exhaustive interleaving check of the shipped sm90 relay's synchronisation protocol (kernels-cuda/sm90: consumer.cuh
consume_relay, producer.cuh produce, barriers.cuh). The lab's variants of it (HALFREL=1, =2) are model-checked by
lab/kernels-cuda/sm90/test/relay_protocol_model.py.

It models the protocol, not the CUDA code: the actors are the producer thread, TMA completions, two warps of
warpgroup 0 (enough to expose ordering inside the warpgroup, since each warp's wgmma.wait_group covers only its own
wgmmas) and warpgroup 1. Shared memory is a set of cells, each holding which block's data it has:
  A[st]  V/K boxes 0..3 of stage st        B[st]  V/K boxes 4..7        R[st]  the RoPE box (K only)
  P      the shared P tile                 M      the published running max
  Q      the query tile of the current split
Every wgmma read is an interval from its issue to its wait (a plain load is one step); every write checks that no
other actor has an interval open on its cell, and every read checks that the cell holds what the reader expects (its
block, written by every warp, stale V rows zeroed where the block is partly used).

The protocol: one empty barrier per stage (every consumer arrives); the producer loads A, B, R; Q K^T waits per box;
kBarB then kBarA (all 256 consumer threads) hand P_i and m_i from warpgroup 0 to warpgroup 1; warpgroup 0 zeroes the
stale V rows of a partly used block after kBarB; every P V retires before its thread releases the stage.

A breadth-first search visits every reachable state of two splits (3 and 2 blocks, each ending partly used) in one
part; it fails on a deadlock (nothing can move, not all done) or a violated check. `--mutate NAME` removes one piece
of the protocol to show the check catches it (MUTATIONS below: a missing barrier, a stage released too early, the
stale rows not zeroed).

    python3 kernels-cuda/sm90/test/relay_protocol_model.py [--mutate no_bar_b]
    python3 kernels-cuda/sm90/test/relay_protocol_model.py --selftest   # the protocol passes, every mutation is caught
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from protocol_check import Violation, check_write, explore, selftest  # noqa: E402

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


MUTATE = arg("--mutate")
MUTATIONS = (  # each must be caught
    "no_bar_b",           # neither warpgroup meets kBarB: P / m overwritten while warpgroup 1 still reads them
    "no_bar_a",           # warpgroup 1 does not wait for the publication of P_i and m_i
    "release_before_pv",  # warpgroup 0 releases the stage before its P V retired
    "no_zero",            # the stale V rows of a partly used block are not zeroed
)

# The one empty barrier per stage: the cells it frees and who must arrive; the order Q K^T takes the cells.
EMPTY = {"all": (("A", "B", "R"), CONSUMERS)}
S_ORDER = ("A", "B", "R")


# ---- programs: a list of ops per actor ----
def producer_prog():
    ops = []
    for i in range(NBLK):
        st = i % STAGES
        for g, (cells, _) in EMPTY.items():
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
            if MUTATE != "no_bar_b":
                ops.append(("bar", "B", i))
            if partial and MUTATE != "no_zero":
                ops.append(("zero", st, i))
            ops += [("write_m", 0, i), ("write_p", ("P", None), i)]
            if MUTATE != "no_bar_a":
                ops.append(("bar", "A", i))
            if partial:
                ops.append(("open", "PVL", (("A", st, ("V", i)),)))
            if MUTATE == "release_before_pv":
                ops += [("arrive", "empty", "all", st, i), ("close", "PVL")]
            else:
                ops += [("close", "PVL"), ("arrive", "empty", "all", st, i)]
        ops.append(("bar", "SUM", k))
    return ops


def wg1_prog():
    ops = []
    for k, (a, b) in enumerate(SPLITS):
        if k > 0:
            ops += [("write_q", k), ("bar", "Q", k)]
        for i in range(a, b):
            st = i % STAGES
            if MUTATE != "no_bar_b":
                ops.append(("bar", "B", i))
            if MUTATE != "no_bar_a":
                ops.append(("bar", "A", i))
            ops.append(("read_m", 0, i))
            ops += [("open", "PVR", (("B", st, ("V", i)), ("P", None, ("P", i)))), ("close", "PVR")]
            ops.append(("arrive", "empty", "all", st, i))
        ops.append(("bar", "SUM", k))
    return ops


ACTORS = ["prod"] + W0 + [WG1]
PROGS = {"prod": producer_prog(), WG1: wg1_prog(), **{w: wg0_prog() for w in W0}}
BAR_MEMBERS = {"A": CONSUMERS, "B": CONSUMERS, "SUM": CONSUMERS, "Q": CONSUMERS}


def initial():
    cells = {("Q", None): ("Q", 0), ("P", None): None, ("M", 0): None}
    for st in range(STAGES):
        for c in ("A", "B", "R"):
            cells[(c, st)] = None
    return (tuple(0 for _ in ACTORS), tuple(sorted(cells.items(), key=str)), frozenset(), frozenset(), frozenset())


def holds(v, cell, want, zero_needed):
    """Whether cell value v is what a reader of `want` needs."""
    if cell[0] in ("A", "B"):  # v = (block, warps that zeroed its stale rows)
        return v is not None and v[0] == want and (not zero_needed or v[1] == ALL_W0)
    if isinstance(want, tuple) and want[0] == "P":  # v = ("P", block, warps that wrote their rows)
        return v == ("P", want[1], ALL_W0)
    return v == want


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
        else:
            raise AssertionError(op)
        out.append((npcs, tuple(sorted(c.items(), key=str)), pend, arr, opn))
    return out


if __name__ == "__main__":
    if "--selftest" in sys.argv:
        sys.exit(selftest("relay protocol model", __file__, MUTATIONS))
    sys.exit(explore("relay protocol model",
                     f"shipped{', mutation ' + MUTATE if MUTATE else ''}", initial(), successors, ACTORS, PROGS))

#!/usr/bin/env python3
"""Exhaustive interleaving check of the transposed kernel's synchronisation protocol (kernels-cuda/sm90_etap:
decode_sm90_etap.cu produce / consume / run), in the manner of kernels-cuda/sm90/test/relay_protocol_model.py.

It models the protocol, not the CUDA code. Actors: the producer thread, TMA completions, and two warps of each consumer
warpgroup (enough to expose ordering inside a warpgroup: each warp's wgmma.wait_group covers only its own wgmmas).
Shared memory is a set of cells, each holding what it has:
  slot[j]   one box of the ring (R slots): (block, box, warps that zeroed its stale rows)
  Q         the split's query tile, or, at a split's end, warpgroup 1's merge scratch of a round
  P[wg]     a warpgroup's P^T tile            MX[wg]  its column maxima exchange       SUM[wg]  its column sums
A block has BOXES boxes: V boxes then one RoPE box; its boxes take the next BOXES ring slots in block order. Every wgmma
read is an interval from its issue to its wait (a plain load or store is one step); every write checks that no other
actor has an interval open on its cell, and every read checks that the cell holds what the reader expects.

The protocol: full[slot] (producer arms, TMA completes), empty[slot] (one arrival per warp of the warpgroup that read
the box: the RoPE box after S^T, V box t after O^T's tile t); the warpgroups take alternate blocks of the part (block i
of the CTA's walk: warpgroup i % 2); per warpgroup named barriers: the stale V rows of a partly used block zeroed
between two of them once every warp's S^T retired, the column maxima exchanged, P^T published; barrier 3 (all
consumers): the Q tile copied, each of the merge rounds (warpgroup 1 writes its state into the Q tile, warpgroup 0
reads it; the last round's second barrier also frees the Q tile for the next split's copy).

A breadth-first search visits every reachable state of two splits (3 and 2 blocks, each ending partly used) in one
part; it fails on a deadlock or a violated check. `--mutate NAME` removes one piece of the protocol to show the check
catches it (MUTATIONS below).

    python3 kernels-cuda/sm90_etap/test/etap_protocol_model.py [--mutate no_bar_p]
    python3 kernels-cuda/sm90_etap/test/etap_protocol_model.py --selftest   # passes as built, every mutation caught
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from protocol_check import Violation, check_write, explore, selftest  # noqa: E402

FP8 = "--fp8" in sys.argv
# blocks of each split (the CTA's walk order); the last block of each is partly used (--fp8: a smaller part, the
# state space of two more actors)
SPLITS = [(0, 2), (2, 3)] if FP8 else [(0, 3), (3, 5)]
PARTIAL = {1, 2} if FP8 else {2, 4}
NBLK = SPLITS[-1][1]
BOXES = 3        # V0, V1, RoPE (the kernel: 8 V boxes and one RoPE box)
V_BOXES = 2
ROUNDS = 2       # merge rounds (the kernel: 4)


def arg(name, default=None):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


# --fp8: the fp8 entry's producer: two widening warps (the kernel: the producer warpgroup's 4), the first of which also
# issues the raw ring's TMA loads; the ring the consumers read is filled by the wideners, two blocks deep. One warp per
# consumer warpgroup there (their protocol is the same as without --fp8, where two warps each are modelled).
R = 2 * BOXES if FP8 else 4  # ring slots the consumers read (the kernel: 18 fp8, 25 otherwise); must exceed BOXES
NRAW = 4         # fp8: raw ring slots (the kernel: 14); fewer than a block's two warpgroups hold
WARPS = 1 if FP8 else 2  # modelled warps per consumer warpgroup (the kernel: 4)
WG_WARPS = {wg: [f"w{wg}.{w}" for w in range(WARPS)] for wg in (0, 1)}
CONSUMERS = WG_WARPS[0] + WG_WARPS[1]
WIDENERS = ["p0", "p1"] if FP8 else []

MUTATE = arg("--mutate")
MUTATIONS = (  # each must be caught
    "no_bar_p",        # O^T reads P^T before every warp of the warpgroup wrote its part
    "no_bar_mx",       # the column maxima are read before every warp wrote them
    "release_early",   # a V box is released before the O^T tile reading it retired
    "no_zero",         # the stale V rows of a partly used block are not zeroed
    "no_zero_bar",     # the zeroing starts before every warp's S^T retired
    "no_merge_bar",    # warpgroup 0 reads a merge round before warpgroup 1 wrote it
    "no_last_round_bar",  # the next split's Q copy starts while warpgroup 0 still reads the last merge round
)
FP8_MUTATIONS = (  # --fp8: each must be caught
    "no_prod_bar",     # a raw slot is reloaded before every widening warp read it
    "no_wide_wait",    # a 16-bit slot is widened into before its readers released it
    "one_full_arrival",  # the consumers start on a 16-bit slot once one widening warp (not all) arrived
)


def slot_of(i, b):
    g = BOXES * i + b
    return g % R, g // R


def raw_slot_of(g):
    return g % NRAW, g // NRAW


def widener_prog(name):
    ops = []
    total = NBLK * BOXES
    if name == "p0":
        ops += [("load_raw", g) for g in range(min(NRAW, total))]
    for g in range(total):
        i, b = divmod(g, BOXES)
        sl, use = slot_of(i, b)
        rs, ruse = raw_slot_of(g)
        ops.append(("wait_raw", rs, ruse))
        if MUTATE != "no_wide_wait":
            ops.append(("wait_empty", sl, use))
        ops += [("read_raw", rs, g), ("widen", sl, i, b), ("arrive_full", sl, use)]
        if MUTATE != "no_prod_bar":
            ops.append(("bar", "prod", ("w", g)))
        if name == "p0" and g + NRAW < total:
            ops.append(("load_raw", g + NRAW))
    return ops


def producer_prog():
    ops = []
    for i in range(NBLK):
        for b in range(BOXES):
            sl, use = slot_of(i, b)
            ops += [("wait_empty", sl, use), ("load", sl, use, i, b)]
    return ops


def consumer_prog(wg, warp):
    me = WG_WARPS[wg]
    ops = []
    for k, (a, e) in enumerate(SPLITS):
        if k > 0:  # the split's Q copy by every consumer thread, then barrier 3
            ops += [("write_q", k), ("bar", 3, ("q", k))]
        for i in range(a, e):
            if i % 2 != wg:
                continue
            partial = i in PARTIAL
            for b in range(BOXES):  # S^T: wait each box, queue its wgmmas (reading the box and Q)
                sl, use = slot_of(i, b)
                ops += [("wait_full", sl, use), ("open", f"S{b}", (("slot", sl, (i, b, False)), ("Q", None, ("Q", k))))]
            ops += [("close", f"S{b}") for b in range(BOXES)]
            sl_r, _ = slot_of(i, BOXES - 1)
            ops.append(("arrive_empty", sl_r, slot_of(i, BOXES - 1)[1]))
            if partial and MUTATE != "no_zero" and not FP8:  # fp8: the widening wrote zeros past the end
                if MUTATE != "no_zero_bar":
                    ops.append(("bar", wg, ("z0", i)))
                ops.append(("zero", i))
                ops.append(("bar", wg, ("z1", i)))
            ops.append(("write", ("MX", wg), ("mx", i)))
            if MUTATE != "no_bar_mx":
                ops.append(("bar", wg, ("mx", i)))
            ops.append(("read_all", ("MX", wg), ("mx", i), me))
            ops.append(("write", ("P", wg), ("p", i)))
            if MUTATE != "no_bar_p":
                ops.append(("bar", wg, ("p", i)))
            for t in range(V_BOXES):  # O^T: one commit group per V box, each released once it retired
                sl, _ = slot_of(i, t)
                ops.append(("open", f"O{t}", (("slot", sl, (i, t, partial)), ("P", wg, ("p", i)))))
            for t in range(V_BOXES):
                sl, use = slot_of(i, t)
                if MUTATE == "release_early":
                    ops += [("arrive_empty", sl, use), ("close", f"O{t}")]
                else:
                    ops += [("close", f"O{t}"), ("arrive_empty", sl, use)]
        # split end: column sums in the warpgroup, then the merge through the Q tile, then the split's end barrier
        ops += [("write", ("SUM", wg), ("sum", k)), ("bar", wg, ("sum", k)), ("read_all", ("SUM", wg), ("sum", k), me)]
        ops.append(("bar", 3, ("m", k)))
        for r in range(ROUNDS):
            if wg == 1:
                ops.append(("write", ("Q", None), ("scr", k, r)))
            if MUTATE != "no_merge_bar":
                ops.append(("bar", 3, ("r0", k, r)))
            if wg == 0:
                ops.append(("read_all", ("Q", None), ("scr", k, r), WG_WARPS[1]))
            if MUTATE != "no_last_round_bar" or r < ROUNDS - 1:
                ops.append(("bar", 3, ("r1", k, r)))  # the last one also frees the Q tile for the next split's copy
    return ops


ACTORS = (WIDENERS if FP8 else ["prod"]) + CONSUMERS
PROGS = {**({w: widener_prog(w) for w in WIDENERS} if FP8 else {"prod": producer_prog()}),
         **{w: consumer_prog(int(w[1]), w) for w in CONSUMERS}}
WG_OF = {w: int(w[1]) for w in CONSUMERS}
BAR_MEMBERS = {0: WG_WARPS[0], 1: WG_WARPS[1], 3: CONSUMERS, "prod": WIDENERS}
READERS_OF_BLOCK = {i: WG_WARPS[i % 2] for i in range(NBLK)}


def initial():
    cells = {("Q", None): ("Q", 0, frozenset(CONSUMERS))}  # the first split's copy completes before the role split
    for sl in range(R):
        cells[("slot", sl)] = None
    for rs in range(NRAW):
        cells[("raw", rs)] = None
    for wg in (0, 1):
        for c in ("P", "MX", "SUM"):
            cells[(c, wg)] = None
    return (tuple(0 for _ in ACTORS), tuple(sorted(cells.items(), key=str)), frozenset(), frozenset(), frozenset())


def holds(v, cell, want):
    if cell[0] == "slot":  # want = (block, box, zeroed needed); fp8: v = (block, box, zeroed by, widened by)
        i, b, zero = want
        if FP8:
            return v is not None and v[:2] == (i, b) and v[3] == frozenset(WIDENERS)
        return v is not None and v[:2] == (i, b) and (not zero or v[2] == frozenset(READERS_OF_BLOCK[i]))
    if cell[0] == "Q":  # want = ("Q", split): every consumer's part copied
        return v == (want[0], want[1], frozenset(CONSUMERS))
    if cell[0] == "P":  # want = ("p", block): every warp of the warpgroup wrote its rows
        return v == (want[0], want[1], frozenset(WG_WARPS[cell[1]]))
    raise AssertionError(cell)


def successors(state):
    pcs, cells_t, pending, arrivals, opens = state
    cells = dict(cells_t)
    out = []
    for ld in pending:  # a TMA load in flight may land now
        if ld[0] == "raw":  # fp8: box g into raw slot g % NRAW
            g = ld[1]
            rs, ruse = raw_slot_of(g)
            c = dict(cells)
            c[("raw", rs)] = g
            out.append((pcs, tuple(sorted(c.items(), key=str)), pending - {ld}, arrivals | {("raw_full", rs, ruse)}, opens))
            continue
        sl, use, i, b = ld
        check_write(opens, ("slot", sl), "tma", (i, b))
        c = dict(cells)
        c[("slot", sl)] = (i, b, frozenset())
        out.append((pcs, tuple(sorted(c.items(), key=str)), pending - {ld}, arrivals | {("full", sl, use)}, opens))

    for ai, actor in enumerate(ACTORS):
        pc = pcs[ai]
        if pc >= len(PROGS[actor]):
            continue
        op = PROGS[actor][pc]
        kind = op[0]
        npcs = pcs[:ai] + (pc + 1,) + pcs[ai + 1:]
        c, arr, opn, pend = dict(cells), arrivals, opens, pending
        if kind == "wait_empty":
            _, sl, use = op
            if use > 0:
                # the previous use of the slot: its block's readers must all have arrived
                prev_g = (use - 1) * R + sl
                i_prev = prev_g // BOXES
                if not all(("empty", sl, use - 1, m) in arrivals for m in READERS_OF_BLOCK[i_prev]):
                    continue
        elif kind == "load":
            _, sl, use, i, b = op
            pend = pending | {(sl, use, i, b)}
        elif kind == "wait_full":
            _, sl, use = op
            if FP8:  # every widening warp arrived on the 16-bit slot
                need = WIDENERS[:1] if MUTATE == "one_full_arrival" else WIDENERS
                if not all(("full", sl, use, m) in arrivals for m in need):
                    continue
            elif ("full", sl, use) not in arrivals:
                continue
        elif kind == "load_raw":
            pend = pending | {("raw", op[1])}
        elif kind == "wait_raw":
            _, rs, ruse = op
            if ("raw_full", rs, ruse) not in arrivals:
                continue
        elif kind == "read_raw":
            _, rs, g = op
            if c[("raw", rs)] != g:
                raise Violation(f"{actor} reads raw slot {rs} = {c[('raw', rs)]}, expected box {g}")
        elif kind == "widen":  # this warp's rows of the box, zeros past the sequence end
            _, sl, i, b = op
            check_write(opens, ("slot", sl), actor, f"widened block {i} box {b}")
            old = c[("slot", sl)]
            ws = old[3] if old is not None and len(old) == 4 and old[:2] == (i, b) else frozenset()
            ws = ws | {actor}
            # complete (and zero past the end: every reader's zeroing requirement met) once every widener wrote
            c[("slot", sl)] = (i, b, frozenset(READERS_OF_BLOCK[i]), ws) if ws == frozenset(WIDENERS) else (i, b, None, ws)
        elif kind == "arrive_full":
            _, sl, use = op
            arr = arrivals | {("full", sl, use, actor)}
        elif kind == "open":
            _, name, reads = op
            for (cname, idx, want) in reads:
                cell = (cname, idx)
                if not holds(cells[cell], cell, want):
                    raise Violation(f"{actor}'s {name} reads {cell} = {cells[cell]}, expected {want}")
                opn = opn | {(actor, name, cell, want)}
        elif kind == "close":
            opn = frozenset(x for x in opens if not (x[0] == actor and x[1] == op[1]))
        elif kind == "arrive_empty":
            _, sl, use = op
            arr = arrivals | {("empty", sl, use, actor)}
        elif kind == "bar":
            _, bid, key = op
            tag = ("bar", bid, key)
            if tag + (actor,) not in arrivals:  # arrive, then wait at the same op
                out.append((pcs, cells_t, pending, arrivals | {tag + (actor,)}, opens))
                continue
            if not all(tag + (m,) in arrivals for m in BAR_MEMBERS[bid]):
                continue
        elif kind == "zero":  # this warp's share of the stale V rows of block i (its V slots)
            _, i = op
            for t in range(V_BOXES):
                sl, _ = slot_of(i, t)
                check_write(opens, ("slot", sl), actor, f"zeroed rows of block {i}")
                v = c[("slot", sl)]
                if v is None or v[:2] != (i, t):
                    raise Violation(f"{actor} zeroes slot {sl} = {v}, expected block {i} box {t}")
                c[("slot", sl)] = (v[0], v[1], v[2] | {actor})
        elif kind == "write":  # this warp's part of a shared value
            _, cell, what = op
            check_write(opens, cell, actor, what)
            old = c[cell]
            parts = old[-1] if old is not None and old[:-1] == what else frozenset()
            c[cell] = what + (parts | {actor},)
        elif kind == "write_q":
            check_write(opens, ("Q", None), actor, f"Q of split {op[1]}")
            old = c[("Q", None)]
            parts = old[-1] if old is not None and old[:-1] == ("Q", op[1]) else frozenset()
            c[("Q", None)] = ("Q", op[1], parts | {actor})
        elif kind == "read_all":  # a plain load of every part the writers wrote
            _, cell, what, writers = op
            if c[cell] != what + (frozenset(writers),):
                raise Violation(f"{actor} reads {cell} = {c[cell]}, expected {what} from {writers}")
        else:
            raise AssertionError(op)
        out.append((npcs, tuple(sorted(c.items(), key=str)), pend, arr, opn))
    return out


if __name__ == "__main__":
    if "--selftest" in sys.argv:
        bad = selftest("etap protocol model", __file__, MUTATIONS)
        bad |= selftest("etap protocol model --fp8", __file__, FP8_MUTATIONS, ["--fp8"])
        sys.exit(bad)
    sys.exit(explore("etap protocol model",
                     f"shipped{' fp8' if FP8 else ''}{', mutation ' + MUTATE if MUTATE else ''}", initial(), successors,
                     ACTORS, PROGS))

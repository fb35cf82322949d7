"""The search and the self-test the kernels' protocol models share (kernels-cuda/sm90/test/relay_protocol_model.py,
kernels-cuda/sm90_etap/test/etap_protocol_model.py): a model supplies its initial state, a successor function that
raises Violation on a broken check, and the actors' programs; explore() visits every reachable state breadth first."""
import subprocess
import sys
from collections import deque


class Violation(Exception):
    pass


def check_write(opens, cell, writer, what):
    """A write to cell by writer: no other actor may have a read of it open (opens: (actor, name, cell, want))."""
    for (actor, name, c, want) in opens:
        if c == cell and actor != writer:
            raise Violation(f"{writer} writes {cell} ({what}) while {actor}'s {name} still reads it for {want}")


def explore(name, label, start, successors, actors, progs):
    """0 when no reachable state deadlocks or breaks a check, else 1; prints one line either way. A state's first
    element is the actors' program counters."""
    seen, queue = {start}, deque([start])
    try:
        while queue:
            s = queue.popleft()
            nxt = successors(s)
            if not nxt and any(s[0][i] < len(progs[a]) for i, a in enumerate(actors)):
                where = {a: progs[a][s[0][i]] for i, a in enumerate(actors) if s[0][i] < len(progs[a])}
                raise Violation(f"deadlock: {where}")
            for t in nxt:
                if t not in seen:
                    seen.add(t)
                    queue.append(t)
    except Violation as v:
        print(f"{name} ({label}): VIOLATION after {len(seen)} states: {v}")
        return 1
    print(f"{name} ({label}): OK, {len(seen)} reachable states, no deadlock, no race, no stale read")
    return 0


def selftest(name, script, mutations, extra=()):
    """The protocol as built must pass and each mutation must be caught (a fresh process per run, with extra args)."""
    bad = 0
    for m in (None,) + tuple(mutations):
        args = [sys.executable, script] + list(extra) + (["--mutate", m] if m else [])
        r = subprocess.run(args, capture_output=True, text=True)
        print((r.stdout or r.stderr).strip())
        if (r.returncode == 0) != (m is None):
            print(f"{name}: {m or 'as built'} should have {'passed' if m is None else 'failed'}")
            bad = 1
    return bad

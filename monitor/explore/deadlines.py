"""``within`` windows checked on the state graph, under a logical clock.

The spec has no clock, so time is logical: every step takes ``step_time`` (unknown,
so 0, by default). A window's deadline is **breached for certain** when, from a state
where the window is open, even the fastest continuation cannot close it in time:

- ``never``: no sequence of actions (hidden ones included) reaches a state where the
  window is closed; a terminal or deadlocked state with the window open is the
  simplest case. Holds for any step time.
- ``too slow`` (only with ``step_time``): the window opens on an edge into a state
  from which the fewest steps to close it, times ``step_time``, exceed the duration.
  An ``end`` exactly at the deadline is in time, as in the monitor.

This asks whether the system *can* meet the deadline, not whether it *must*: a spec
where some action can repeat forever would otherwise breach every window.

Closing a window only by breaking an invariant does not count as closing it. States
where a bound cut the search, or where the spec's code raised, count as closing at
once, so a bounded search never raises a false alarm.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

from monitor.explore.graph import BROKEN, CUT, ENABLED, ERROR, TERMINAL, Edge, StateGraph

__all__ = ["Breach", "window_breaches"]

UNREACHABLE = -1


@dataclass(frozen=True, slots=True)
class Breach:
    window: int  # index into model.withins
    path: list[Edge]  # from the initial state to where the deadline is lost
    message: str


def window_breaches(g: StateGraph, step_time: float | None = None) -> list[Breach]:
    """At most one breach per ``within``: ``never`` if there is one, else ``too slow``;
    each at the end of a shortest path (BFS order)."""
    if not g.windows:
        return []
    preds, start = _reverse(g)
    out = []
    for w, info in enumerate(g.model.withins):
        dist = _steps_to_close(g, w, preds, start)
        sid = _first_trapped(g, w, dist)
        if sid is not None:
            out.append(Breach(w, g.path_to(sid), _never_message(g, sid, w)))
            continue
        if step_time:
            limit = int(info.seconds / step_time + 1e-9)  # steps that fit in the window
            slow = _first_slow_opening(g, w, dist, limit)
            if slow is not None:
                path, need = slow
                out.append(Breach(w, path, _slow_message(g, w, len(path), need, step_time)))
    return out


def _open(g: StateGraph, sid: int, w: int) -> bool:
    fl = g.windows.get(sid)
    return bool(fl and fl[w])


def _steps_to_close(g: StateGraph, w: int, preds: array, start: array) -> array:  # type: ignore[type-arg]
    """Fewest steps from each state to one where window ``w`` is closed (or unknown):
    breadth-first backwards from those states."""
    n = len(g.states)
    flags = g.flags
    dist = array("i", [UNREACHABLE]) * n
    queue = []
    for sid in range(n):
        f = flags[sid]
        if (not _open(g, sid, w) and not f & BROKEN) or f & (CUT | ERROR):
            dist[sid] = 0
            queue.append(sid)
    head = 0
    while head < len(queue):
        q = queue[head]
        head += 1
        dq = dist[q] + 1
        for i in range(start[q], start[q + 1]):
            p = preds[i]
            if dist[p] == UNREACHABLE:
                dist[p] = dq
                queue.append(p)
    return dist


def _first_trapped(g: StateGraph, w: int, dist: array) -> int | None:  # type: ignore[type-arg]
    """The first state (so one of the closest) where the window is open and can never
    close."""
    for sid, fl in g.windows.items():  # insertion order is id order
        if fl[w] and not g.flags[sid] & (BROKEN | ERROR) and dist[sid] == UNREACHABLE:
            return sid
    return None


def _first_slow_opening(g: StateGraph, w: int, dist: array,  # type: ignore[type-arg]
                        limit: int) -> tuple[list[Edge], int] | None:
    """The shortest path that ends by opening the window in a state from which closing
    it takes more than ``limit`` steps: (path, steps needed)."""
    if _open(g, 0, w):
        return ([], dist[0]) if dist[0] > limit else None
    edges = g.edges
    for sid in range(len(edges.start)):  # id order is depth order: the first is shortest
        if _open(g, sid, w):
            continue
        for i in edges.out(sid):
            t = edges.dst[i]
            if dist[t] > limit and _open(g, t, w) and not g.flags[t] & (BROKEN | ERROR):
                edge = edges[i]
                return [*g.path_to(sid), edge], dist[t]
    return None


def _reverse(g: StateGraph) -> tuple[array, array]:  # type: ignore[type-arg]
    """Predecessors of every state as one int array in CSR form: preds of state q are
    ``preds[start[q]:start[q + 1]]``."""
    n = len(g.states)
    edges = g.edges
    dst = edges.dst
    start = array("i", bytes(4 * (n + 1)))
    for d in dst:
        start[d + 1] += 1
    for i in range(n):
        start[i + 1] += start[i]
    fill = array("i", start)
    preds = array("i", bytes(4 * len(dst)))
    for sid in range(len(edges.start)):
        for i in edges.out(sid):
            d = dst[i]
            preds[fill[d]] = sid
            fill[d] += 1
    return preds, start


def fmt_duration(seconds: float) -> str:
    # imported here: the engine package costs ~50 ms to import, and `import monitor`
    # (which exports explore) should not pay it unless a deadline is reported
    from monitor.engine.reports import fmt_duration as fmt

    return fmt(seconds)


def _never_message(g: StateGraph, sid: int, w: int) -> str:
    info = g.model.withins[w]
    path = g.path_to(sid)
    opened = len(path)  # the step after which the window opened and stayed open
    while opened > 0 and _open(g, path[opened - 1].src, w):
        opened -= 1
    when = "in the initial state" if opened == 0 else f"at step {opened}"
    flags = g.flags[sid]
    if flags & TERMINAL:
        how = "the instance can end (terminal) with it open"
    elif not flags & ENABLED:
        how = "no action is enabled from here"
    else:
        how = "no sequence of actions from here closes it"
    return (f"window {info.name} (within {fmt_duration(info.seconds)}) opened {when}; "
            f"{how}, so the deadline can never be met")


def _slow_message(g: StateGraph, w: int, opened: int, need: int, step_time: float) -> str:
    info = g.model.withins[w]
    when = "in the initial state" if opened == 0 else f"at step {opened}"
    return (f"window {info.name} (within {fmt_duration(info.seconds)}) opened {when}; "
            f"closing it takes at least {need} more steps, {fmt_duration(need * step_time)} "
            f"at {fmt_duration(step_time)} a step, so the deadline cannot be met")

"""Checking a spec on its own: invariant violations, deadlocks and unmeetable ``within``
deadlines, each with the shortest counterexample, over the reachable state graph.

- **invariant**: a reachable state breaks an invariant. States get their ids in BFS
  order, so the first breaking state by id has a shortest path; one finding per
  invariant.
- **deadlock**: a reachable state that is not terminal, breaks no invariant, and in
  which no action (observed or hidden, over its domains) is enabled. Whether that is
  wrong is ``deadlocks``: True / False, or None (the default) = wrong exactly when the
  spec defines ``terminal()`` (a spec that says when it is finished says that every
  other dead end is a bug; one without ``terminal()`` usually just stops).
- **deadline** (``within`` under a logical clock): the model has no time, so a step
  takes an unknown amount of it. A deadline is *certainly* breached when a window is
  open in a reachable state from which no sequence of actions reaches a state where
  it is closed: however fast the system is, ``end`` never holds. That covers a
  terminal or deadlocked state with the window open. States where a bound cut the
  search or the spec's code raised count as "may close" (never a false alarm).
- **spec_error**: the spec's own code raised (not a ``require``): reported apart.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import Any

from monitor.errors import ConfigError
from monitor.explore.graph import (
    BROKEN,
    CUT,
    ENABLED,
    ERROR,
    TERMINAL,
    Edge,
    StateGraph,
    explore_graph,
)
from monitor.explore.result import CheckResult, Finding, Step, result_name, sort_findings
from monitor.spec.model import SpecModel, model_of

__all__ = ["check_graph", "explore"]

State = tuple[Any, ...]

MAX_REPORTED_BUGS = 10  # distinct spec bugs with a counterexample each; the rest are counted


def explore(
    spec: Any,
    *,
    max_states: int = 1_000_000,
    max_depth: int | None = None,
    random: int | None = None,
    seed: int = 0,
    deadlocks: bool | None = None,
    progress: Callable[[int, int, int], None] | None = None,
) -> CheckResult:
    """Explore a spec class (or its ``SpecModel``) and check it.

    Breadth-first and exhaustive within ``max_states``/``max_depth`` (``complete`` says
    whether a bound cut it), or ``random`` seeded walks of at most ``max_depth`` steps
    (default 100). ``progress(states, depth, edges)`` is called now and then (for
    random walks: distinct states, walks done, steps).
    """
    model = spec_model(spec)
    if max_states < 1:
        raise ConfigError(f"max_states must be >= 1, got {max_states}")
    if max_depth is not None and max_depth < 0:
        raise ConfigError(f"max_depth must be >= 0, got {max_depth}")
    if random is not None:
        if random < 1:
            raise ConfigError(f"random (the number of walks) must be >= 1, got {random}")
        from monitor.explore.walk import random_walks

        return random_walks(model, walks=random, seed=seed, max_depth=max_depth,
                            max_states=max_states, deadlocks=deadlocks, progress=progress)
    graph = explore_graph(model, max_states=max_states, max_depth=max_depth,
                          progress=progress, rejections=False)
    return check_graph(graph, deadlocks=deadlocks, max_states=max_states, max_depth=max_depth)


def check_graph(g: StateGraph, *, deadlocks: bool | None = None,
                max_states: int = 1_000_000, max_depth: int | None = None) -> CheckResult:
    """Findings over an explored graph, each with its shortest counterexample."""
    model = g.model
    # an action without a domain might be enabled anywhere: no state can be called
    # stuck, no window unmeetable (invariant findings stay sound: their paths are real)
    sound = not g.unexplored
    check_deadlocks = sound and (model.has_terminal if deadlocks is None else deadlocks)
    found: list[Finding] = []
    seen_inv: set[str] = set()
    for sid, names in g.broken.items():  # insertion order is id order: shortest first
        for name in names:
            if name not in seen_inv:
                seen_inv.add(name)
                found.append(_finding(g, sid, "invariant", name,
                                      f"invariant {name} does not hold"))
    if check_deadlocks:
        sid = first_deadlock(g)
        if sid is not None:
            found.append(_finding(g, sid, "deadlock", "deadlock",
                                  "no action is enabled in a state that is not terminal"
                                  + _why_stuck(model, g.states[sid])))
    for w, sid in (unmeetable_windows(g) if sound else {}).items():
        found.append(_finding(g, sid, "deadline", model.withins[w].name,
                              _deadline_message(g, sid, w)))
    bugs = [_finding(g, sid, "spec_error", "spec_error", msg)
            for msg, sid in list(g.error_state.items())[:MAX_REPORTED_BUGS]]
    findings = sort_findings(found)
    return CheckResult(
        spec=model.name, mode="bfs", result=result_name(findings, bugs, g.complete),
        complete=g.complete, states=len(g.states), edges=len(g.edges),
        depth=g.depth[-1] if len(g.depth) else 0, findings=findings, spec_errors=bugs,
        unexplored=list(g.unexplored), deadlocks_checked=check_deadlocks,
        deadlines_checked=sound and bool(model.withins),
        max_states=max_states, max_depth=max_depth,
    )


def first_deadlock(g: StateGraph) -> int | None:
    """The first (so shortest-path) state with no enabled action that is not terminal,
    broken, cut or erroneous."""
    skip = TERMINAL | BROKEN | ERROR | ENABLED | CUT
    for sid, f in enumerate(g.flags):
        if not f & skip:
            return sid
    return None


def unmeetable_windows(g: StateGraph) -> dict[int, int]:
    """Per ``within`` index: the first reachable state where the window is open and no
    path leads to a state where it is closed (or to one the search did not finish)."""
    if not g.windows:
        return {}
    n = len(g.states)
    flags = g.flags
    preds, start = _reverse(g)
    out: dict[int, int] = {}
    for w in range(len(g.model.withins)):
        opened = [sid for sid, fl in g.windows.items()
                  if fl[w] and not flags[sid] & (BROKEN | ERROR)]
        if not opened:
            continue
        can = bytearray(n)  # 1: some path from here reaches a closed (or unknown) state
        queue = []
        for sid in range(n):
            f = flags[sid]
            fl = g.windows.get(sid)
            if ((fl is None or not fl[w]) and not f & BROKEN) or f & (CUT | ERROR):
                can[sid] = 1
                queue.append(sid)
        while queue:
            q = queue.pop()
            for i in range(start[q], start[q + 1]):
                p = preds[i]
                if not can[p]:
                    can[p] = 1
                    queue.append(p)
        stuck = [sid for sid in opened if not can[sid]]
        if stuck:
            out[w] = min(stuck)
    return out


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


def _deadline_message(g: StateGraph, sid: int, w: int) -> str:
    info = g.model.withins[w]
    path = g.path_to(sid)
    opened = len(path)  # the step after which the window opened and stayed open
    while opened > 0 and _open_at(g, path[opened - 1].src, w):
        opened -= 1
    when = "in the initial state" if opened == 0 else f"at step {opened}"
    flags = g.flags[sid]
    if flags & TERMINAL:
        how = "the instance can end (terminal) with it open"
    elif not flags & ENABLED:
        how = "no action is enabled from here"
    else:
        how = "no sequence of actions from here closes it"
    return (f"window {info.name} (within {info.seconds:g}s) opened {when}; {how}, "
            "so the deadline can never be met")


def _open_at(g: StateGraph, sid: int, w: int) -> bool:
    fl = g.windows.get(sid)
    return bool(fl and fl[w])


def _why_stuck(model: SpecModel, state: State) -> str:
    """The first failed ``require`` of each action in a stuck state, for the message."""
    reasons = []
    for act in model.actions.values():
        if act.domains is None:
            continue
        for args in act.arg_tuples():
            rejects = model.step(state, act, args).rejects
            if rejects:
                reasons.append(f"{act.name}: {rejects[0]}")
                break
    return f" ({'; '.join(reasons)})" if reasons else ""


def _finding(g: StateGraph, sid: int, kind: str, prop: str, message: str) -> Finding:
    return Finding(kind=kind, property=prop, message=message,
                   initial=g.as_dict(0), steps=steps_of(g.model, g.path_to(sid), g.states),
                   shortest=True)


def steps_of(model: SpecModel, path: list[Edge], states: list[State]) -> list[Step]:
    out = []
    for n, e in enumerate(path, 1):
        params = model.actions[e.action].params
        out.append(Step(n=n, action=e.action, args=dict(zip(params, e.args)), hidden=e.hidden,
                        state=model.as_dict(states[e.dst])))
    return out


def spec_model(spec: Any) -> SpecModel:
    return spec if isinstance(spec, SpecModel) else model_of(spec)

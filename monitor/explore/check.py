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
- **deadline** (``within`` under a logical clock, see ``deadlines.py``): a window
  open in a reachable state from which no sequence of actions closes it (however fast
  the system is, ``end`` never holds), or, given ``step_time``, one that even the
  fastest continuation cannot close within the duration.
- **spec_error**: the spec's own code raised (not a ``require``): reported apart.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from monitor.errors import ConfigError
from monitor.explore.deadlines import window_breaches
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
    step_time: float | None = None,
    progress: Callable[[int, int, int], None] | None = None,
) -> CheckResult:
    """Explore a spec class (or its ``SpecModel``) and check it.

    Breadth-first and exhaustive within ``max_states``/``max_depth`` (``complete`` says
    whether a bound cut it), or ``random`` seeded walks of at most ``max_depth`` steps
    (default 100). ``step_time`` (seconds a step takes on the logical clock) also
    reports windows that even the fastest continuation cannot close in time (see
    ``deadlines.py``; exhaustive search only). ``progress(states, depth, edges)`` is
    called now and then (for random walks: distinct states, walks done, steps).
    """
    model = spec_model(spec)
    if max_states < 1:
        raise ConfigError(f"max_states must be >= 1, got {max_states}")
    if max_depth is not None and max_depth < 0:
        raise ConfigError(f"max_depth must be >= 0, got {max_depth}")
    if step_time is not None and not step_time > 0:
        raise ConfigError(f"step_time must be a positive number of seconds, got {step_time}")
    if random is not None:
        if step_time is not None:
            raise ConfigError("step_time needs the exhaustive search: a random walk cannot "
                              "tell whether some other path closes a window in time")
        if random < 1:
            raise ConfigError(f"random (the number of walks) must be >= 1, got {random}")
        from monitor.explore.walk import random_walks

        return random_walks(model, walks=random, seed=seed, max_depth=max_depth,
                            max_states=max_states, deadlocks=deadlocks, progress=progress)
    graph = explore_graph(model, max_states=max_states, max_depth=max_depth,
                          progress=progress, rejections=False)
    return check_graph(graph, deadlocks=deadlocks, step_time=step_time, max_states=max_states,
                       max_depth=max_depth)


def check_graph(g: StateGraph, *, deadlocks: bool | None = None,
                step_time: float | None = None, max_states: int = 1_000_000,
                max_depth: int | None = None) -> CheckResult:
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
    for breach in window_breaches(g, step_time) if sound else []:
        found.append(_path_finding(g, breach.path, "deadline",
                                   model.withins[breach.window].name, breach.message))
    bugs = [_finding(g, sid, "spec_error", "spec_error", msg)
            for msg, sid in list(g.error_state.items())[:MAX_REPORTED_BUGS]]
    findings = sort_findings(found)
    return CheckResult(
        spec=model.name, mode="bfs", result=result_name(findings, bugs, g.complete),
        complete=g.complete, states=len(g.states), edges=len(g.edges),
        depth=g.depth[-1] if len(g.depth) else 0, findings=findings, spec_errors=bugs,
        unexplored=list(g.unexplored), deadlocks_checked=check_deadlocks,
        deadlines_checked=sound and bool(model.withins),
        max_states=max_states, max_depth=max_depth, step_time=step_time,
    )


def first_deadlock(g: StateGraph) -> int | None:
    """The first (so shortest-path) state with no enabled action that is not terminal,
    broken, cut or erroneous."""
    skip = TERMINAL | BROKEN | ERROR | ENABLED | CUT
    for sid, f in enumerate(g.flags):
        if not f & skip:
            return sid
    return None


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
    return _path_finding(g, g.path_to(sid), kind, prop, message)


def _path_finding(g: StateGraph, path: list[Edge], kind: str, prop: str,
                  message: str) -> Finding:
    return Finding(kind=kind, property=prop, message=message, initial=g.as_dict(0),
                   steps=steps_of(g.model, path, g.states), shortest=True)


def steps_of(model: SpecModel, path: list[Edge], states: list[State]) -> list[Step]:
    out = []
    for n, e in enumerate(path, 1):
        params = model.actions[e.action].params
        out.append(Step(n=n, action=e.action, args=dict(zip(params, e.args)), hidden=e.hidden,
                        state=model.as_dict(states[e.dst])))
    return out


def spec_model(spec: Any) -> SpecModel:
    return spec if isinstance(spec, SpecModel) else model_of(spec)

"""Test scenarios from the reachable state graph: sequences of actions with the verdict
the monitor must give at each step.

- **Positive** scenarios cover every edge of the graph (state, action, args, successor)
  at least once. Greedy: from the current state, walk a shortest path to the nearest
  edge not yet covered and take it; when none is reachable (a terminal or
  invariant-breaking state) or the scenario reached ``max_steps``, start the next one
  from the initial state, by the BFS tree's path to the shallowest edge not yet
  covered. An edge into a state that breaks an invariant ends its scenario with an
  ``invariant`` step. ``max_total_steps`` bounds all positive steps together.
- **Negative** scenarios, one per distinct ``require`` message the search met (and one
  per invariant that some reachable step breaks): a shortest path to the shallowest
  state where exactly that guard rejects an action, then that action.

Each step's expectation follows the monitor's semantics (DESIGN.md), computed here on
the spec directly and independently of the engine: the candidate *set* of states is
stepped (after up to ``hidden_steps`` hidden steps, keeping invariants), so a step is
``ok`` when some candidate allows it and a successor keeps every invariant,
``invariant`` when successors exist but all break one (``property`` is the first
broken), ``unexpected`` when none allows it (``messages``: the failed ``require``
reasons). Hidden steps are listed with ``expect: "hidden"``: they are never observed, so
they produce no telemetry and the monitor infers them. A negative scenario whose target
the set semantics would not reject (another candidate state allows the step) is not
emitted; ``Generated.unreachable`` names such targets.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import msgspec

from monitor.explore.graph import Edge, StateGraph
from monitor.spec.model import SpecModel

__all__ = ["Generated", "Scenario", "ScenarioStep", "generate_scenarios", "expected_verdicts"]

State = tuple[Any, ...]

#: seconds between the starts of consecutive scenarios' event times (one hour: longer
#: than any scenario, shorter than the usual deadline, so none fires in between)
SCENARIO_GAP = 3600
#: states a search for the next uncovered transition looks at before giving up (and
#: starting a new scenario): bounds the cost per scenario on large graphs
BFS_LIMIT = 10_000


class ScenarioStep(msgspec.Struct, frozen=True, kw_only=True):
    action: str
    args: dict[str, Any]
    #: ok | unexpected | invariant | hidden (never observed: no telemetry)
    expect: str
    hidden: bool = False
    #: the broken invariant (invariant), or the action (unexpected)
    property: str | None = None
    #: the failed require reasons (unexpected)
    messages: list[str] = []
    #: the spec state after the step along the scenario's path (before it, if rejected)
    state: dict[str, Any] = {}
    #: event time of its telemetry, in seconds after the generator's base time
    #: (scenario n starts at n * 3600 + 1; steps are one second apart)
    time: float = 0.0


class Scenario(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    kind: str  # positive | negative
    spec: str
    key: str  # the instance key its telemetry uses
    steps: list[ScenarioStep]
    #: negative scenarios: the guard message or invariant name aimed at
    target: str | None = None
    #: graph edges this scenario covers that no earlier scenario did
    new_edges: int = 0


class Generated(msgspec.Struct, frozen=True, kw_only=True):
    scenarios: list[Scenario]
    edges: int  # edges in the graph
    covered: int  # edges covered by the positive scenarios
    states: int
    complete: bool  # the graph was explored completely (no bound cut it)
    guards: list[str]  # distinct require messages met
    unreachable: list[str]  # negative targets no scenario could show
    budget_hit: bool = False  # max_total_steps stopped the positive scenarios early


Path = list[tuple[str, tuple[Any, ...], bool]]  # (action, args, hidden)


def generate_scenarios(graph: StateGraph, *, hidden_steps: int = 2, max_steps: int = 40,
                       max_total_steps: int = 100_000) -> Generated:
    """Scenarios for ``graph`` (see the module docstring). ``max_total_steps`` bounds
    the positive scenarios' steps all together: covering every transition of a long
    chain from the initial state costs the square of its length, so past the bound the
    rest stays uncovered (``covered`` < ``edges``) rather than the output exploding."""
    model = graph.model
    edges: list[Edge] = list(graph.edges)
    out: dict[int, list[int]] = {}
    for i, e in enumerate(edges):
        out.setdefault(e.src, []).append(i)
    # scenarios start with the shallowest transition not yet covered, reached along the
    # BFS tree: no search from the initial state per scenario
    order = sorted(range(len(edges)), key=lambda i: graph.depth[edges[i].src])
    covered = bytearray(len(edges))
    left = len(edges)
    total = pos = 0
    scenarios: list[Scenario] = []
    while left and total < max_total_steps:
        while pos < len(order) and covered[order[pos]]:
            pos += 1
        if pos == len(order):
            break  # the rest cannot be reached within the monitor's hidden-step bound
        first = order[pos]
        walk = [*_tree_path(graph, edges, edges[first].src), first]
        run = _hidden_run([edges[i] for i in walk], hidden_steps)
        if run is None:
            # the shortest path there has more hidden steps in a row than the monitor
            # infers before an observed one: no positive scenario shows this edge
            pos += 1
            continue
        fresh = _cover(walk, covered)
        at = edges[first].dst
        while left - fresh and len(walk) < max_steps and run <= hidden_steps:
            found = _to_uncovered(at, run, hidden_steps, out, edges, covered,
                                  max_steps - len(walk))
            if found is None:
                break
            route, run = found
            fresh += _cover(route, covered)
            walk.extend(route)
            at = edges[route[-1]].dst
        left -= fresh
        total += len(walk)
        steps = _steps(graph, [edges[i] for i in walk], hidden_steps)
        sid = f"positive-{len(scenarios) + 1}"
        scenarios.append(Scenario(id=sid, kind="positive", spec=model.name, key=sid,
                                  steps=steps, new_edges=fresh))
    negatives, guards, unreachable = _negatives(graph, edges, hidden_steps)
    return Generated(scenarios=_stamped(scenarios + negatives), edges=len(edges),
                     covered=len(edges) - left, states=len(graph.states),
                     complete=graph.complete, guards=guards, unreachable=unreachable,
                     budget_hit=bool(left))


def _cover(route: list[int], covered: bytearray) -> int:
    """Mark the route's edges covered; how many were not yet."""
    fresh = 0
    for i in route:
        if not covered[i]:
            covered[i] = 1
            fresh += 1
    return fresh


def _tree_path(graph: StateGraph, edges: list[Edge], state: int) -> list[int]:
    """Edge indices of the BFS tree's (shortest) path from the initial state."""
    path = []
    p = graph.parent[state]
    while p is not None:
        path.append(p)
        p = graph.parent[edges[p].src]
    path.reverse()
    return path


def _stamped(scenarios: list[Scenario]) -> list[Scenario]:
    """Step times: scenario n's steps at n * ``SCENARIO_GAP`` + 1, + 2, ... seconds, so
    that the telemetry of all scenarios in one file is in event-time order."""
    out = []
    for n, s in enumerate(scenarios):
        steps = [msgspec.structs.replace(st, time=float(n * SCENARIO_GAP + j + 1))
                 for j, st in enumerate(s.steps)]
        out.append(msgspec.structs.replace(s, steps=steps))
    return out


def _hidden_run(walk: list[Edge], limit: int) -> int | None:
    """Hidden steps at the walk's end, or None if some observed step comes after more
    than ``limit`` hidden steps in a row (the monitor would not infer them)."""
    run = 0
    for e in walk:
        if e.hidden:
            run += 1
        elif run > limit:
            return None
        else:
            run = 0
    return run


def _to_uncovered(start: int, run0: int, limit: int, out: dict[int, list[int]],
                  edges: list[Edge], covered: bytearray, radius: int
                  ) -> tuple[list[int], int] | None:
    """(edge indices, hidden steps at its end) of a shortest walk of at most ``radius``
    steps from ``start`` ending in an uncovered edge (at most ``BFS_LIMIT`` states looked
    at). ``run0`` hidden steps precede ``start``; an observed step may follow at most
    ``limit`` hidden ones (the monitor's ``hidden_steps``), so the search is over
    (state, hidden run) pairs; a longer hidden run may only end the scenario."""
    origin = (start, run0)
    came: dict[tuple[int, int], tuple[int, tuple[int, int]] | None] = {origin: None}
    dist = {origin: 0}
    queue = deque([origin])
    while queue and len(came) < BFS_LIMIT:
        node = queue.popleft()
        s, run = node
        if dist[node] >= radius:
            continue
        nexts = []
        for i in out.get(s, ()):
            e = edges[i]
            nrun = run + 1 if e.hidden else 0
            if not e.hidden and run > limit:
                continue
            if not covered[i]:
                route = [i]
                back = came[node]
                while back is not None:
                    route.append(back[0])
                    back = came[back[1]]
                route.reverse()
                return route, nrun
            if nrun <= limit:
                nexts.append(((e.dst, nrun), i))
        for key, i in nexts:
            if key not in came:
                came[key] = (i, node)
                dist[key] = dist[node] + 1
                queue.append(key)
    return None


def _steps(graph: StateGraph, walk: list[Edge], hidden_steps: int,
           last: tuple[str, tuple[Any, ...]] | None = None) -> list[ScenarioStep]:
    """Steps for the walk (plus an optional final rejected ``last`` step), with the
    expectations of ``expected_verdicts``."""
    model = graph.model
    path: Path = [(e.action, e.args, e.hidden) for e in walk]
    if last is not None:
        path.append((last[0], last[1], False))
    verdicts = expected_verdicts(model, path, hidden_steps=hidden_steps)
    steps = []
    for i, ((name, args, hidden), (expect, prop, messages)) in enumerate(zip(path, verdicts)):
        sid = walk[i].dst if i < len(walk) else (walk[-1].dst if walk else 0)
        steps.append(ScenarioStep(
            action=name, args=dict(zip(model.actions[name].params, args)), expect=expect,
            hidden=hidden, property=prop, messages=list(messages),
            state=graph.as_dict(sid)))
    return steps


def expected_verdicts(model: SpecModel, path: Path, *, hidden_steps: int = 2
                      ) -> list[tuple[str, str | None, tuple[str, ...]]]:
    """(expect, property, messages) per step of ``path`` under the set semantics. Steps
    after a violation are not checked by the monitor (quarantine): ``"after"``."""
    current: dict[State, None] = {model.initial: None}
    out: list[tuple[str, str | None, tuple[str, ...]]] = []
    stopped = False
    for name, args, hidden in path:
        if stopped:
            out.append(("after", None, ()))
            continue
        if hidden:
            out.append(("hidden", None, ()))
            continue
        act = model.actions[name]
        found: dict[State, None] = {}
        rejects: dict[str, None] = {}
        broken: dict[str, None] = {}
        for s in current:
            for pre in _closure(model, s, hidden_steps):
                step = model.step(pre, act, args)
                rejects.update(dict.fromkeys(step.rejects))
                for nxt in step.successors:
                    bad = model.violated_invariants(nxt)
                    if bad:
                        broken.update(dict.fromkeys(bad))
                    else:
                        found[nxt] = None
        if found:
            out.append(("ok", None, ()))
            current = found
        elif broken:
            out.append(("invariant", next(iter(broken)), ()))
            stopped = True
        else:
            out.append(("unexpected", name, tuple(rejects)))
            stopped = True
    return out


def _closure(model: SpecModel, state: State, k: int) -> list[State]:
    if not model.hidden or not k:
        return [state]
    seen = {state: None}
    frontier = [state]
    for _ in range(k):
        nxt_frontier = []
        for s in frontier:
            for _act, _args, nxt in model.hidden_moves(s):
                if nxt not in seen and not model.violated_invariants(nxt):
                    seen[nxt] = None
                    nxt_frontier.append(nxt)
        frontier = nxt_frontier
    return list(seen)


def _negatives(graph: StateGraph, edges: list[Edge], hidden_steps: int
               ) -> tuple[list[Scenario], list[str], list[str]]:
    """One scenario per distinct guard message, and per invariant some step breaks."""
    model = graph.model
    by_message: dict[str, list[Any]] = {}
    for r in graph.rejections:
        if model.actions[r.action].hidden:
            continue  # never observed: the monitor cannot be shown it
        for m in dict.fromkeys(r.messages):
            by_message.setdefault(m, []).append(r)
    by_invariant: dict[str, list[Edge]] = {}
    for e in edges:
        for name in graph.broken.get(e.dst, ()):
            if not e.hidden:
                by_invariant.setdefault(name, []).append(e)
    scenarios: list[Scenario] = []
    unreachable: list[str] = []
    for message, rejections in by_message.items():
        # exactly this guard first, then the shallowest state
        rejections.sort(key=lambda r: (len(set(r.messages)) > 1, graph.depth[r.src]))
        for r in rejections[:50]:
            steps = _steps(graph, graph.path_to(r.src), hidden_steps, (r.action, r.args))
            if steps[-1].expect == "unexpected" and message in steps[-1].messages:
                scenarios.append(_negative(model, len(scenarios), steps, message))
                break
        else:
            unreachable.append(message)
    for name, into in by_invariant.items():
        into.sort(key=lambda e: graph.depth[e.src])
        for e in into[:50]:
            steps = _steps(graph, [*graph.path_to(e.src), e], hidden_steps)
            if steps[-1].expect == "invariant" and steps[-1].property == name:
                scenarios.append(_negative(model, len(scenarios), steps, name))
                break
        else:
            unreachable.append(name)
    return scenarios, list(by_message), unreachable


def _negative(model: SpecModel, n: int, steps: list[ScenarioStep], target: str) -> Scenario:
    sid = f"negative-{n + 1}"
    return Scenario(id=sid, kind="negative", spec=model.name, key=sid, steps=steps,
                    target=target)

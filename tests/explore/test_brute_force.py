"""The explorer agrees with a brute-force enumerator of every action sequence, over
small generated specs (``generated.py`` gives each spec a reference semantics written
without the spec machinery)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor import explore
from monitor.explore import explore_graph
from monitor.spec import model_of
from tests.explore.generated import (
    broken,
    designs,
    spec_class,
    stops,
    successors,
    window_open,
)

DEPTH = 4
INITIAL = (0, 0, False)


def every_sequence(design, depth):
    """Each state reached by some action sequence of at most ``depth`` steps, with the
    length of the shortest such sequence (sequences stop at terminal/broken states)."""
    reached = {}

    def go(state, k):
        if reached.get(state, depth + 1) > k:
            reached[state] = k
        if k == depth or stops(design, state):
            return
        for _act, _v, nxt in successors(design, state):
            go(nxt, k + 1)

    go(INITIAL, 0)
    return reached


def deadlocked(design, state):
    return not stops(design, state) and not successors(design, state)


@settings(max_examples=150, deadline=None)
@given(designs())
def test_the_graph_holds_exactly_the_states_some_action_sequence_reaches(design):
    g = explore_graph(model_of(spec_class(design)), max_depth=DEPTH)
    reached = every_sequence(design, DEPTH)
    assert set(g.states) == set(reached)
    assert {s: g.depth[i] for i, s in enumerate(g.states)} == reached


@settings(max_examples=150, deadline=None)
@given(designs())
def test_every_edge_is_a_step_the_reference_allows_and_none_is_missing(design):
    g = explore_graph(model_of(spec_class(design)))
    got = {(g.states[e.src], e.action, e.args, g.states[e.dst]) for e in g.edges}
    want = {(s, name, (v,), nxt) for s in g.states if not stops(design, s)
            for name, v, nxt in successors(design, s)}
    assert got == want


@settings(max_examples=150, deadline=None)
@given(designs())
def test_the_shortest_counterexamples_are_as_short_as_brute_force_finds(design):
    result = explore(spec_class(design), max_depth=DEPTH, deadlocks=True)
    reached = every_sequence(design, DEPTH)
    lengths = {f.kind: len(f.steps) for f in result.findings if f.kind != "deadline"}
    bad = [k for s, k in reached.items() if broken(design, s)]
    stuck = [k for s, k in reached.items() if deadlocked(design, s)]
    assert lengths.get("invariant") == (min(bad) if bad else None)
    assert lengths.get("deadlock") == (min(stuck) if stuck else None)
    for f in result.findings:  # each counterexample replays in the reference
        state = INITIAL
        for step in f.steps:
            options = [n for a, v, n in successors(design, state)
                       if (a, v) == (step.action, step.args["v"])]
            assert tuple(step.state.values()) in options
            state = tuple(step.state.values())


def levels(design):
    """Shortest distance of every reachable state, level by level (no search tree)."""
    dist = {INITIAL: 0}
    frontier = [INITIAL]
    while frontier:
        nxt = []
        for s in frontier:
            if stops(design, s):
                continue
            for _a, _v, t in successors(design, s):
                if t not in dist:
                    dist[t] = dist[s] + 1
                    nxt.append(t)
        frontier = nxt
    return dist


def can_close(design, states):
    """Fixpoint: a state can close the window if it is closed (and keeps the invariant)
    or some successor can."""
    can = {s for s in states if not window_open(design, s) and not broken(design, s)}
    changed = True
    while changed:
        changed = False
        for s in states:
            if s not in can and not stops(design, s) and any(
                    t in can for _a, _v, t in successors(design, s)):
                can.add(s)
                changed = True
    return can


@settings(max_examples=150, deadline=None)
@given(designs())
def test_a_window_breach_is_reported_exactly_when_some_open_state_cannot_close(design):
    result = explore(spec_class(design))
    assert result.complete
    dist = levels(design)
    can = can_close(design, dist)
    trapped = [d for s, d in dist.items()
               if window_open(design, s) and not broken(design, s) and s not in can]
    found = [f for f in result.findings if f.kind == "deadline"]
    assert [len(f.steps) for f in found] == ([min(trapped)] if trapped else [])
    assert result.states == len(dist)


def steps_to_close(design, states):
    """Fewest steps to a closed (non-broken) state, by relaxing until nothing changes."""
    inf = float("inf")
    dist = {s: 0 if not window_open(design, s) and not broken(design, s) else inf
            for s in states}
    changed = True
    while changed:
        changed = False
        for s in states:
            if stops(design, s):
                continue
            best = min([dist[t] + 1 for _a, _v, t in successors(design, s)], default=inf)
            if best < dist[s]:
                dist[s] = best
                changed = True
    return dist


@settings(max_examples=150, deadline=None)
@given(designs(), st.integers(0, 4))
def test_with_a_step_time_the_breach_is_the_shortest_opening_the_fastest_path_cannot_close(
        design, steps_allowed):
    dist = levels(design)
    to_close = steps_to_close(design, dist)
    result = explore(spec_class(design), step_time=60 / steps_allowed if steps_allowed else 61)
    limit = steps_allowed
    never = [d for s, d in dist.items()
             if window_open(design, s) and not broken(design, s) and to_close[s] == float("inf")]
    openings = []  # lengths of the paths that end by opening the window too far from closing
    if window_open(design, INITIAL):
        openings += [0] if to_close[INITIAL] > limit else []
    else:
        for s, d in dist.items():
            if window_open(design, s) or stops(design, s):
                continue
            openings += [d + 1 for _a, _v, t in successors(design, s)
                         if window_open(design, t) and not broken(design, t)
                         and limit < to_close[t] < float("inf")]
    found = [len(f.steps) for f in result.findings if f.kind == "deadline"]
    want = [min(never)] if never else [min(openings)] if openings else []
    assert found == want

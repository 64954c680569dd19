"""A naive reference checker for the engine, written for obviousness, not speed.

It reads DESIGN.md / docs/semantics.md literally: no memo tables, no reorder buffer,
no timers heap, no interning. Candidate sets are plain lists, successors come from
calling the spec through ``SpecModel.step`` / ``violated_invariants`` /
``window_flags`` / ``is_terminal`` on every state every time, and deadlines are found
by scanning every open window before every event.

Assumptions (the property tests generate only such traces and configs):

- every event is in time: after dropping re-deliveries, applying the events in
  (event time, arrival index) order is what the engine does, so nothing is late and
  ``allowed_lateness`` does not matter;
- a re-delivered event has the id of the first delivery and arrives within
  ``dedup_window`` of it (every repeat of an id is a duplicate); events without an id
  are never duplicates;
- no bound is reached: ``max_states``, ``max_instances``, ``max_finished``,
  ``max_buffered``, ``max_dedup_ids``, ``adopt_max_states``, ``history`` do not cut
  anything (so the reference keeps finished instances forever);
- the spec's code does not raise (no spec errors), every action in a trace exists and
  is observable, and every action has finite domains (for ``late_join: adopt``);
- ``instance_ttl`` is at least the longest ``within`` (the engine refuses less).

Verdicts are ``(key, kind, property, time)`` in the order they are found.
"""

from __future__ import annotations

import math
from typing import Any

from monitor.engine import Event
from monitor.spec.model import SpecModel

Verdict = tuple[str, str, str, float]
State = tuple[Any, ...]


def hidden_closure(model: SpecModel, state: State, hidden_steps: int) -> list[State]:
    """``state`` and every state reached from it by at most ``hidden_steps`` hidden
    actions over their domains, each intermediate state keeping the invariants."""
    found = [state]
    frontier = [state]
    for _ in range(hidden_steps):
        nxt_frontier = []
        for s in frontier:
            for act in model.hidden:
                for args in act.arg_tuples():
                    for nxt in model.step(s, act, args).successors:
                        if nxt not in found and not model.violated_invariants(nxt):
                            found.append(nxt)
                            nxt_frontier.append(nxt)
        frontier = nxt_frontier
    return found


def post(model: SpecModel, states: list[State], name: str, args: tuple[Any, ...],
         hidden_steps: int) -> tuple[str, list[State], str]:
    """("ok", successors, "") or ("unexpected", [], action) or ("invariant", [], inv)."""
    act = model.actions[name]
    good: list[State] = []
    broken: list[str] = []
    stepped = False
    for s in states:
        for pre in hidden_closure(model, s, hidden_steps):
            for nxt in model.step(pre, act, args).successors:
                stepped = True
                bad = model.violated_invariants(nxt)
                if bad:
                    broken.extend(b for b in bad if b not in broken)
                elif nxt not in good:
                    good.append(nxt)
    if good:
        return "ok", good, ""
    if stepped:
        return "invariant", [], broken[0]
    return "unexpected", [], name


def reachable(model: SpecModel) -> list[State]:
    """Every state reachable from the initial one over all actions' domains, without
    passing through a state that breaks an invariant."""
    seen = [model.initial]
    i = 0
    while i < len(seen):
        s = seen[i]
        i += 1
        for act in model.actions.values():
            for args in act.arg_tuples():
                for nxt in model.step(s, act, args).successors:
                    if nxt not in seen and not model.violated_invariants(nxt):
                        seen.append(nxt)
    return seen


class _Instance:
    def __init__(self, states: list[State], last: float) -> None:
        self.states = states
        self.mode = "active"  # active | quarantined | ignored
        self.opened: dict[int, float] = {}  # within index -> time its window opened
        self.last = last  # time of the last event for this key


def check(model: SpecModel, events: list[Event], *, hidden_steps: int = 2,
          late_join: str = "adopt", after_violation: str = "quarantine",
          instance_ttl: float = math.inf) -> list[Verdict]:
    ids: set[str] = set()
    kept: list[tuple[float, int, Event]] = []
    for i, ev in enumerate(events):
        if ev.id is not None:
            if ev.id in ids:
                continue  # a re-delivery
            ids.add(ev.id)
        kept.append((ev.time, i, ev))
    kept.sort(key=lambda entry: (entry[0], entry[1]))

    steps = hidden_steps if model.hidden else 0
    live: dict[str, _Instance] = {}
    finished: dict[str, list[State]] = {}
    out: list[Verdict] = []

    def violate(key: str, kind: str, prop: str, time: float) -> None:
        out.append((key, kind, prop, time))
        if after_violation == "restart":
            del live[key]
        else:
            live[key].mode = "quarantined"
            live[key].opened.clear()

    def fire_deadlines_before(limit: float) -> None:
        while True:
            due = [(opened + model.withins[i].seconds, key, i)
                   for key, inst in live.items() if inst.mode == "active"
                   for i, opened in inst.opened.items()]
            due = [d for d in due if d[0] < limit]
            if not due:
                return
            deadline, key, i = min(due)
            del live[key].opened[i]
            violate(key, "deadline", model.withins[i].name, deadline)

    def settle(key: str, inst: _Instance, states: list[State], time: float) -> None:
        inst.states = states
        if all(model.is_terminal(s) for s in states):
            del live[key]
            finished[key] = states
            return
        for i in range(len(model.withins)):
            is_open = all(model.window_flags(s)[i] for s in states)
            if is_open and i not in inst.opened:
                inst.opened[i] = time
            elif not is_open:
                inst.opened.pop(i, None)

    for time, _i, ev in kept:
        fire_deadlines_before(time)
        key = ev.key
        inst = live.get(key)
        if inst is not None and time - inst.last > instance_ttl:
            del live[key]  # idle past the TTL: forgotten
            inst = None
        if inst is not None:
            inst.last = max(inst.last, time)
            if inst.mode != "active":
                continue
            kind, succ, prop = post(model, inst.states, ev.action, ev.args, steps)
            if kind == "ok":
                settle(key, inst, succ, time)
            else:
                violate(key, kind, prop, time)
            continue
        resumed = key in finished
        inst = live[key] = _Instance(finished.pop(key, [model.initial]), time)
        kind, succ, prop = post(model, inst.states, ev.action, ev.args, steps)
        if kind == "ok":
            settle(key, inst, succ, time)
        elif resumed or late_join == "strict":
            violate(key, kind, prop, time)
        elif late_join == "adopt":
            kind, succ, _ = post(model, reachable(model), ev.action, ev.args, steps)
            if kind == "ok":
                settle(key, inst, succ, time)
            else:
                inst.mode = "ignored"
        else:
            inst.mode = "ignored"
    if kept:
        fire_deadlines_before(max(time for time, _i, _ev in kept))
    return out

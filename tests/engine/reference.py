"""A naive reference checker, written for obviousness rather than speed.

Assumptions (the property tests generate only such traces): every event is in
time (the trace is applied in (time, arrival) order, nothing is late), ids are
unique except for re-deliveries of the same event, no instance idles past its TTL,
no table reaches its bound and candidate sets never reach ``max_states``. Spec errors
do not occur. Within those, it follows docs/semantics.md step by step: it calls
``SpecModel.step`` for every candidate state, enumerates hidden steps breadth-first,
keeps deadlines in a plain list it scans, and compares nothing by identity.
"""

from __future__ import annotations

from typing import Any

from monitor.engine import Event
from monitor.spec.model import SpecModel

Verdict = tuple[str, str, str, float]  # key, kind, property, time


def closure(model: SpecModel, s: Any, hidden_steps: int) -> list[Any]:
    out = [s]
    frontier = [s]
    for _ in range(hidden_steps if model.hidden else 0):
        nxt = []
        for x in frontier:
            for act in model.hidden:
                for args in act.arg_tuples():
                    for y in model.step(x, act, args).successors:
                        if y not in out and not model.violated_invariants(y):
                            out.append(y)
                            nxt.append(y)
        frontier = nxt
    return out


def post(model: SpecModel, states: list[Any], name: str, args: tuple, hidden_steps: int
         ) -> tuple[str, list[Any], str]:
    """("ok", successors, "") | ("unexpected", [], action) | ("invariant", [], name)."""
    act = model.actions[name]
    good: list[Any] = []
    broken: list[str] = []
    any_succ = False
    for s in states:
        for pre in closure(model, s, hidden_steps):
            for nxt in model.step(pre, act, args).successors:
                any_succ = True
                bad = model.violated_invariants(nxt)
                if bad:
                    broken += [b for b in bad if b not in broken]
                elif nxt not in good:
                    good.append(nxt)
    if good:
        return "ok", good, ""
    if any_succ:
        return "invariant", [], broken[0]
    return "unexpected", [], name


def reachable(model: SpecModel) -> list[Any]:
    seen = [model.initial]
    i = 0
    while i < len(seen):
        s = seen[i]
        i += 1
        for act in model.actions.values():
            for args in act.arg_tuples():
                for y in model.step(s, act, args).successors:
                    if y not in seen and not model.violated_invariants(y):
                        seen.append(y)
    return seen


def check(model: SpecModel, events: list[Event], *, hidden_steps: int = 2,
          late_join: str = "adopt", after_violation: str = "quarantine") -> list[Verdict]:
    order = sorted(range(len(events)), key=lambda i: (events[i].time, i))
    seen_ids: set[str] = set()
    inst: dict[str, dict[str, Any]] = {}  # key -> {states, mode, win}
    finished: dict[str, list[Any]] = {}
    out: list[Verdict] = []

    def flags(states: list[Any]) -> list[bool]:
        per = [model.window_flags(s) for s in states]
        return [all(f[i] for f in per) for i in range(len(model.withins))]

    def violate(key: str, kind: str, prop: str, t: float) -> None:
        out.append((key, kind, prop, t))
        if after_violation == "quarantine":
            inst[key]["mode"] = "quarantined"
            inst[key]["win"] = {}
        else:
            del inst[key]

    def fire(before: float) -> None:
        while True:
            due = [(o + model.withins[i].seconds, k, i) for k, d in inst.items()
                   if d["mode"] == "active" for i, o in d["win"].items()]
            due = [d for d in due if d[0] < before]
            if not due:
                return
            deadline, k, i = min(due)
            del inst[k]["win"][i]
            violate(k, "deadline", model.withins[i].name, deadline)

    def settle(key: str, states: list[Any], t: float) -> None:
        d = inst[key]
        d["states"] = states
        if all(model.is_terminal(s) for s in states):
            finished[key] = states
            del inst[key]
            return
        for i, is_open in enumerate(flags(states)):
            if is_open and i not in d["win"]:
                d["win"][i] = t
            elif not is_open:
                d["win"].pop(i, None)

    max_t = float("-inf")
    for i in order:
        ev = events[i]
        if ev.id is not None:
            if ev.id in seen_ids:
                continue
            seen_ids.add(ev.id)
        fire(ev.time)
        max_t = max(max_t, ev.time)
        key = ev.key
        if key in inst and inst[key]["mode"] != "active":
            continue
        first = key not in inst and key not in finished
        if key not in inst:
            inst[key] = {"states": finished.pop(key, [model.initial]), "mode": "active",
                         "win": {}}
        kind, succ, prop = post(model, inst[key]["states"], ev.action, ev.args, hidden_steps)
        if kind == "ok":
            settle(key, succ, ev.time)
        elif first and late_join != "strict":
            if late_join == "adopt":
                k2, succ2, _p = post(model, reachable(model), ev.action, ev.args, hidden_steps)
                if k2 == "ok":
                    settle(key, succ2, ev.time)
                    continue
            inst[key]["mode"] = "ignored"
        else:
            violate(key, kind, prop, ev.time)
    fire(max_t)
    return out

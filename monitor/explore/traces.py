"""Violation reports as ITF traces, and ITF traces as engine events.

- ``report_to_itf(report, model)``: the instance's history as an ITF trace with Quint's
  MBT variables, ending in the step that violated (its ``#meta.violation`` says the
  kind). With the model, the trace starts at the initial state when the kept history
  reaches back to it (else ``#meta.truncated`` is true and the first state is the one
  after the oldest kept step), and an ``invariant`` step shows the successor that broke
  the invariant; without it, the state before the step is repeated.
- ``itf_events(trace, model, key=...)``: the trace's steps as ``Event``s for that model,
  bypassing the mapping (the steps already are actions). Event time is the state's
  ``#meta.time`` (or a numeric ``time`` variable), else the state's index. Arguments
  come from ``mbt::nondetPicks`` by parameter name and are converted to the
  parameter's annotation as the mapping would; a parameter with a default may be
  absent. Hidden actions in a trace are skipped: the monitor infers them. A trace
  without ``mbt::actionTaken`` (``quint run --out-itf`` without ``--mbt``) gets its
  actions inferred: for each pair of consecutive states, the first action (in
  declaration order) and arguments (in domain order) that lead from one to the other.

Pure: values in, values out. Errors are ``RecordError`` naming the JSON path.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from monitor.engine.events import Event
from monitor.errors import RecordError
from monitor.explore.itf import ItfStep, ItfTrace, make_trace
from monitor.mapping.convert import BadValue, arg_converter
from monitor.spec.model import SpecModel

__all__ = ["infer_steps", "itf_events", "report_to_itf", "scenario_to_itf"]

State = tuple[Any, ...]


def report_to_itf(report: dict[str, Any], model: SpecModel | None = None) -> dict[str, Any]:
    """One violation report (a decoded JSON line, or ``msgspec.to_builtins`` of a
    ``Violation``) as an ITF trace."""
    history = report.get("history") or []
    before = report.get("states_before") or []
    fields = list(model.fields) if model is not None else list(
        (before or [h["states"][0] for h in history if h.get("states")] or [{}])[0])
    states: list[dict[str, Any]] = []
    actions: list[tuple[str, dict[str, Any]]] = []
    metas: list[dict[str, Any]] = []
    complete = model is not None and _starts_at_initial(model, history, before)
    if complete:
        assert model is not None
        states.append(model.as_dict(model.initial))
        actions.append(("init", {}))
        metas.append({})
    for h in history:
        if not h.get("states"):
            continue
        states.append(h["states"][0])
        actions.append((h["action"], h.get("args") or {}))
        metas.append(_state_meta(h["time"], len(h["states"])))
    kind = report.get("kind")
    if report.get("action") is not None and kind in ("unexpected", "invariant"):
        after = before[0] if before else (states[-1] if states else {})
        if kind == "invariant" and model is not None:
            after = _breaking_successor(model, report, before) or after
        states.append(after)
        actions.append((report["action"], report.get("args") or {}))
        metas.append({**_state_meta(report["time"], 1), "violation": kind})
    if not states and before:  # a deadline with no kept history: the state it stuck in
        states.append(before[0])
        actions.append(("init", {}))
        metas.append(_state_meta(report["time"], len(before)))
    violation = {k: report.get(k) for k in ("kind", "property", "message", "key", "time")}
    meta = {
        "source": report.get("spec"),
        "description": f"specmon violation: {kind} {report.get('property')} for key "
                       f"{report.get('key')}: {report.get('message')}",
        "status": "violation",
        "violation": violation,
    }
    if not complete:
        meta["truncated"] = True
    if actions and actions[0][0] != "init":
        meta["truncated"] = True
    return make_trace(fields, states, actions, meta=meta, state_meta=metas)


def _state_meta(time: float, candidates: int) -> dict[str, Any]:
    return {"time": time, **({"candidates": candidates} if candidates > 1 else {})}


def _starts_at_initial(model: SpecModel, history: list[dict[str, Any]],
                       before: list[dict[str, Any]]) -> bool:
    initial = model.as_dict(model.initial)
    if not history:
        return [initial] == before
    first = history[0]
    act = model.actions.get(first["action"])
    if act is None or not first.get("states"):
        return False
    args = tuple((first.get("args") or {}).get(p) for p in act.params)
    try:
        succ = model.step(model.initial, act, args).successors
    except TypeError:  # arguments from JSON that the spec cannot take as they are
        return False
    return any(_same(model.as_dict(s), first["states"][0]) for s in succ)


def _breaking_successor(model: SpecModel, report: dict[str, Any],
                        before: list[dict[str, Any]]) -> dict[str, Any] | None:
    act = model.actions.get(report["action"])
    if act is None:
        return None
    args = tuple((report.get("args") or {}).get(p) for p in act.params)
    for d in before:
        state = tuple(_freeze(d.get(f)) for f in model.fields)
        try:
            for succ in model.step(state, act, args).successors:
                if report.get("property") in model.violated_invariants(succ):
                    return model.as_dict(succ)
        except Exception:  # noqa: BLE001 - best effort: the report is still exported
            return None
    return None


def _freeze(v: Any) -> Any:
    return tuple(_freeze(x) for x in v) if isinstance(v, list) else v


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return {k: _freeze(v) for k, v in a.items()} == {k: _freeze(v) for k, v in b.items()}


Origin = Callable[[int], Any]


def itf_events(trace: ItfTrace, model: SpecModel, *, key: str,
               origin: Origin | None = None) -> list[Event]:
    """The trace's steps as Events for ``model`` (see the module docstring)."""
    steps = trace.steps if trace.has_actions else infer_steps(trace, model)
    out = []
    for step in steps:
        where = f"$.states[{step.index}]"
        act = model.actions.get(step.action)
        if act is None:
            raise RecordError("unknown_action", f'{where}["mbt::actionTaken"]: '
                              f"{step.action!r} is not an action of {model.name}; it has: "
                              f"{', '.join(model.actions)}")
        if act.hidden:
            continue
        sig = inspect.signature(act.fn).parameters
        args = []
        for name, annotation in zip(act.params, act.types):
            if name in step.args:
                try:
                    args.append(arg_converter(annotation).fn(step.args[name]))
                except BadValue as exc:
                    raise RecordError("bad_arg", f'{where}["mbt::nondetPicks"].{name}: {exc} '
                                      f"({act.name}.{name})") from None
            elif sig[name].default is not inspect.Parameter.empty:
                args.append(sig[name].default)
            else:
                raise RecordError("missing_arg", f'{where}["mbt::nondetPicks"]: no pick '
                                  f"{name!r} for {act.qualname}")
        time = step.time if step.time is not None else float(step.index)
        out.append(Event(key, time, act.name, tuple(args), None, step.state,
                         origin(step.index) if origin else None))
    return out


def infer_steps(trace: ItfTrace, model: SpecModel) -> list[ItfStep]:
    """Actions for a trace that has only states: between consecutive states, the first
    (action, args) over the declared domains whose successors include the next state.
    Raises ``RecordError`` when a state lacks a field of the spec or no step fits."""
    out: list[ItfStep] = []
    prev: State | None = None
    for i, values in enumerate(trace.states):
        missing = [f for f in model.fields if f not in values]
        if missing:
            raise RecordError("malformed", f"$.states[{i}]: no variable {missing[0]!r} of "
                              f"{model.name}, and no mbt::actionTaken to say what happened")
        state = tuple(values[f] for f in model.fields)
        if prev is not None:
            found = _step_between(model, prev, state)
            if found is None:
                raise RecordError("no_step", f"$.states[{i}]: no action of {model.name} "
                                  f"leads from state {i - 1} to state {i}")
            name, args = found
            out.append(ItfStep(i, name, args, trace.times[i], values))
        elif state != model.initial:
            raise RecordError("no_step", f"$.states[0]: not the initial state of {model.name}")
        prev = state
    return out


def _step_between(model: SpecModel, src: State, dst: State) -> tuple[str, dict[str, Any]] | None:
    for act in model.actions.values():
        if act.domains is None:
            continue
        for args in act.arg_tuples():
            if dst in model.step(src, act, args).successors:
                return act.name, dict(zip(act.params, args))
    return None


def scenario_to_itf(scenario: Any, model: SpecModel) -> dict[str, Any]:
    """A generated scenario (``monitor.explore.scenarios.Scenario``) as an ITF trace:
    the initial state, then the state after each step (before it, for a rejected step);
    each state's ``#meta.expect`` is the verdict the monitor must give."""
    states = [model.as_dict(model.initial)]
    actions: list[tuple[str, dict[str, Any]]] = [("init", {})]
    metas: list[dict[str, Any]] = [{}]
    for step in scenario.steps:
        states.append(step.state)
        actions.append((step.action, step.args))
        meta: dict[str, Any] = {"time": step.time, "expect": step.expect}
        if step.property is not None:
            meta["property"] = step.property
        if step.messages:
            meta["messages"] = list(step.messages)
        metas.append(meta)
    meta = {"source": scenario.spec, "description": f"specmon scenario {scenario.id} "
            f"({scenario.kind})", "scenario": scenario.id}
    if scenario.target is not None:
        meta["target"] = scenario.target
    return make_trace(list(model.fields), states, actions, meta=meta, state_meta=metas)

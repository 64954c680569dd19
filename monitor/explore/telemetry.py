"""Synthetic telemetry for scenarios: the JSON records a spec directory's ``events:``
mapping maps back to exactly a scenario's observed steps. The mapping is inverted rule
by rule:

1. the candidate rules are those for the step's action, in file order;
2. a record is built that satisfies the rule's ``when`` (the smallest value of each
   condition, by its JSON text), with every mapped argument at its path (tuples become
   arrays), the key (a composite key gets one part per path: ``<key>-<i>``), the event
   time as RFC 3339 UTC, and the id ``<scenario>-<step>``;
3. a rule whose constant argument differs from the step's value cannot produce it;
4. the record is mapped with the real mapper; the first record that maps back to the
   same key, action and arguments wins (an earlier rule may match it first: then the
   next candidate is tried). None: ``TelemetryError`` says which step and why.

Hidden steps produce no record. Pure: builds dicts; the caller encodes and writes them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from monitor.errors import ConfigError
from monitor.explore.scenarios import Scenario, ScenarioStep
from monitor.mapping.events import EventMapper
from monitor.mapping.paths import Path
from monitor.mapping.rules import Rule, Section, norm
from monitor.spec.model import SpecModel

__all__ = ["TelemetryError", "event_records", "observed_steps", "plain", "scenario_key"]

#: event time of every scenario's start (2026-01-01T00:00:00Z): fixed, so that outputs
#: are reproducible byte for byte
BASE_TIME = 1767225600.0


class TelemetryError(ConfigError):
    """The mapping cannot express a step (no rule for its action, or a constant argument
    that differs)."""


def scenario_key(scenario: Scenario, mapper: EventMapper) -> str:
    """The key the monitor will see for the scenario's records."""
    parts = mapper.section.key
    if len(parts) == 1:
        return scenario.key if parts[0].path is not None else str(parts[0].const)
    return "/".join(f"{scenario.key}-{i}" if p.path is not None else str(p.const)
                    for i, p in enumerate(parts))


def event_records(scenario: Scenario, mapper: EventMapper, model: SpecModel,
                  *, base_time: float = BASE_TIME) -> list[dict[str, Any]]:
    """One JSON object per observed step of ``scenario``."""
    section = mapper.section
    out = []
    for i, step, args in observed_steps(scenario, model):
        t = base_time + step.time
        eid = f"{scenario.id}-{i + 1}"
        why = f"no rule maps to action {step.action!r}"
        for rule in _candidates(section, step.action):
            record = _build(rule, section, scenario.key, args, t, eid)
            if record is None:
                why = f"rules[{rule.index}] maps a constant that differs from {args!r}"
                continue
            ev = mapper.map_obj(record, None)
            if (ev is not None and ev.action == step.action and ev.args == args
                    and ev.key == scenario_key(scenario, mapper)):
                out.append(record)
                break
            why = f"the record built for rules[{rule.index}] maps to {_show(ev)}"
        else:
            raise TelemetryError(f"scenario {scenario.id} step {i + 1} "
                                 f"({step.action}{args!r}): {why}")
    return out


def observed_steps(scenario: Scenario, model: SpecModel
                   ) -> Iterator[tuple[int, ScenarioStep, tuple[Any, ...]]]:
    """(index, step, argument tuple) of every step that is not hidden."""
    for i, step in enumerate(scenario.steps):
        if not step.hidden:
            act = model.actions[step.action]
            yield i, step, tuple(step.args[p] for p in act.params)


def _candidates(section: Section, action: str) -> list[Rule]:
    return [r for r in section.rules if r.action == action]


def _build(rule: Rule, section: Section, key: str, args: tuple[Any, ...], t: float,
           eid: str) -> dict[str, Any] | None:
    obj: dict[str, Any] = {}
    for cond in rule.conds:
        value = min(cond.values, key=lambda v: json.dumps(plain(v)))
        _put(obj, cond.path, plain(value))
    for arg, value in zip(rule.args, args):
        if arg.source.path is None:
            if arg.source.const != value:
                return None
            continue
        _put(obj, arg.source.path, _json(value))
    for i, part in enumerate(rule.key):
        if part.path is not None:
            _put(obj, part.path, key if len(rule.key) == 1 else f"{key}-{i}")
    stamp = datetime.fromtimestamp(t, tz=timezone.utc).isoformat().replace("+00:00", "Z")
    _put(obj, rule.time, stamp)
    if rule.id is not None:
        _put(obj, rule.id, eid)
    return obj


def _put(obj: dict[str, Any], path: Path, value: Any) -> None:
    for seg in path[:-1]:
        nxt = obj.get(seg)
        if not isinstance(nxt, dict):
            nxt = obj[seg] = {}
        obj = nxt
    obj[path[-1]] = value


def plain(v: Any) -> Any:
    """Undo ``norm``: JSON booleans are wrapped so they do not collide with 1/0."""
    return True if v is norm(True) else False if v is norm(False) else v


def _json(v: Any) -> Any:
    if isinstance(v, (tuple, list)):
        return [_json(x) for x in v]
    if isinstance(v, (set, frozenset)):
        return sorted((_json(x) for x in v), key=json.dumps)
    return v


def _show(ev: Any) -> str:
    return "nothing (no rule matches it)" if ev is None else f"{ev.action}{ev.args!r} " \
        f"for key {ev.key!r}"

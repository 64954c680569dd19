"""Synthetic OpenTelemetry spans for scenarios: per observed step, one OTLP JSON
request (a line of the Collector's file exporter, ``{"resourceSpans": [...]}``) that a
spec directory's ``spans:`` mapping maps back to exactly that step.

Each candidate rule of the step's action (file order) gives a request:

- a span rule: one span named by the rule's ``name`` condition (else the action),
  with its kind, status, scope and resource and span attributes set to the smallest
  accepted value of each condition, the arguments and key parts at their sources
  (span attributes, resource attributes, ``{field: ...}``), start = end = the event time;
- a span event rule: a span that no span rule should take (named ``specmon.scenario``,
  verified below) holding one span event with the conditions and sources of the rule,
  at the event time.

Trace ids are per scenario and span ids per step (hex of a SHA-256, so outputs are
reproducible). The caller verifies each candidate with the real mapper (``decode``
turns the JSON bytes into what ``SpanMapper.map_request`` reads) and keeps the first
that maps back to exactly the step: this module does not import the OTLP decoder,
which lives in the I/O layer.

Pure: builds dicts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import msgspec

from monitor.explore.scenarios import Scenario
from monitor.explore.telemetry import BASE_TIME, TelemetryError, observed_steps, plain
from monitor.mapping.span_rules import KINDS, STATUSES, SpanRule, Src
from monitor.spec.model import SpecModel

__all__ = ["span_records"]

#: the name of a span that only carries a span event
CARRIER = "specmon.scenario"


def span_records(scenario: Scenario, mapper: Any, model: SpecModel,
                 decode: Callable[[bytes], Any], *, key: str | None = None,
                 base_time: float = BASE_TIME) -> list[dict[str, Any]]:
    """One OTLP JSON request per observed step; ``mapper`` is a ``SpanMapper``."""
    key = key or scenario.key
    out = []
    for i, step, args in observed_steps(scenario, model):
        why = f"no spans: rule maps to action {step.action!r}"
        t = base_time + step.time
        for rule in (r for r in mapper.section.rules if r.action == step.action):
            req = _request(rule, key, args, t, scenario.id, i)
            if req is None:
                why = f"spans rules[{rule.index}] maps a constant that differs from {args!r}"
                continue
            batch = mapper.map_request(decode(json.dumps(req).encode()))
            got = [(e.key, e.action, e.args) for e in batch.events]
            if got == [(_key(rule.key, key), step.action, args)]:
                out.append(req)
                break
            why = f"the span built for spans rules[{rule.index}] maps to {got or batch.error}"
        else:
            raise TelemetryError(f"scenario {scenario.id} step {i + 1} "
                                 f"({step.action}{args!r}): {why}")
    return out


def _key(parts: tuple[Src, ...], key: str) -> str:
    if len(parts) == 1:
        return key if parts[0].kind != "const" else str(parts[0].const)
    return "/".join(str(p.const) if p.kind == "const" else f"{key}-{i}"
                    for i, p in enumerate(parts))


def _hex(text: str, digits: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:digits]


def _request(rule: SpanRule, key: str, args: tuple[Any, ...], t: float, sid: str,
             step: int) -> dict[str, Any] | None:
    span: dict[str, Any] = {"attrs": {}, "name": CARRIER if rule.on_event else rule.action,
                            "kind": 1, "status": 0}
    event: dict[str, Any] = {"attrs": {}, "name": ""}
    res: dict[str, Any] = {}
    scope = ""
    for dim, values in rule.conds:
        value = plain(min(values, key=lambda v: json.dumps(plain(v))))
        what = dim[0]
        if what in ("name", "kind", "status"):
            span[what] = value
        elif what == "scope":
            scope = value
        elif what == "event":
            event["name"] = value
        elif what == "attr":
            span["attrs"][dim[1]] = value
        elif what == "resource":
            res[dim[1]] = value
        elif what == "event_attr":
            event["attrs"][dim[1]] = value
    for (_name, src, _conv), value in zip(rule.args, args):
        if src.kind == "const":
            if src.const != value:
                return None
            continue
        scope = _put(src, value, span, event, res, scope)
    for i, part in enumerate(rule.key):
        if part.kind != "const":
            scope = _put(part, key if len(rule.key) == 1 else f"{key}-{i}", span, event, res,
                         scope)
    ns = str(int(round(t * 1e9)))
    out_span: dict[str, Any] = {
        "traceId": _hex(sid, 32), "spanId": _hex(f"{sid}/{step}", 16), "name": span["name"],
        "kind": span["kind"], "startTimeUnixNano": ns, "endTimeUnixNano": ns,
        "attributes": _kvs(span["attrs"]),
        "status": {"code": span["status"], "message": span.get("status_message", "")},
    }
    if rule.on_event:
        out_span["events"] = [{"timeUnixNano": ns, "name": event["name"],
                               "attributes": _kvs(event["attrs"])}]
    return {"resourceSpans": [{"resource": {"attributes": _kvs(res)}, "scopeSpans": [
        {"scope": {"name": scope}, "spans": [out_span]}]}]}


def _put(src: Src, value: Any, span: dict[str, Any], event: dict[str, Any],
         res: dict[str, Any], scope: str) -> str:
    if src.kind == "attr":
        span["attrs"][src.name] = value
    elif src.kind == "event":
        event["attrs"][src.name] = value
    elif src.kind == "resource":
        res[src.name] = value
    elif src.name == "scope":
        return str(value)
    elif src.name in ("name", "status_message"):
        span["name" if src.name == "name" else "status_message"] = value
    elif src.name == "kind":
        span["kind"] = KINDS.get(value, value)
    elif src.name == "status":
        span["status"] = STATUSES.get(value, value)
    elif src.name == "event_name":
        event["name"] = value
    return scope


def _kvs(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _any(v)} for k, v in attrs.items()]


def _any(v: Any) -> dict[str, Any]:
    """A value as an OTLP JSON ``AnyValue`` (64-bit integers as decimal strings)."""
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, (tuple, list, set, frozenset)):
        return {"arrayValue": {"values": [_any(x) for x in v]}}
    if v is None:
        return {}
    return {"stringValue": v if isinstance(v, str) else msgspec.json.encode(v).decode()}

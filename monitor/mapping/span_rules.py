"""The ``spans:`` section checked against the spec and compiled into plain records:
``SpanRule`` (conditions, action, sources of key/time/id/arguments) and two dispatch
tables, one on the span name (span rules) and one on the span event name (span event
rules).

A condition is a *dimension* and the values it accepts: ``("name",)``, ``("kind",)``,
``("status",)``, ``("scope",)``, ``("attr", key)``, ``("resource", key)``,
``("event",)``, ``("event_attr", key)``. Kinds and status codes are compiled to the
protobuf enum numbers; attribute values are normalized like JSON (``norm``: ``true``
is not ``1``). Every check raises ``MappingError`` naming the file and the
``$.spans...`` path. Pure: no I/O, and no OpenTelemetry import (the enum numbers are
the OTLP spec's, written out below).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from msgspec import UNSET

from monitor.errors import MappingError
from monitor.mapping.convert import BadValue, Converter, to_key_part
from monitor.mapping.rules import (
    UNMAPPED,
    check_action,
    check_params,
    convert_const,
    index_by,
    norm,
)
from monitor.mapping.schema import SCALAR_TYPES
from monitor.mapping.span_schema import SpanKey, SpanRuleSpec, SpanSource, SpansSection, SpanValue
from monitor.spec.model import ActionInfo, SpecModel

__all__ = ["KINDS", "STATUSES", "SpanRule", "SpanSection", "Src", "compile_spans"]

#: ``Span.SpanKind`` numbers (opentelemetry-proto trace.proto)
KINDS = {"unspecified": 0, "internal": 1, "server": 2, "client": 3, "producer": 4,
         "consumer": 5}
#: ``Status.StatusCode`` numbers
STATUSES = {"unset": 0, "ok": 1, "error": 2}
#: what ``{field: ...}`` may name
FIELDS = ("name", "trace_id", "span_id", "parent_span_id", "kind", "status",
          "status_message", "scope", "event_name")

Dim = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Src:
    """A value's source: ``kind`` is attr | event | resource | field | const."""

    kind: str
    name: str = ""
    const: Any = None

    def where(self) -> str:
        if self.kind == "attr":
            return f"attributes[{self.name!r}]"
        if self.kind == "event":
            return f"event.attributes[{self.name!r}]"
        if self.kind == "resource":
            return f"resource.attributes[{self.name!r}]"
        if self.kind == "field":
            return self.name
        return f"{{const: {self.const!r}}}"


@dataclass(frozen=True, slots=True)
class SpanRule:
    index: int
    action: str
    on_event: bool  # a span event rule
    conds: tuple[tuple[Dim, frozenset[Any]], ...]
    args: tuple[tuple[str, Src, Converter], ...]  # every parameter, in signature order
    key: tuple[Src, ...]  # parts, joined with "/"
    time: str  # end | start | event
    id: Src | None | str  # "default": span id (+ "/index"); None: no id


@dataclass(frozen=True, slots=True)
class SpanSection:
    rules: tuple[SpanRule, ...]
    #: span name -> candidate span rules (the name condition removed), file order
    by_name: dict[Any, tuple[SpanRule, ...]]
    any_name: tuple[SpanRule, ...]  # span rules with no name condition
    #: span event name -> candidate span event rules (event condition removed)
    by_event: dict[Any, tuple[SpanRule, ...]]
    any_event: tuple[SpanRule, ...]
    has_event_rules: bool


class _Check:
    def __init__(self, filename: str) -> None:
        self.filename = filename

    def fail(self, where: str, message: str) -> MappingError:
        return MappingError(f"{self.filename}: {where}: {message}")


def compile_spans(section: SpansSection, model: SpecModel, filename: str) -> SpanSection:
    check = _Check(filename)
    if not section.rules:
        raise check.fail("$.spans.rules", "no rules; map at least one action, e.g. "
                         "`- {when: {name: ...}, action: ..., args: {...}}`")
    key = None if section.key is UNSET else _key(section.key, "$.spans.key", check, None)
    ident: Src | None | str = ("default" if section.id is UNSET else None if section.id is None
                               else _src(section.id, "$.spans.id", check, None))
    rules = tuple(_rule(r, i, model, check, key, section.time, ident)
                  for i, r in enumerate(section.rules))
    _check_reachable(rules, check)
    by_name, any_name = _dispatch([r for r in rules if not r.on_event], ("name",))
    by_event, any_event = _dispatch([r for r in rules if r.on_event], ("event",))
    return SpanSection(rules, by_name, any_name, by_event, any_event,
                       any(r.on_event for r in rules))


def _rule(r: SpanRuleSpec, i: int, model: SpecModel, check: _Check,
          key: tuple[Src, ...] | None, time: str, ident: Src | None | str) -> SpanRule:
    where = f"$.spans.rules[{i}]"
    act = check_action(r.action, model, check, f"{where}.action")
    on_event = r.when.event is not UNSET
    conds = _conds(r, on_event, check, f"{where}.when")
    if r.key is not UNSET:
        key = _key(r.key, f"{where}.key", check, on_event)
    elif key is not None and not on_event and any(map(_reads_event, key)):
        raise check.fail("$.spans.key", f"reads a span event ({{event: ...}} or {{field: "
                         f"event_name}}), but rules[{i}] has no `when.event`; give it its own "
                         "`key:`")
    if key is None:
        raise check.fail(f"{where}.key", "no key; set `key:` on the section or on this rule")
    if r.time is UNSET:
        rtime = "event" if on_event else time
    elif r.time == "event" and not on_event:
        raise check.fail(f"{where}.time", "`event` is the time of a span event, but this rule "
                         "has no `when.event`; use end or start")
    else:
        rtime = r.time
    if r.id is UNSET:
        rid = ident
        if isinstance(rid, Src) and _reads_event(rid) and not on_event:
            raise check.fail("$.spans.id", f"reads a span event ({{event: ...}} or {{field: "
                             f"event_name}}), but rules[{i}] has no `when.event`; give it its "
                             "own `id:`")
    else:
        rid = None if r.id is None else _src(r.id, f"{where}.id", check, on_event)
    return SpanRule(i, act.name, on_event, conds, _args(r, act, check, where, on_event),
                    key, rtime, rid)


def _reads_event(src: Src) -> bool:
    return src.kind == "event" or (src.kind, src.name) == ("field", "event_name")


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _conds(r: SpanRuleSpec, on_event: bool, check: _Check,
           where: str) -> tuple[tuple[Dim, frozenset[Any]], ...]:
    w = r.when
    out: list[tuple[Dim, frozenset[Any]]] = []
    for field, named in (("name", None), ("kind", KINDS), ("status", STATUSES),
                         ("scope", None), ("event", None)):
        value = getattr(w, field)
        if value is UNSET:
            continue
        values = _listed(value)
        if not values:
            raise check.fail(f"{where}.{field}", "an empty list matches nothing; list the "
                             "values to match, or remove the condition")
        if named is not None:
            for v in values:
                if v not in named:
                    what = "span kind" if field == "kind" else "status code"
                    raise check.fail(f"{where}.{field}", f"unknown {what} {v!r}; one of: "
                                     f"{', '.join(named)}")
            values = [named[v] for v in values]
        out.append(((field,), frozenset(values)))
    if w.event_attributes and not on_event:
        raise check.fail(f"{where}.event_attributes", "conditions on a span event's "
                         "attributes need `event:` (the span event's name) in the same `when`")
    for field, dim in (("resource", "resource"), ("attributes", "attr"),
                       ("event_attributes", "event_attr")):
        for k, value in getattr(w, field).items():
            values = _listed(value)
            bad = [v for v in values if not isinstance(v, SCALAR_TYPES) or v is None]
            if bad:
                raise check.fail(f"{where}.{field}[{k!r}]", "expected a string, number or "
                                 f"true/false, or a list of them, got {bad[0]!r}")
            if not values:
                raise check.fail(f"{where}.{field}[{k!r}]", "an empty list matches nothing; "
                                 "list the values to match, or remove the condition")
            out.append(((dim, k), frozenset(map(norm, values))))
    return tuple(out)


def _src(value: SpanSource, where: str, check: _Check, on_event: bool | None) -> Src:
    """``on_event`` None: a section-level source (checked per rule later)."""
    if isinstance(value, str):
        if not value:
            raise check.fail(where, "an empty attribute key; write e.g. payment.id")
        return Src("attr", value)
    assert isinstance(value, SpanValue)
    given = [(f, getattr(value, f)) for f in _SOURCE_KINDS if getattr(value, f) is not UNSET]
    if len(given) != 1:
        raise check.fail(where, "give exactly one of {event: k}, {resource: k}, {field: f}, "
                         "{attribute: k}, {const: x}" + (f"; got {len(given)}" if given else ""))
    kind, v = given[0]
    if kind == "const":
        return Src("const", const=v)
    if not v:
        raise check.fail(where, f"an empty {kind} name")
    if kind == "field" and v not in FIELDS:
        raise check.fail(where, f"unknown span field {v!r}; one of: {', '.join(FIELDS)}")
    if on_event is False and (kind == "event" or (kind, v) == ("field", "event_name")):
        raise check.fail(where, f"{{{kind}: {v}}} reads a span event, but this rule has no "
                         "`when.event`")
    return Src("attr" if kind == "attribute" else kind, v)


_SOURCE_KINDS = ("event", "resource", "field", "attribute", "const")


def _key(value: SpanKey, where: str, check: _Check, on_event: bool | None) -> tuple[Src, ...]:
    parts = value if isinstance(value, list) else [value]
    if not parts:
        raise check.fail(where, "an empty list; give a source, a list of sources, or "
                         "{const: x}")
    out = []
    for i, part in enumerate(parts):
        w = f"{where}[{i}]" if isinstance(value, list) else where
        src = _src(part, w, check, on_event)
        if src.kind == "const":
            try:
                src = Src("const", const=to_key_part(src.const))
            except BadValue as exc:
                raise check.fail(w, f"{exc} in {{const: ...}}") from None
        out.append(src)
    return tuple(out)


def _args(r: SpanRuleSpec, act: ActionInfo, check: _Check, where: str,
          on_event: bool) -> tuple[tuple[str, Src, Converter], ...]:
    out = []
    for name, conv, value, default in check_params(r.args, act, check, where, "attribute key"):
        if value is UNMAPPED:
            src = Src("const", const=default)
        else:
            src = _src(value, f"{where}.args.{name}", check, on_event)
            if src.kind == "const":
                src = Src("const", const=convert_const(src.const, conv, act, name, check, where))
        out.append((name, src, conv))
    return tuple(out)


def _implies(later: SpanRule, earlier: SpanRule) -> bool:
    """Does everything ``later`` matches also match ``earlier``?"""
    if later.on_event != earlier.on_event:
        return False
    mine = dict(later.conds)
    return all(d in mine and mine[d] <= vs for d, vs in earlier.conds)


def _check_reachable(rules: tuple[SpanRule, ...], check: _Check) -> None:
    for j, later in enumerate(rules):
        for earlier in rules[:j]:
            if _implies(later, earlier):
                what = "span event" if later.on_event else "span"
                raise check.fail(f"$.spans.rules[{j}]", f"unreachable: rules[{earlier.index}] "
                                 f"comes first and matches every {what} this rule matches "
                                 "(first match wins); move this rule up or narrow its `when`")


def _dispatch(rules: list[SpanRule], dim: Dim) -> tuple[dict[Any, tuple[SpanRule, ...]],
                                                        tuple[SpanRule, ...]]:
    return index_by(rules, lambda r: next(((c, c[1]) for c in r.conds if c[0] == dim), None))

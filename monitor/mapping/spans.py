"""The ``spans:`` section at run time: one ``ExportTraceServiceRequest`` -> a
``SpanBatch`` of ``Event``s, with every span counted (mapped, unmatched or rejected).

Per span, in the common case:

1. one dict lookup on the span name gives the candidate span rules (usually one, with
   no condition left to test);
2. that rule's builder reads the key, time, id and arguments straight from the
   protobuf span (attributes through position-memoising lookups, see ``span_read``),
   and builds one ``Event``;
3. only when the section has span event rules are the span's events looked at, each
   through a dict lookup on its name.

A span that matched a rule but cannot be used (for itself or one of its span events)
is rejected as a whole: none of its events are kept, it is counted under the cause of
its first failure, and the request's first message becomes ``SpanBatch.error`` (what
an OTLP receiver returns as ``partial_success.error_message``).

Pure: no I/O, no clock, no OpenTelemetry import (duck typing on field names).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from monitor.engine.events import Event
from monitor.errors import RecordError
from monitor.mapping.convert import BadValue, to_id, to_key_part
from monitor.mapping.paths import MISSING
from monitor.mapping.rules import norm
from monitor.mapping.span_read import AttrLookup, Ctx, Reader, any_value, reader
from monitor.mapping.span_rules import SpanRule, SpanSection

__all__ = ["SpanBatch", "SpanMapper"]

#: (span, span attributes, ctx, span event or None, event index, origin) -> Event | None
Build = Callable[[Any, Any, Ctx, Any, int, Any], Event | None]
Check = Callable[[Any, Any, Ctx, Any], bool]

_NS = 1_000_000_000


@dataclass(slots=True)
class SpanBatch:
    """What one request mapped to. ``spans`` = mapped + ``unmatched`` + ``rejected``
    spans (a mapped span may give several events: its span events too)."""

    events: list[Event] = field(default_factory=list)
    spans: int = 0
    unmatched: int = 0
    rejected: int = 0
    causes: dict[str, int] = field(default_factory=dict)
    error: str | None = None


class SpanMapper:
    """Maps OTLP trace requests for one compiled ``spans:`` section. Holds no
    per-request state (only the attribute positions it memoises)."""

    def __init__(self, section: SpanSection) -> None:
        self.section = section
        builds = {r.index: _builder(r) for r in section.rules}
        self._by_name = {v: _span_picker(rs, builds) for v, rs in section.by_name.items()}
        self._any_name = _span_picker(section.any_name, builds)
        self._by_event = {v: _event_picker(rs, builds) for v, rs in section.by_event.items()}
        self._any_event = _event_picker(section.any_event, builds)
        self._has_events = section.has_event_rules
        dims = {d for r in section.rules for d, _ in r.conds}
        srcs = [s for r in section.rules for s in (*r.key, *(a[1] for a in r.args),
                                                   *([r.id] if hasattr(r.id, "kind") else []))]
        self._needs_resource = (any(d[0] == "resource" for d in dims)
                                or any(s.kind == "resource" for s in srcs))
        self._needs_scope = (("scope",) in dims
                             or any((s.kind, s.name) == ("field", "scope") for s in srcs))

    def map_request(self, req: Any, origin: Any = None) -> SpanBatch:
        """Map every span of ``req`` (an ``ExportTraceServiceRequest``, or anything
        with its field names); ``origin`` goes into every Event for reports."""
        batch = SpanBatch()
        events = batch.events
        spans = unmatched = 0
        ctx = Ctx()
        by_name, any_name = self._by_name.get, self._any_name
        by_event, any_event = self._by_event.get, self._any_event
        has_events, needs_resource, needs_scope = (self._has_events, self._needs_resource,
                                                   self._needs_scope)
        for rs in req.resource_spans:
            if needs_resource:
                ctx.resource = {kv.key: any_value(kv.value) for kv in rs.resource.attributes}
            for ss in rs.scope_spans:
                if needs_scope:
                    ctx.scope = ss.scope.name
                for span in ss.spans:
                    spans += 1
                    pick = by_name(span.name, any_name)
                    try:
                        ev = pick(span, ctx, origin) if pick is not None else None
                        sevs = span.events if has_events else None
                        if not sevs:
                            if ev is None:
                                unmatched += 1
                            else:
                                events.append(ev)
                            continue
                        mine = _span_events(span, sevs, ctx, origin, by_event, any_event)
                    except RecordError as exc:
                        _reject(batch, span, exc)
                        continue
                    if ev is not None:
                        mine.append(ev)
                    if mine:
                        events.extend(mine)
                    else:
                        unmatched += 1
        batch.spans = spans
        batch.unmatched = unmatched
        return batch


def _span_events(span: Any, sevs: Any, ctx: Ctx, origin: Any,
                 by_event: Callable[..., Any], any_event: Any) -> list[Event]:
    out = []
    attrs = span.attributes
    for i, sev in enumerate(sevs):
        pick = by_event(sev.name, any_event)
        if pick is not None:
            ev = pick(span, attrs, ctx, sev, i, origin)
            if ev is not None:
                out.append(ev)
    return out


def _reject(batch: SpanBatch, span: Any, exc: RecordError) -> None:
    batch.rejected += 1
    batch.causes[exc.cause] = batch.causes.get(exc.cause, 0) + 1
    if batch.error is None:
        sid = span.span_id.hex() if span.span_id else "none"
        batch.error = f"span {span.name!r} (span_id {sid}): {exc}"


def _span_picker(rules: tuple[SpanRule, ...], builds: dict[int, Build]) -> Any:
    """(span, ctx, origin) -> Event | None over the candidates in file order, or None
    when there are none (the span is unmatched without reading anything)."""
    if not rules:
        return None
    steps = [builds[r.index] for r in rules]
    if len(steps) == 1:
        (one,) = steps
        return lambda span, ctx, origin: one(span, span.attributes, ctx, None, 0, origin)

    def pick(span: Any, ctx: Ctx, origin: Any) -> Event | None:
        attrs = span.attributes
        for build in steps:
            ev = build(span, attrs, ctx, None, 0, origin)
            if ev is not None:
                return ev
        return None

    return pick


def _event_picker(rules: tuple[SpanRule, ...], builds: dict[int, Build]) -> Any:
    if not rules:
        return None
    steps = [builds[r.index] for r in rules]
    if len(steps) == 1:
        return steps[0]

    def pick(span: Any, attrs: Any, ctx: Ctx, sev: Any, i: int, origin: Any) -> Event | None:
        for build in steps:
            ev = build(span, attrs, ctx, sev, i, origin)
            if ev is not None:
                return ev
        return None

    return pick


def _cond_value(dim: tuple[str, ...]) -> Reader:
    what = dim[0]
    if what == "name":
        return lambda span, attrs, ctx, ev: span.name
    if what == "kind":
        return lambda span, attrs, ctx, ev: span.kind
    if what == "status":
        return lambda span, attrs, ctx, ev: span.status.code
    if what == "scope":
        return lambda span, attrs, ctx, ev: ctx.scope
    if what == "event":
        return lambda span, attrs, ctx, ev: ev.name
    k = dim[1]
    if what == "resource":
        return lambda span, attrs, ctx, ev: norm(ctx.resource.get(k, MISSING))
    look = AttrLookup(k)
    if what == "attr":
        return lambda span, attrs, ctx, ev: norm(any_value(look(attrs)))
    return lambda span, attrs, ctx, ev: norm(any_value(look(ev.attributes)))


def _check(rule: SpanRule) -> Check | None:
    if not rule.conds:
        return None
    pairs = [(_cond_value(d), values) for d, values in rule.conds]

    def check(span: Any, attrs: Any, ctx: Ctx, ev: Any) -> bool:
        try:
            for get, values in pairs:
                if get(span, attrs, ctx, ev) not in values:
                    return False
        except TypeError:  # an unhashable value (an array attribute) equals no scalar
            return False
        return True

    return check


def _builder(rule: SpanRule) -> Build:
    """The rule's conditions, then its Event, or RecordError naming cause and source."""
    check = _check(rule)
    action, on_event = rule.action, rule.on_event
    keys = [(reader(s), s.where()) for s in rule.key]
    one_key = keys[0] if len(keys) == 1 else None
    time_field = {"end": "end_time_unix_nano", "start": "start_time_unix_nano",
                  "event": "time_unix_nano"}[rule.time]
    time_where = ("event." if rule.time == "event" else "") + time_field
    default_id = rule.id == "default"
    id_src = rule.id if not isinstance(rule.id, str) else None
    id_read, id_where = (reader(id_src), id_src.where()) if id_src is not None else (None, "")
    args = [(reader(src), conv.fn, src.where(), f"{action}.{name}", conv.name)
            for name, src, conv in rule.args]
    from_event = rule.time == "event"

    def build(span: Any, attrs: Any, ctx: Ctx, ev: Any, index: int, origin: Any) -> Event | None:
        if check is not None and not check(span, attrs, ctx, ev):
            return None
        if one_key is not None:
            k = one_key[0](span, attrs, ctx, ev)
            if type(k) is not str:
                k = _key_part(k, one_key[1])
        else:
            k = "/".join([_key_part(get(span, attrs, ctx, ev), where) for get, where in keys])
        t = getattr(ev if from_event else span, time_field)
        if not t:
            raise RecordError("missing_time", f"{time_where}: no time (zero or absent)")
        values = []
        for get, conv, where, what, tname in args:
            v = get(span, attrs, ctx, ev)
            if v is MISSING:
                raise RecordError("missing_arg", f"{where}: missing ({what}: {tname})")
            try:
                values.append(conv(v))
            except BadValue as exc:
                raise RecordError("bad_arg", f"{where}: {exc} ({what})") from None
        sid = span.span_id.hex() or None
        if default_id:
            eid = sid if not on_event or sid is None else f"{sid}/{index}"
        elif id_read is not None:
            eid = _event_id(id_read(span, attrs, ctx, ev), id_where)
        else:
            eid = None
        record = {"span": span.name, "event": ev.name} if on_event else {"span": span.name}
        return Event(k, t / _NS, action, tuple(values), eid, record, origin,
                     span.trace_id.hex() or None, sid)

    return build


def _key_part(v: Any, where: str) -> str:
    if v is MISSING or v is None:
        raise RecordError("missing_key", f"{where}: no key (absent or null)")
    try:
        return to_key_part(v)
    except BadValue as exc:
        raise RecordError("bad_key", f"{where}: {exc}") from None


def _event_id(v: Any, where: str) -> str | None:
    if v is MISSING or v is None:
        return None
    try:
        return to_id(v)
    except BadValue as exc:
        raise RecordError("bad_id", f"{where}: {exc}") from None

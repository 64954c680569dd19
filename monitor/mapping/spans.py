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
from monitor.mapping.span_lean import builder
from monitor.mapping.span_read import Ctx, any_value
from monitor.mapping.span_rules import SpanRule, SpanSection, Src

__all__ = ["SpanBatch", "SpanMapper"]


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
    per-request state, only the attribute positions it memoises, which are hints: a
    mapper may be shared between threads (a stale position only costs a scan)."""

    def __init__(self, section: SpanSection) -> None:
        self.section = section
        # built from the dispatch tables' copies: the condition dispatched on (the span
        # name; the span event name) is not tested again
        builds: dict[int, Any] = {}
        for table, rest in ((section.by_name, section.any_name),
                            (section.by_event, section.any_event)):
            for r in (*rest, *(r for rs in table.values() for r in rs)):
                if r.index not in builds:
                    builds[r.index] = builder(r)
        by_name = {v: _span_picker(rs, builds) for v, rs in section.by_name.items()}
        any_name = _span_picker(section.any_name, builds)
        self._by_event = {v: _event_picker(rs, builds) for v, rs in section.by_event.items()}
        self._any_event = _event_picker(section.any_event, builds)
        # span events are read only in spans whose name some span event rule allows
        # (every rule constrains `name`), else in every span: ~0.25 us per span saved
        names = [dict(r.conds).get(("name",)) for r in section.rules if r.on_event]
        event_spans: frozenset[str] | None = (
            None if not names or None in names else frozenset().union(*names))
        self._event_spans = event_spans
        # span name -> (picker, read its span events?): one lookup per span
        every = event_spans is None and section.has_event_rules
        self._default: tuple[Any, bool] = (any_name, every)
        self._by_name: dict[Any, tuple[Any, bool]] = {
            v: (by_name.get(v, any_name), every or v in (event_spans or ()))
            for v in {*by_name, *(event_spans or ())}}
        dims = {d for r in section.rules for d, _ in r.conds}
        srcs = [s for r in section.rules for s in (*r.key, *(a[1] for a in r.args),
                                                   *([r.id] if isinstance(r.id, Src) else []))]
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
        by_name, default = self._by_name.get, self._default
        by_event, any_event = self._by_event.get, self._any_event
        needs_resource, needs_scope = self._needs_resource, self._needs_scope
        for rs in req.resource_spans:
            if needs_resource:
                ctx.resource = {kv.key: any_value(kv.value) for kv in rs.resource.attributes}
            for ss in rs.scope_spans:
                if needs_scope:
                    ctx.scope = ss.scope.name
                sspans = ss.spans
                spans += len(sspans)
                for span in sspans:
                    name = span.name
                    pick, read_events = by_name(name, default)
                    try:
                        ev = pick(span, name, ctx, origin) if pick is not None else None
                        sevs = span.events if read_events else None
                        if not sevs:
                            if ev is None:
                                unmatched += 1
                            else:
                                events.append(ev)
                            continue
                        mine = _span_events(span, name, sevs, ctx, origin, by_event,
                                            any_event)
                    except RecordError as exc:
                        _reject(batch, span, exc)
                        continue
                    except RecursionError:  # an array attribute nested ~1000 deep
                        _reject(batch, span, RecordError(
                            "bad_arg", "an attribute value is nested too deeply"))
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


def _span_events(span: Any, name: str, sevs: Any, ctx: Ctx, origin: Any,
                 by_event: Callable[..., Any], any_event: Any) -> list[Event]:
    out = []
    attrs = span.attributes
    for i, sev in enumerate(sevs):
        pick = by_event(sev.name, any_event)
        if pick is not None:
            ev = pick(span, name, attrs, ctx, sev, i, origin)
            if ev is not None:
                out.append(ev)
    return out


def _reject(batch: SpanBatch, span: Any, exc: RecordError) -> None:
    batch.rejected += 1
    batch.causes[exc.cause] = batch.causes.get(exc.cause, 0) + 1
    if batch.error is None:
        sid = span.span_id.hex() if span.span_id else "none"
        batch.error = f"span {span.name!r} (span_id {sid}): {exc}"


def _span_picker(rules: tuple[SpanRule, ...], builds: dict[int, Any]) -> Any:
    """(span, name, ctx, origin) -> Event | None over the candidates in file order, or
    None when there are none (the span is unmatched without reading anything)."""
    if not rules:
        return None
    steps = [builds[r.index] for r in rules]
    if len(steps) == 1:
        return steps[0]

    def pick(span: Any, name: str, ctx: Ctx, origin: Any) -> Event | None:
        for build in steps:
            ev = build(span, name, ctx, origin)
            if ev is not None:
                return ev
        return None

    return pick


def _event_picker(rules: tuple[SpanRule, ...], builds: dict[int, Any]) -> Any:
    if not rules:
        return None
    steps = [builds[r.index] for r in rules]
    if len(steps) == 1:
        return steps[0]

    def pick(span: Any, name: str, attrs: Any, ctx: Ctx, sev: Any, i: int,
             origin: Any) -> Event | None:
        for build in steps:
            ev = build(span, name, attrs, ctx, sev, i, origin)
            if ev is not None:
                return ev
        return None

    return pick

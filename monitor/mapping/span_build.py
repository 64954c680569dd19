"""Per rule of ``spans:``, the function that tests the rule's remaining conditions on a
span (or span event) and builds its ``Event``, or raises ``RecordError`` naming the
cause and the source (``attributes['payment.amount']: expected int, got 'abc'``).

Why it looks the way it does (numbers on one core, upb protobuf, quiet machine): every
protobuf field read from Python allocates (a sub-message wrapper ~0.2 us, a string
~0.08 us), so a builder reads each field once, attributes through ``attr_lookup``
(remembered position, the parameter's AnyValue field first). This is the general
builder, for every rule; the common shapes have their own in ``span_lean``, which
also chooses between them. Pure: no I/O, no OpenTelemetry import.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from monitor.engine.events import Event
from monitor.errors import RecordError
from monitor.mapping.convert import BadValue, to_id, to_key_part
from monitor.mapping.paths import MISSING
from monitor.mapping.rules import norm
from monitor.mapping.span_read import WANT, Ctx, Reader, attr_lookup, reader
from monitor.mapping.span_rules import SpanRule

__all__ = ["Build", "SpanBuild"]

#: span rules: (span, span name, ctx, origin) -> Event | None
SpanBuild = Callable[[Any, str, Ctx, Any], Event | None]
#: span event rules: (span, span name, span attributes, ctx, span event, index, origin)
Build = Callable[[Any, str, Any, Ctx, Any, int, Any], Event | None]
Check = Callable[[Any, Any, Ctx, Any], bool]

_NS = 1_000_000_000
_TIME_FIELDS = {"end": "end_time_unix_nano", "start": "start_time_unix_nano",
                "event": "time_unix_nano"}


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
    look = attr_lookup(k)
    if what == "attr":
        return lambda span, attrs, ctx, ev: norm(look(attrs))
    return lambda span, attrs, ctx, ev: norm(look(ev.attributes))


def _check(rule: SpanRule) -> Check | None:
    if not rule.conds:
        return None
    if len(rule.conds) == 1 and rule.conds[0][0] in (("kind",), ("status",)):
        # the common extra condition, in one call: span.kind / span.status.code are ints
        (((what,), values),) = rule.conds
        if what == "kind":
            return lambda span, attrs, ctx, ev: span.kind in values
        return lambda span, attrs, ctx, ev: span.status.code in values
    pairs = [(_cond_value(d), values) for d, values in rule.conds]
    if len(pairs) == 1:
        ((get, values),) = pairs

        def check1(span: Any, attrs: Any, ctx: Ctx, ev: Any) -> bool:
            try:
                return get(span, attrs, ctx, ev) in values
            except TypeError:  # an unhashable value (an array attribute) equals no scalar
                return False

        return check1

    def check(span: Any, attrs: Any, ctx: Ctx, ev: Any) -> bool:
        try:
            for get, values in pairs:
                if get(span, attrs, ctx, ev) not in values:
                    return False
        except TypeError:
            return False
        return True

    return check


def _key_part(v: Any, where: str) -> str:
    if v is MISSING or v is None:
        raise RecordError("missing_key", f"{where}: no key (absent or null)")
    try:
        return to_key_part(v)
    except BadValue as exc:
        raise RecordError("bad_key", f"{where}: {exc}") from None


def _arg(v: Any, conv: Callable[[Any], Any], where: str, what: str, tname: str) -> Any:
    if v is MISSING:
        raise RecordError("missing_arg", f"{where}: missing ({what}: {tname})")
    try:
        return conv(v)
    except BadValue as exc:
        raise RecordError("bad_arg", f"{where}: {exc} ({what})") from None


def _event_id(v: Any, where: str) -> str | None:
    if v is MISSING or v is None:
        return None
    try:
        return to_id(v)
    except BadValue as exc:
        raise RecordError("bad_id", f"{where}: {exc}") from None


def _missing_time(where: str) -> RecordError:
    return RecordError("missing_time", f"{where}: no time (zero or absent)")


def _general(rule: SpanRule) -> Build:
    check, action, on_event = _check(rule), rule.action, rule.on_event
    keys = [(reader(s, "string_value"), s.where()) for s in rule.key]
    time_field = _TIME_FIELDS[rule.time]
    from_event = rule.time == "event"
    time_where = ("event." if from_event else "") + time_field
    default_id = rule.id == "default"
    id_src = rule.id if not isinstance(rule.id, str) else None
    id_read, id_where = (reader(id_src), id_src.where()) if id_src is not None else (None, "")
    # constants were converted when the mapping loaded (or are the Python default)
    args = [(reader(src, WANT.get(conv.exact)), conv.fn if src.kind != "const" else None,
             src.where(), f"{action}.{name}", conv.name) for name, src, conv in rule.args]

    def build(span: Any, name: str, attrs: Any, ctx: Ctx, ev: Any, index: int,
              origin: Any) -> Event | None:
        if check is not None and not check(span, attrs, ctx, ev):
            return None
        k = "/".join([_key_part(get(span, attrs, ctx, ev), where) for get, where in keys])
        t = getattr(ev if from_event else span, time_field)
        if not t:
            raise _missing_time(time_where)
        values = tuple([get(span, attrs, ctx, ev) if conv is None
                        else _arg(get(span, attrs, ctx, ev), conv, where, what, tname)
                        for get, conv, where, what, tname in args])
        sid = span.span_id.hex() or None
        if default_id:
            eid = sid if not on_event or sid is None else f"{sid}/{index}"
        elif id_read is not None:
            eid = _event_id(id_read(span, attrs, ctx, ev), id_where)
        else:
            eid = None
        record = {"span": name, "event": ev.name} if on_event else {"span": name}
        return Event(k, t / _NS, action, values, eid, record, origin,
                     span.trace_id.hex() or None, sid)

    return build

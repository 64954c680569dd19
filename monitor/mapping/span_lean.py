"""The build functions of the common span rule shapes, with the attribute lookups,
conditions and time read written inline, and ``builder``, which picks them or the
general one of ``span_build``.

Why: per mapped span the general builders made 4-6 Python calls (the condition, a
lookup per attribute, the time getter), about a third of the mapping's instructions
(callgrind, bench/spans.py trace: 28.4k -> see the commit). Each lookup here tries the
position its key was found at last time (instrumentation writes attributes in the
same order every time, see ``span_read``), reads the AnyValue field the parameter's
type is usually given in, and only when that is empty (unset, or a zero/empty value)
takes the exact slow path of ``span_read``: same values, same errors. Pure.
"""

from __future__ import annotations

from typing import Any

from monitor.engine.events import Event
from monitor.mapping.paths import MISSING
from monitor.mapping.span_build import (
    Build,
    SpanBuild,
    _arg,
    _check,
    _general,
    _key_part,
    _missing_time,
)
from monitor.mapping.span_read import WANT, Ctx, any_value, attr_lookup
from monitor.mapping.span_rules import SpanRule

__all__ = ["builder"]

_NS = 1_000_000_000


def _scan(attrs: Any, key: str) -> tuple[int, Any]:
    """(position, KeyValue) of the first attribute named ``key``, or (0, None)."""
    i = 0
    for kv in attrs:
        if kv.key == key:
            return i, kv
        i += 1
    return 0, None


def builder(rule: SpanRule) -> SpanBuild | Build:
    """The rule's build function, a ``SpanBuild`` for span rules and a ``Build`` for
    span event rules. ``rule.conds`` should no longer hold the condition the caller
    dispatched on (``SpanMapper`` passes the dispatch table's copies)."""
    key_attr = len(rule.key) == 1 and rule.key[0].kind == "attr"
    if rule.on_event:
        if (key_attr and rule.id == "default" and rule.time == "event"
                and len(rule.args) == 1 and rule.args[0][1].kind == "event"
                and rule.args[0][2].exact in WANT):
            return _lean_event(rule)
        return _general(rule)
    if key_attr and rule.id == "default" and all(src.kind in ("attr", "const")
                                                 for _n, src, _c in rule.args):
        return _lean(rule)
    general = _general(rule)
    return lambda span, name, ctx, origin: general(span, name, span.attributes, ctx, None, 0,
                                                   origin)


def _split(rule: SpanRule) -> tuple[Any, Any, Any, Any]:
    """(span names, kinds, status codes, general check): the one condition left after
    dispatch, when it is one of the first three, tested inline; else a check function."""
    if len(rule.conds) == 1:
        ((dim, values),) = rule.conds
        if dim == ("name",):
            return values, None, None, None
        if dim == ("kind",):
            return None, values, None, None
        if dim == ("status",):
            return None, None, values, None
    return None, None, None, _check(rule)


def _lean(rule: SpanRule) -> SpanBuild:
    """A span rule whose key is one span attribute, whose arguments are span attributes
    or constants, with the default id (the span id)."""
    names, kinds, statuses, check = _split(rule)
    action = rule.action
    key, kwhere = rule.key[0].name, rule.key[0].where()
    from_end = rule.time == "end"
    time_field = "end_time_unix_nano" if from_end else "start_time_unix_nano"
    args = [(attr_lookup(src.name, WANT.get(conv.exact)) if src.kind == "attr" else None,
             src.const, conv.fn, conv.exact, src.where(), f"{action}.{name}", conv.name)
            for name, src, conv in rule.args]
    const_args = None if any(a[0] for a in args) else tuple(a[1] for a in args)
    # one attribute argument of a type with its own AnyValue field (capture(amount)):
    # looked up inline too
    one = (len(args) == 1 and const_args is None and args[0][3] in WANT)
    akey = rule.args[0][1].name if one else ""
    want = WANT.get(args[0][3], "") if one else ""
    want_int = want == "int_value"
    exact, aslow = (args[0][3], (*args[0][2:3], *args[0][4:])) if one else (None, ())
    pk = pa = 0

    def build(span: Any, name: str, ctx: Ctx, origin: Any) -> Event | None:
        nonlocal pk, pa
        if names is not None:
            if name not in names:
                return None
        elif kinds is not None:
            if span.kind not in kinds:
                return None
        elif statuses is not None:
            if span.status.code not in statuses:
                return None
        elif check is not None and not check(span, span.attributes, ctx, None):
            return None
        attrs = span.attributes
        try:
            kv = attrs[pk]
        except IndexError:
            kv = None
        if kv is None or kv.key != key:
            i, kv = _scan(attrs, key)
            if kv is not None:
                pk = i
        k = kv.value.string_value if kv is not None else ""
        if not k:
            k = any_value(kv.value) if kv is not None else MISSING
            if type(k) is not str:
                k = _key_part(k, kwhere)
        t = span.end_time_unix_nano if from_end else span.start_time_unix_nano
        if not t:
            raise _missing_time(time_field)
        if one:
            try:
                kv = attrs[pa]
            except IndexError:
                kv = None
            if kv is None or kv.key != akey:
                i, kv = _scan(attrs, akey)
                if kv is not None:
                    pa = i
            if kv is None:
                v = _arg(MISSING, *aslow)
            else:
                value = kv.value
                v = value.int_value if want_int else getattr(value, want)
                if not v:
                    v = any_value(value)
                    if type(v) is not exact:
                        v = _arg(v, *aslow)
            values: tuple[Any, ...] = (v,)
        elif const_args is not None:
            values = const_args
        else:
            out = []
            for read, const, conv, ex, where, what, tname in args:
                if read is None:
                    out.append(const)
                    continue
                v = read(attrs)
                out.append(v if type(v) is ex else _arg(v, conv, where, what, tname))
            values = tuple(out)
        sid = span.span_id.hex() or None
        return Event(k, t / _NS, action, values, sid, {"span": name}, origin,
                     span.trace_id.hex() or None, sid)

    return build


def _lean_event(rule: SpanRule) -> Build:
    """A span event rule whose key is one span attribute and whose one argument is an
    attribute of the span event, at the span event's time, with the default id (the
    span id and the span event's index)."""
    names, kinds, statuses, check = _split(rule)
    action = rule.action
    key, kwhere = rule.key[0].name, rule.key[0].where()
    ((pname, asrc, conv),) = rule.args
    akey, want, exact = asrc.name, WANT[conv.exact], conv.exact
    aslow = (conv.fn, asrc.where(), f"{action}.{pname}", conv.name)
    want_int = want == "int_value"
    pk = pa = 0

    def build(span: Any, name: str, attrs: Any, ctx: Ctx, sev: Any, index: int,
              origin: Any) -> Event | None:
        nonlocal pk, pa
        if names is not None:
            if name not in names:
                return None
        elif kinds is not None:
            if span.kind not in kinds:
                return None
        elif statuses is not None:
            if span.status.code not in statuses:
                return None
        elif check is not None and not check(span, attrs, ctx, sev):
            return None
        try:
            kv = attrs[pk]
        except IndexError:
            kv = None
        if kv is None or kv.key != key:
            i, kv = _scan(attrs, key)
            if kv is not None:
                pk = i
        k = kv.value.string_value if kv is not None else ""
        if not k:
            k = any_value(kv.value) if kv is not None else MISSING
            if type(k) is not str:
                k = _key_part(k, kwhere)
        t = sev.time_unix_nano
        if not t:
            raise _missing_time("event.time_unix_nano")
        eattrs = sev.attributes
        try:
            kv = eattrs[pa]
        except IndexError:
            kv = None
        if kv is None or kv.key != akey:
            i, kv = _scan(eattrs, akey)
            if kv is not None:
                pa = i
        if kv is None:
            v = _arg(MISSING, *aslow)
        else:
            value = kv.value
            v = value.int_value if want_int else getattr(value, want)
            if not v:
                v = any_value(value)
                if type(v) is not exact:
                    v = _arg(v, *aslow)
        sid = span.span_id.hex() or None
        return Event(k, t / _NS, action, (v,), sid if sid is None else f"{sid}/{index}",
                     {"span": name, "event": sev.name}, origin, span.trace_id.hex() or None,
                     sid)

    return build

"""Reading values out of OTLP spans for the ``spans:`` section: attribute lookups,
``AnyValue`` -> Python, and one *reader* per value source of a compiled rule.

Everything reads the protobuf objects (or anything with the same field names and a
``WhichOneof`` method, like the OTLP JSON views of ``monitor.sources.otlp_json``)
field by field: converting whole spans to dicts costs about 15x the protobuf parse.
With upb, every element of a repeated field read from Python allocates a wrapper
(~200 ns per attribute), so scanning a span's 10 attributes for one key costs ~4 us;
``attr_lookup`` remembers where its key was last found (instrumentation writes
attributes in the same order every time) and tries that position first: ~0.3 us.

Pure: no I/O, no OpenTelemetry import.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from monitor.mapping.paths import MISSING
from monitor.mapping.span_rules import KINDS, STATUSES, Src

__all__ = ["WANT", "Ctx", "Reader", "any_value", "attr_lookup", "reader"]

KIND_NAMES = {v: k for k, v in KINDS.items()}
STATUS_NAMES = {v: k for k, v in STATUSES.items()}

#: (span, span attributes, context, span event or None) -> value, or MISSING
Reader = Callable[[Any, Any, "Ctx", Any], Any]


class Ctx:
    """What a span's resource and scope contribute: read once per ``ResourceSpans``
    (the resource attributes as a dict, only when some rule reads them) and once per
    ``ScopeSpans`` (the scope name)."""

    __slots__ = ("resource", "scope")

    def __init__(self) -> None:
        self.resource: dict[str, Any] = {}
        self.scope = ""


def any_value(v: Any) -> Any:
    """An ``AnyValue`` as the JSON value it stands for: string, int, float, bool, a list
    for ``array_value``, a dict for ``kvlist_value`` (which no argument accepts), the
    lowercase hex of ``bytes_value``; None for an empty AnyValue; MISSING for None."""
    if v is None:
        return MISSING
    which = v.WhichOneof("value")
    if which is None:
        return None
    x = getattr(v, which)
    if which == "array_value":
        return [any_value(i) for i in x.values]
    if which == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in x.values}
    if which == "bytes_value":
        return x.hex()
    return x


#: the AnyValue field a parameter's type is usually given in: read it first, and only
#: when it is empty (unset, or a zero/empty value) ask ``WhichOneof`` (~0.1 us saved)
WANT: dict[Any, str] = {str: "string_value", int: "int_value", float: "double_value",
                        bool: "bool_value"}


def attr_lookup(key: str, want: str | None = None) -> Callable[[Any], Any]:
    """A function finding ``key`` in a span's (or span event's) attribute list and
    returning its value as ``any_value`` does (MISSING when absent). It tries first
    the position where it found the key last time."""
    pos = 0

    def lookup(attrs: Any) -> Any:
        nonlocal pos
        try:
            kv = attrs[pos]
        except IndexError:
            kv = None
        if kv is None or kv.key != key:
            i = 0
            for kv in attrs:
                if kv.key == key:
                    pos = i
                    break
                i += 1
            else:
                return MISSING
        v = kv.value
        if want is not None:
            x = getattr(v, want)
            if x:
                return x
        return any_value(v)

    return lookup


def _hex(b: Any) -> str | None:
    return b.hex() if b else None


def reader(src: Src, want: str | None = None) -> Reader:
    """The function reading ``src`` from a span (and span event); ``want`` is the
    AnyValue field to try first for attributes."""
    kind, name = src.kind, src.name
    if kind == "const":
        c = src.const
        return lambda span, attrs, ctx, ev: c
    if kind == "attr":
        look = attr_lookup(name, want)
        return lambda span, attrs, ctx, ev: look(attrs)
    if kind == "event":
        elook = attr_lookup(name, want)
        return lambda span, attrs, ctx, ev: elook(ev.attributes)
    if kind == "resource":
        return lambda span, attrs, ctx, ev: ctx.resource.get(name, MISSING)
    return _FIELD_READERS[name]


_FIELD_READERS: dict[str, Reader] = {
    "name": lambda span, attrs, ctx, ev: span.name,
    "trace_id": lambda span, attrs, ctx, ev: _hex(span.trace_id) or MISSING,
    "span_id": lambda span, attrs, ctx, ev: _hex(span.span_id) or MISSING,
    "parent_span_id": lambda span, attrs, ctx, ev: _hex(span.parent_span_id) or MISSING,
    "kind": lambda span, attrs, ctx, ev: KIND_NAMES.get(span.kind, span.kind),
    "status": lambda span, attrs, ctx, ev: STATUS_NAMES.get(span.status.code, span.status.code),
    "status_message": lambda span, attrs, ctx, ev: span.status.message,
    "scope": lambda span, attrs, ctx, ev: ctx.scope,
    "event_name": lambda span, attrs, ctx, ev: ev.name,
}

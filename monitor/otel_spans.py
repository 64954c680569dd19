"""SDK spans (``ReadableSpan``) seen with the field names of OTLP protobuf, so that
``SpanMapper`` maps them as it maps an ``ExportTraceServiceRequest``, without encoding
them first: the SDK's OTLP encoder (``encode_spans``) builds every field and every
attribute as a protobuf message from Python, ~70 us a span with 10 attributes, 20x
what mapping the span costs. Here a span costs a few plain objects, and an attribute
becomes a ``KeyValue`` look-alike only when the mapper reads it.

The values are those the encoder would give, as ``span_read.any_value`` reads them: span
kinds and status codes as OTLP numbers, ids as big-endian bytes, attribute values by
the encoder's rules (None is an empty AnyValue, bytes stay bytes, sequences are
arrays, mappings key/value lists), and an attribute the encoder would drop (an int
outside int64, a value of another type) is left out. A test holds the two to the same
events. Spans are grouped by resource and instrumentation scope, as the encoder does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from opentelemetry.trace import SpanKind

__all__ = ["sdk_request"]

#: the OTLP ``Span.SpanKind`` number of each SDK kind (the API's enum starts at 0)
_KINDS = {SpanKind.INTERNAL: 1, SpanKind.SERVER: 2, SpanKind.CLIENT: 3, SpanKind.PRODUCER: 4,
          SpanKind.CONSUMER: 5}
_INT64 = range(-(1 << 63), 1 << 63)


class _Value:
    """An ``AnyValue``: each subclass sets one member of the oneof, the others read as
    their protobuf defaults."""

    __slots__ = ()
    which: str | None = None
    string_value = ""
    bool_value = False
    int_value = 0
    double_value = 0.0
    bytes_value = b""
    array_value: Any = None
    kvlist_value: Any = None

    def WhichOneof(self, _oneof: str) -> str | None:  # noqa: N802 (the protobuf name)
        return self.which


class _Str(_Value):
    __slots__ = ("string_value",)
    which = "string_value"

    def __init__(self, v: str) -> None:
        self.string_value = v


class _Bool(_Value):
    __slots__ = ("bool_value",)
    which = "bool_value"

    def __init__(self, v: bool) -> None:
        self.bool_value = v


class _Int(_Value):
    __slots__ = ("int_value",)
    which = "int_value"

    def __init__(self, v: int) -> None:
        self.int_value = v


class _Float(_Value):
    __slots__ = ("double_value",)
    which = "double_value"

    def __init__(self, v: float) -> None:
        self.double_value = v


class _Bytes(_Value):
    __slots__ = ("bytes_value",)
    which = "bytes_value"

    def __init__(self, v: bytes) -> None:
        self.bytes_value = v


class _Values:
    """``ArrayValue`` and ``KeyValueList``: a ``values`` list."""

    __slots__ = ("values",)

    def __init__(self, values: list[Any]) -> None:
        self.values = values


class _Array(_Value):
    __slots__ = ("array_value",)
    which = "array_value"

    def __init__(self, v: _Values) -> None:
        self.array_value = v


class _KvList(_Value):
    __slots__ = ("kvlist_value",)
    which = "kvlist_value"

    def __init__(self, v: _Values) -> None:
        self.kvlist_value = v


_EMPTY = _Value()
_PLAIN = {str: _Str, float: _Float, bool: _Bool}


def _value(v: Any) -> _Value:
    """``v`` as the encoder's ``_encode_value`` encodes it; raises where it fails."""
    cls = _PLAIN.get(type(v))
    if cls is not None:
        return cls(v)
    if v is None:
        return _EMPTY
    if isinstance(v, bool):
        return _Bool(bool(v))
    if isinstance(v, str):
        return _Str(str(v))
    if isinstance(v, int):
        if v not in _INT64:
            raise ValueError(f"{v} is out of int64 range")
        return _Int(int(v))
    if isinstance(v, float):
        return _Float(float(v))
    if isinstance(v, bytes):
        return _Bytes(bytes(v))
    if isinstance(v, Sequence):
        return _Array(_Values([_value(x) for x in v]))
    if isinstance(v, Mapping):
        return _KvList(_Values([_KV(str(k), _value(x)) for k, x in v.items()]))
    raise ValueError(f"invalid type {type(v)}")


class _KV:
    __slots__ = ("key", "value")

    def __init__(self, key: str, value: _Value) -> None:
        self.key = key
        self.value = value


class _Attrs:
    """The ``attributes`` list over an attribute mapping: each item made a ``KeyValue``
    when read. The SDK's ``BoundedAttributes`` is a mapping written in Python (~0.1 us
    an item read), so only the keys are listed up front (one call), and a value is read
    when its item is. An item the encoder would drop is left out once one is met: the
    list is rebuilt without them (positions are only hints to the mapper; keys are
    unique, and every item is checked against its key)."""

    __slots__ = ("_keys", "_map", "_clean")

    def __init__(self, attributes: Mapping[str, Any] | None) -> None:
        self._map = attributes if attributes else {}
        self._keys = list(self._map)
        self._clean = False

    def _drop_bad(self) -> None:
        keep = []
        for k in self._keys:
            try:
                _value(self._map[k])
            except Exception:  # what the encoder logs and drops
                continue
            keep.append(k)
        self._keys, self._clean = keep, True

    def __len__(self) -> int:
        if not self._clean:
            self._drop_bad()
        return len(self._keys)

    def __getitem__(self, i: int) -> _KV:
        k = self._keys[i]
        try:
            return _KV(k, _value(self._map[k]))
        except Exception:  # what the encoder logs and drops
            self._drop_bad()
            return self[i]

    def __iter__(self) -> Iterator[_KV]:
        i = 0
        while True:
            try:
                kv = self[i]
            except IndexError:
                return
            yield kv
            i += 1


class _Status:
    __slots__ = ("code", "message")

    def __init__(self, status: Any) -> None:
        self.code = status.status_code.value if status is not None else 0
        self.message = (status.description or "") if status is not None else ""


class _Event:
    __slots__ = ("attributes", "name", "time_unix_nano")

    def __init__(self, event: Any) -> None:
        self.name = event.name
        self.time_unix_nano = event.timestamp or 0
        self.attributes = _Attrs(event.attributes)


class _Span:
    __slots__ = ("_events", "_span", "attributes", "end_time_unix_nano", "kind", "name",
                 "span_id", "start_time_unix_nano", "trace_id")

    def __init__(self, span: Any) -> None:
        ctx = span.get_span_context()
        self._span = span
        self.name = span.name
        self.kind = _KINDS[span.kind]
        self.trace_id = ctx.trace_id.to_bytes(16, "big")
        self.span_id = ctx.span_id.to_bytes(8, "big")
        self.start_time_unix_nano = span.start_time or 0
        self.end_time_unix_nano = span.end_time or 0
        self.attributes = _Attrs(span.attributes)
        self._events: list[_Event] | None = None

    # read by few rules: made when asked
    @property
    def events(self) -> list[_Event]:
        if self._events is None:
            self._events = [_Event(e) for e in self._span.events]
        return self._events

    @property
    def status(self) -> _Status:
        return _Status(self._span.status)

    @property
    def parent_span_id(self) -> bytes:
        parent = self._span.parent
        return parent.span_id.to_bytes(8, "big") if parent else b""


class _Named:
    """``InstrumentationScope`` (``name``) and ``Resource`` (``attributes``)."""

    __slots__ = ("attributes", "name")

    def __init__(self, name: str, attributes: _Attrs) -> None:
        self.name = name
        self.attributes = attributes


class _Group:
    """``ResourceSpans`` and ``ScopeSpans``."""

    __slots__ = ("resource", "scope", "scope_spans", "spans")

    def __init__(self, resource: Any = None, scope: Any = None) -> None:
        self.resource, self.scope = resource, scope
        self.scope_spans: list[_Group] = []
        self.spans: list[_Span] = []


class _Request:
    __slots__ = ("resource_spans",)

    def __init__(self, resource_spans: list[_Group]) -> None:
        self.resource_spans = resource_spans


def sdk_request(spans: Sequence[Any]) -> _Request:
    """An ``ExportTraceServiceRequest`` look-alike of ``spans`` (SDK ``ReadableSpan``s)."""
    groups: dict[Any, dict[Any, list[_Span]]] = {}
    # the encoder groups by equal resources and scopes; hashing a Resource encodes its
    # attributes as JSON, so it is done once per distinct object, not once per span
    lists: dict[tuple[int, int], list[_Span]] = {}  # by (id(resource), id(scope))
    for span in spans:
        res, scope = span.resource, span.instrumentation_scope or None
        mine = lists.get((id(res), id(scope)))
        if mine is None:
            mine = lists[id(res), id(scope)] = groups.setdefault(res, {}).setdefault(scope, [])
        mine.append(_Span(span))
    out = []
    for resource, by_scope in groups.items():
        rs = _Group(resource=_Named("", _Attrs(resource.attributes)))
        for scope, mine in by_scope.items():
            ss = _Group(scope=_Named(scope.name if scope is not None else "", _Attrs(None)))
            ss.spans = mine
            rs.scope_spans.append(ss)
        out.append(rs)
    return _Request(out)

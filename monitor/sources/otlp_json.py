"""OTLP JSON (``application/json`` bodies, the Collector's file exporter lines, Kafka
``otlp_json``) decoded with msgspec.

The JSON follows the OTLP spec, not protobuf's canonical JSON mapping: trace and span
ids are hex strings (``json_format.Parse`` would read them as base64), enums are
integers, keys are lowerCamelCase, 64-bit integers are decimal strings (numbers are
accepted too), and unknown fields are ignored.

Two results from one decode:

- ``decode_otlp_view(body)``: *views*, msgspec Structs whose attribute names are the
  protobuf field names (``resource_spans``, ``span_id`` as bytes, ``AnyValue`` with a
  ``WhichOneof`` method), so ``SpanMapper`` reads them exactly as it reads protobuf
  objects. This is the fast path (replay of JSON lines, and what a receiver should map):
  on the benchmark's spans (10 attributes) decoding the views costs ~5 us per span.
- ``decode_otlp_json(body)``: a real ``ExportTraceServiceRequest`` (the views encoded to
  protobuf wire format by ``otlp_wire`` and parsed by protobuf in C): ~20 us per span,
  for code that needs the message itself (setting the fields from Python would cost
  18-40 us per span).

Errors are ``RecordError`` (cause ``malformed``) naming the JSON path, e.g.
``$.resourceSpans[0].scopeSpans[0].spans[3].spanId: expected 16 hex digits, got 'xyz'``.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType, field

from monitor.errors import RecordError

__all__ = ["AnyValue", "ExportTraceServiceRequestView", "KeyValue", "SpanId", "SpanView", "TraceId",
           "decode_otlp_json", "decode_otlp_view"]


class TraceId(bytes):
    """A trace id: 32 hex digits in JSON (or empty: unset)."""


class SpanId(bytes):
    """A span id: 16 hex digits in JSON (or empty: unset, e.g. a root span's parent)."""


_DIGITS: dict[type, int] = {TraceId: 32, SpanId: 16}


def _dec_hook(typ: type, obj: Any) -> Any:
    digits = _DIGITS.get(typ)
    if digits is None:
        raise NotImplementedError(typ)
    if type(obj) is not str:
        raise TypeError(f"expected {digits} hex digits, got {obj!r}")
    if len(obj) != digits and obj:
        raise ValueError(f"expected {digits} hex digits, got {obj[:40]!r}")
    try:
        return typ(bytes.fromhex(obj))
    except ValueError:
        raise ValueError(f"expected {digits} hex digits, got {obj[:40]!r}") from None


class _View(msgspec.Struct, rename="camel", gc=False):
    pass


#: protobuf's unsigned field types: out-of-range values are malformed, as in protobuf
#: (times up to 2**63 - 1 ns, the year 2262: msgspec's bounds must fit an int64)
Fixed64 = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
UInt32 = Annotated[int, msgspec.Meta(ge=0, le=2**32 - 1)]
Enum = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]


class ArrayValue(_View):
    values: list[AnyValue] = []


class KeyValueList(_View):
    values: list[KeyValue] = []


class AnyValue(_View):
    """One of the value fields is set (none: an empty value, JSON null)."""

    string_value: str | UnsetType = UNSET
    int_value: Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)] | UnsetType = UNSET
    double_value: float | UnsetType = UNSET
    bool_value: bool | UnsetType = UNSET
    array_value: ArrayValue | UnsetType = UNSET
    kvlist_value: KeyValueList | UnsetType = UNSET
    bytes_value: bytes | UnsetType = UNSET

    def WhichOneof(self, _group: str) -> str | None:  # noqa: N802 - protobuf's name
        if self.string_value is not UNSET:
            return "string_value"
        if self.int_value is not UNSET:
            return "int_value"
        if self.double_value is not UNSET:
            return "double_value"
        if self.bool_value is not UNSET:
            return "bool_value"
        if self.array_value is not UNSET:
            return "array_value"
        if self.kvlist_value is not UNSET:
            return "kvlist_value"
        if self.bytes_value is not UNSET:
            return "bytes_value"
        return None


class KeyValue(_View):
    key: str = ""
    value: AnyValue = field(default_factory=AnyValue)


class Status(_View):
    message: str = ""
    code: Enum = 0


NO_STATUS = Status()


class Event(_View):
    time_unix_nano: Fixed64 = 0
    name: str = ""
    attributes: list[KeyValue] = []
    dropped_attributes_count: UInt32 = 0


class Link(_View):
    trace_id: TraceId = TraceId()
    span_id: SpanId = SpanId()
    trace_state: str = ""
    attributes: list[KeyValue] = []
    dropped_attributes_count: UInt32 = 0
    flags: UInt32 = 0


class SpanView(_View):
    trace_id: TraceId = TraceId()
    span_id: SpanId = SpanId()
    trace_state: str = ""
    parent_span_id: SpanId = SpanId()
    flags: UInt32 = 0
    name: str = ""
    kind: Enum = 0
    start_time_unix_nano: Fixed64 = 0
    end_time_unix_nano: Fixed64 = 0
    attributes: list[KeyValue] = []
    dropped_attributes_count: UInt32 = 0
    events: list[Event] = []
    dropped_events_count: UInt32 = 0
    links: list[Link] = []
    dropped_links_count: UInt32 = 0
    #: absent: the shared ``NO_STATUS`` (so the wire encoder can tell absent from
    #: ``{}``, which protobuf keeps apart)
    status: Status = field(default_factory=lambda: NO_STATUS)


class Scope(_View):
    name: str = ""
    version: str = ""
    attributes: list[KeyValue] = []
    dropped_attributes_count: UInt32 = 0


NO_SCOPE = Scope()


class ScopeSpans(_View):
    scope: Scope = field(default_factory=lambda: NO_SCOPE)
    spans: list[SpanView] = []
    schema_url: str = ""


class Resource(_View):
    attributes: list[KeyValue] = []
    dropped_attributes_count: UInt32 = 0


NO_RESOURCE = Resource()


class ResourceSpans(_View):
    resource: Resource = field(default_factory=lambda: NO_RESOURCE)
    scope_spans: list[ScopeSpans] = []
    schema_url: str = ""


class ExportTraceServiceRequestView(_View):
    resource_spans: list[ResourceSpans] = []


#: strict=False: int64 fields arrive as decimal strings (OTLP JSON) or numbers
_decoder = msgspec.json.Decoder(ExportTraceServiceRequestView, dec_hook=_dec_hook,
                                strict=False)


def decode_otlp_view(body: bytes) -> ExportTraceServiceRequestView:
    """One OTLP JSON document as views (see the module docstring)."""
    try:
        req = _decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise RecordError("malformed", _with_path_first(str(exc))) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise RecordError("malformed", f"$: not JSON: {exc}") from None
    except RecursionError:
        raise RecordError("malformed", "$: values nested too deeply") from None
    return req


def decode_otlp_json(body: bytes) -> Any:
    """One OTLP JSON document as an ``ExportTraceServiceRequest``; ``RecordError``
    (cause ``malformed``) naming the JSON path when it is not OTLP JSON."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    from monitor.sources.otlp_wire import encode_request

    view = decode_otlp_view(body)
    try:
        return ExportTraceServiceRequest.FromString(encode_request(view))
    except RecursionError:
        raise RecordError("malformed", "$: values nested too deeply") from None


def _with_path_first(message: str) -> str:
    """msgspec's ``"<what> - at `$.a.b`"`` as ``"$.a.b: <what>"``, like every other
    record error."""
    what, sep, where = message.rpartition(" - at `")
    if not sep:
        return f"$: {message}"
    return f"{where.rstrip('`')}: {what}"

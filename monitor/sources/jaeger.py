"""Jaeger JSON exports (the query API's and the UI's "Download JSON") read as OTLP
trace requests, for replay.

``{"data": [{traceID, spans: [{traceID, spanID, operationName, references, startTime
(us), duration (us), tags: [{key, type, value}], logs: [{timestamp, fields}],
processID}], processes: {id: {serviceName, tags}}}]}``

Each span becomes one request (views with protobuf's field names, see ``otlp_json``) so
that its origin in reports is the file and the span's index in it. The translation is
the reverse of the OpenTelemetry Collector's OTLP -> Jaeger one:

- ``operationName`` -> name; ``startTime + duration`` (us) -> end time (ns);
- the ``CHILD_OF`` reference (else the first one) -> parent span id; 64-bit trace ids
  are zero-padded to 128 bits;
- tags -> attributes by ``type`` (string, bool, int64, float64, binary), except
  ``span.kind`` -> kind, ``otel.status_code`` / ``otel.status_description`` (or
  ``error: true``) -> status, ``otel.scope.name`` / ``otel.library.name`` -> scope;
- logs -> span events: the ``event`` field is the name, the other fields attributes;
- the process's ``serviceName`` -> resource ``service.name``, its tags -> resource
  attributes.

A span that cannot be read is a ``RecordError`` (cause ``malformed``) naming its JSON
path; the other spans are read.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import msgspec

from monitor.errors import RecordError
from monitor.sources import otlp_json as v

__all__ = ["SpanOrigin", "read_jaeger"]

_KINDS = {"internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}
_STATUS = {"OK": 1, "ERROR": 2}


class SpanOrigin(msgspec.Struct, frozen=True, gc=False):
    """A span of a Jaeger export: the file and the span's index in it (from 0)."""

    file: str
    span: int


class _Tag(msgspec.Struct, gc=False):
    key: str
    value: Any = None
    type: str = "string"


class _Log(msgspec.Struct, gc=False):
    timestamp: int
    fields: list[_Tag] = []


class _Ref(msgspec.Struct, gc=False, rename="camel"):
    ref_type: str = "CHILD_OF"
    trace_id: str = msgspec.field(default="", name="traceID")
    span_id: str = msgspec.field(default="", name="spanID")


class _Span(msgspec.Struct, gc=False):
    traceID: str  # noqa: N815 - Jaeger's names
    spanID: str  # noqa: N815
    operationName: str = ""  # noqa: N815
    references: list[_Ref] | None = None
    startTime: int = 0  # noqa: N815
    duration: int = 0
    tags: list[_Tag] | None = None
    logs: list[_Log] | None = None
    processID: str = ""  # noqa: N815


class _Process(msgspec.Struct, gc=False):
    serviceName: str = ""  # noqa: N815
    tags: list[_Tag] | None = None


class _Trace(msgspec.Struct, gc=False):
    spans: list[msgspec.Raw] = []
    processes: dict[str, _Process] = {}


class _Export(msgspec.Struct, gc=False):
    data: list[_Trace] | None = None


_export = msgspec.json.Decoder(_Export)
_span = msgspec.json.Decoder(_Span)


def read_jaeger(path: str, body: bytes) -> Iterator[tuple[Any, Any]]:
    """(request view, ``SpanOrigin``) per span; a ``RecordError`` in place of the
    request for a span (or a whole file) that cannot be read."""
    try:
        export = _export.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        why = f"${_path_first(str(exc))} (not a Jaeger JSON export)"
        yield RecordError("malformed", why), SpanOrigin(path, 0)
        return
    index = 0
    for t, trace in enumerate(export.data or ()):
        resources = {}
        for s, raw in enumerate(trace.spans):
            origin = SpanOrigin(path, index)
            index += 1
            try:
                span = _span.decode(raw)
                res = resources.get(span.processID)
                if res is None:
                    res = resources[span.processID] = _resource(trace.processes, span.processID)
                yield _request(span, res), origin
            except RecursionError:
                yield RecordError("malformed", f"$.data[{t}].spans[{s}]: values nested too "
                                  "deeply"), origin
            except (msgspec.DecodeError, ValueError) as exc:
                # msgspec: "<what> - at `$.spanID`"; ours: ".traceID: <what>"
                why = (_path_first(str(exc)) if isinstance(exc, msgspec.DecodeError)
                       else str(exc))
                yield RecordError("malformed", f"$.data[{t}].spans[{s}]{why}"), origin


def _path_first(message: str) -> str:
    """msgspec's ``"<what> - at `$.x`"`` as ``".x: <what>"`` (``": <what>"`` at the root)."""
    what, found, where = message.rpartition(" - at `$")
    if not found:
        return f": {message}"
    return f"{where.rstrip('`')}: {what}"


def _any(tag: _Tag) -> v.AnyValue:
    t, x = tag.type, tag.value
    if t == "string" and type(x) is str:
        return v.AnyValue(string_value=x)
    if t == "bool" and type(x) is bool:
        return v.AnyValue(bool_value=x)
    if t == "int64" and type(x) is int:
        return v.AnyValue(int_value=x)
    if t == "int64" and type(x) is str and x.lstrip("-").isdigit():
        return v.AnyValue(int_value=int(x))
    if t == "float64" and type(x) in (int, float):
        return v.AnyValue(double_value=float(x))
    if t == "binary" and type(x) is str:
        try:
            return v.AnyValue(bytes_value=base64.b64decode(x, validate=True))
        except ValueError:
            pass
    raise ValueError(f".tags: tag {tag.key!r} of type {t!r} has the value {x!r}")


def _kvs(tags: list[_Tag] | None) -> list[v.KeyValue]:
    return [v.KeyValue(key=tag.key, value=_any(tag)) for tag in tags or ()]


def _resource(processes: dict[str, _Process], pid: str) -> v.Resource:
    proc = processes.get(pid)
    if proc is None:
        return v.Resource()
    attrs = [v.KeyValue(key="service.name", value=v.AnyValue(string_value=proc.serviceName))]
    return v.Resource(attributes=attrs + _kvs(proc.tags))


def _trace_id(text: str) -> v.TraceId:
    return v.TraceId(_hex(text, 32, "traceID"))


def _span_id(text: str, what: str) -> v.SpanId:
    return v.SpanId(_hex(text, 16, what))


def _hex(text: str, digits: int, what: str) -> bytes:
    """Jaeger drops leading zeros and has 64-bit trace ids: pad to ``digits``."""
    try:
        if len(text) <= digits:
            return bytes.fromhex(text.rjust(digits, "0"))
    except ValueError:
        pass
    raise ValueError(f".{what}: expected at most {digits} hex digits, got {text[:40]!r}")


def _request(s: _Span, resource: v.Resource) -> v.ExportTraceServiceRequestView:
    kind, code, message, scope, version = 0, 0, "", "", ""
    attributes = []
    for tag in s.tags or ():
        key = tag.key
        if key == "span.kind":
            kind = _KINDS.get(str(tag.value), 0)
        elif key == "otel.status_code":
            code = _STATUS.get(str(tag.value), 0)
        elif key == "otel.status_description":
            message = str(tag.value)
        elif key == "error" and tag.value in (True, "true"):
            code = code or 2
        elif key in ("otel.scope.name", "otel.library.name"):
            scope = str(tag.value)
        elif key in ("otel.scope.version", "otel.library.version"):
            version = str(tag.value)
        else:
            attributes.append(v.KeyValue(key=key, value=_any(tag)))
    refs = s.references or []
    parent = next((r for r in refs if r.ref_type == "CHILD_OF"), refs[0] if refs else None)
    events = []
    for log in s.logs or ():
        name = next((str(f.value) for f in log.fields if f.key == "event"), "")
        events.append(v.Event(time_unix_nano=log.timestamp * 1000, name=name,
                              attributes=_kvs([f for f in log.fields if f.key != "event"])))
    span = v.SpanView(
        trace_id=_trace_id(s.traceID), span_id=_span_id(s.spanID, "spanID"),
        parent_span_id=_span_id(parent.span_id, "references.spanID") if parent else v.SpanId(),
        name=s.operationName, kind=kind, start_time_unix_nano=s.startTime * 1000,
        end_time_unix_nano=(s.startTime + s.duration) * 1000, attributes=attributes,
        events=events, status=v.Status(code=code, message=message),
    )
    scope_view = v.Scope(name=scope, version=version) if scope or version else v.NO_SCOPE
    return v.ExportTraceServiceRequestView(resource_spans=[v.ResourceSpans(
        resource=resource, scope_spans=[v.ScopeSpans(scope=scope_view, spans=[span])])])

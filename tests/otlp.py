"""Test inputs made by the real OpenTelemetry SDK: spans recorded by a ``TracerProvider``
into an ``InMemorySpanExporter``, encoded by the OTLP exporter's own encoder
(``encode_spans``), and written in each trace-file format specmon reads.

``otlp_json`` turns a protobuf request into the Collector's JSON: protobuf's
``MessageToDict`` with integer enums (lowerCamelCase keys, int64 as strings), then the
ids converted from base64 (protobuf's JSON mapping) to hex (OTLP's).
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

ROOT = Path(__file__).resolve().parents[1]
PAYMENT = ROOT / "specs" / "payment"
SHIPPING = ROOT / "tests" / "specdirs" / "shipping"

#: t0 of every scenario: 2026-01-01T00:00:00Z in ns
T0 = 1_767_225_600 * 1_000_000_000
SECOND = 1_000_000_000

_IDS = ("traceId", "spanId", "parentSpanId")


@dataclass
class SpanSpec:
    """One span to record: name, attributes, start/end (ns), kind, status, events
    (name, attributes, time ns)."""

    name: str
    attributes: dict[str, Any]
    start: int
    end: int
    kind: SpanKind = SpanKind.INTERNAL
    status: StatusCode = StatusCode.UNSET
    events: list[tuple[str, dict[str, Any], int]] = field(default_factory=list)


def record(specs: Iterable[SpanSpec], service: str = "payments",
           scope: str = "payments-lib") -> list[Any]:
    """The SDK's ``ReadableSpan``s for ``specs``, in order."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer(scope)
    for s in specs:
        span = tracer.start_span(s.name, kind=s.kind, attributes=s.attributes,
                                 start_time=s.start)
        for name, attrs, t in s.events:
            span.add_event(name, attrs, timestamp=t)
        if s.status is not StatusCode.UNSET:
            span.set_status(Status(s.status))
        span.end(end_time=s.end)
    provider.shutdown()
    return list(exporter.get_finished_spans())


def request(specs: Iterable[SpanSpec], **kw: Any) -> Any:
    """An ``ExportTraceServiceRequest`` as the SDK's OTLP exporters send it."""
    return encode_spans(record(specs, **kw))


def hexify(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: base64.b64decode(v).hex() if k in _IDS else hexify(v)
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [hexify(x) for x in obj]
    return obj


def otlp_json(req: Any) -> bytes:
    """The request as one line of OTLP JSON (hex ids, integer enums)."""
    d = json_format.MessageToDict(req, use_integers_for_enums=True)
    return json.dumps(hexify(d), separators=(",", ":")).encode()


def write_otlp_json(path: Path, reqs: Sequence[Any], *, gz: bool = False) -> Path:
    data = b"".join(otlp_json(r) + b"\n" for r in reqs)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def write_otlp_proto(path: Path, reqs: Sequence[Any], *, gz: bool = False) -> Path:
    data = b"".join(len(b).to_bytes(4, "big") + b for b in
                    (r.SerializeToString() for r in reqs))
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def payment(pid: str, t: int, *, amount: Any = 100, capture: Any = 100,
            refunds: Sequence[Any] = (), void: bool = False) -> list[SpanSpec]:
    """A payment's spans: authorize (server), then capture or void, then a refund span
    with one ``refund.issued`` span event per refund; a second apart each."""
    out = [SpanSpec("payment.authorize", {"payment.id": pid, "payment.amount": amount},
                    t, t + SECOND // 2, kind=SpanKind.SERVER)]
    t += SECOND
    if void:
        out.append(SpanSpec("payment.void", {"payment.id": pid}, t, t + SECOND // 2))
    else:
        out.append(SpanSpec("payment.capture", {"payment.id": pid, "payment.amount": capture},
                            t, t + SECOND // 2, status=StatusCode.OK))
    if refunds:
        t += SECOND
        out.append(SpanSpec("payment.refund", {"payment.id": pid}, t, t + SECOND // 2, events=[
            ("refund.issued", {"refund.amount": r}, t + i + 1) for i, r in enumerate(refunds)]))
    return out

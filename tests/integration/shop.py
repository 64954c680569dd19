"""Spans of the test shop, made by the real OpenTelemetry SDK: one span per order step
(``order.place``, ``order.pay``, ``order.ship``) carrying ``order.id``."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import msgspec
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

T0 = 1_764_000_000_000_000_000  # 2025-11-24T16:00:00Z in ns

#: a step: (span name, order id, extra attributes)
Step = tuple[str, str, dict[str, Any]]

HAPPY: list[Step] = [("order.place", "o-1", {}), ("order.pay", "o-1", {"order.amount": 10}),
                     ("order.ship", "o-1", {})]
SHIP_UNPAID: list[Step] = [("order.place", "o-2", {}), ("order.ship", "o-2", {})]


def emit(tracer: Any, steps: Sequence[Step], t0: int = T0) -> None:
    """End one span per step, a millisecond apart in event time."""
    for i, (name, order, attrs) in enumerate(steps):
        span = tracer.start_span(name, start_time=t0 + i * 1_000_000,
                                 attributes={"order.id": order, **attrs})
        span.end(end_time=t0 + i * 1_000_000 + 500_000)


def make_spans(steps: Sequence[Step], t0: int = T0) -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    emit(provider.get_tracer("shop"), steps, t0)
    provider.shutdown()
    return list(memory.get_finished_spans())


def request(steps: Sequence[Step], t0: int = T0) -> Any:
    """An ``ExportTraceServiceRequest`` as the SDK's OTLP exporters encode it."""
    return encode_spans(make_spans(steps, t0))


def to_otlp_json(req: Any) -> bytes:
    """OTLP JSON as the Collector writes it: hex ids (protobuf's JSON mapping would
    write base64), lowerCamelCase keys, int64 as strings, enums as integers."""
    doc = json_format.MessageToDict(req, use_integers_for_enums=True)

    def hexify(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: (base64.b64decode(v).hex() if k in ("traceId", "spanId", "parentSpanId")
                        else hexify(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [hexify(v) for v in node]
        return node

    return msgspec.json.encode(hexify(doc))

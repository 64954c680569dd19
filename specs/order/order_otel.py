"""OpenTelemetry pieces of the order demo (``app.py``) that are not the shop itself:
seeded ids, a sampler that keeps whole orders, the Collector's OTLP JSON lines file
format, and a deterministic per-stage batching processor. See docs/otel.md for why
sampling must keep whole entities."""

from __future__ import annotations

import base64
import hashlib
import json
import random
from collections.abc import Sequence
from typing import IO, Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult

__all__ = ["OrderIdRatioSampler", "OtlpJsonLinesExporter", "SeededIds", "StageBatcher",
           "order_sampler", "otlp_json_line"]


# -- determinism: ids and time --------------------------------------------------------


class SeededIds(IdGenerator):
    """Trace and span ids from a seeded generator, so the same seed writes the same file."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"ids-{seed}")

    def generate_span_id(self) -> int:
        return self.rng.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self.rng.getrandbits(128) or 1

    def is_trace_id_random(self) -> bool:
        return True


# -- sampling that keeps whole orders (docs/otel.md) ----------------------------------


class OrderIdRatioSampler(Sampler):
    """Samples a fixed fraction of *orders*: the decision is a hash of the ``order.id``
    attribute given at span start, so every span of a kept order is kept, in every
    service and every trace. SHA-256 (not Python's salted ``hash``) so that services in
    other processes and languages can decide alike: keep when the first 8 bytes of
    sha256(order id), big-endian, are below rate x 2^64. A span without the attribute
    is kept (nothing of a monitored flow is dropped by accident).

    ``unsampled=Decision.RECORD_ONLY`` records the other orders' spans without sampling
    them: exporters skip them, but in-process span processors (``SpecMonitorProcessor``)
    still see every span, so the monitor checks every order while the tracing backend
    gets a sample."""

    def __init__(self, rate: float, attribute: str = "order.id", *,
                 unsampled: Decision = Decision.DROP) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"sampling rate must be within [0, 1], got {rate!r}")
        self.rate = rate
        self.attribute = attribute
        self.bound = round(rate * 2**64)
        self.unsampled = unsampled

    def keeps(self, entity_id: str) -> bool:
        return int.from_bytes(hashlib.sha256(entity_id.encode()).digest()[:8], "big") < self.bound

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None,
                      links=None, trace_state=None) -> SamplingResult:
        value = (attributes or {}).get(self.attribute)
        keep = value is None or self.keeps(str(value))
        return SamplingResult(Decision.RECORD_AND_SAMPLE if keep else self.unsampled,
                              attributes, trace_state)

    def get_description(self) -> str:
        return f"OrderIdRatioSampler{{{self.attribute}, {self.rate}}}"


def order_sampler(rate: float, *, record_unsampled: bool = False) -> Sampler:
    """Whole-order sampling: children follow their parent, roots decide on ``order.id``.
    With ``record_unsampled`` the other orders are recorded but not sampled; their child
    spans decide on ``order.id`` too (ParentBased would drop a child of an unsampled
    parent, hiding it from in-process processors)."""
    if not record_unsampled:
        return ParentBased(root=OrderIdRatioSampler(rate))
    by_order = OrderIdRatioSampler(rate, unsampled=Decision.RECORD_ONLY)
    return ParentBased(root=by_order, remote_parent_not_sampled=by_order,
                       local_parent_not_sampled=by_order)


# -- the Collector's file exporter format ---------------------------------------------


class OtlpJsonLinesExporter(SpanExporter):
    """Writes each export as one line of OTLP JSON, ``{"resourceSpans": [...]}``, as the
    Collector's file exporter does: lowerCamelCase keys, enums as integers, int64 as
    strings, trace and span ids in hex (protobuf's JSON mapping would write base64)."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.out.write(otlp_json_line(spans) + "\n")
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self.out.flush()
        return True


def otlp_json_line(spans: Sequence[ReadableSpan]) -> str:
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    doc = MessageToDict(encode_spans(spans), use_integers_for_enums=True)
    for rs in doc.get("resourceSpans", ()):
        for ss in rs.get("scopeSpans", ()):
            for span in ss.get("spans", ()):
                _hex_ids(span)
                for link in span.get("links", ()):
                    _hex_ids(link)
    return json.dumps(doc, separators=(",", ":"))


def _hex_ids(obj: dict[str, Any]) -> None:
    for name in ("traceId", "spanId", "parentSpanId"):
        if name in obj:
            obj[name] = base64.b64decode(obj[name]).hex()


class StageBatcher(SpanProcessor):
    """Holds ended spans until the shop finishes a stage, then exports them as one batch:
    one line per stage in a file, like a Collector batch. Deterministic, unlike the SDK's
    BatchSpanProcessor, whose batches depend on a background thread's timing."""

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        if span.context.trace_flags.sampled:  # like the SDK's processors: recorded-only
            self.spans.append(span)           # spans are not exported

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        if self.spans:
            self.exporter.export(self.spans)
            self.spans = []
        return self.exporter.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self.force_flush()
        self.exporter.shutdown()

"""Shared by the order saga tests: the demo app and spec loaded from their files (a spec
directory is not a package), and a checker that runs the app's spans through the real
span mapping and engine."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from monitor.engine import EngineConfig
from monitor.pipeline import Pipeline
from monitor.specdir import load_specdir

ROOT = Path(__file__).resolve().parents[2]
ORDER = ROOT / "specs" / "order"
SAMPLES = ORDER / "samples"

Verdicts = list[tuple[str, str, str]]


def _load(name: str, path: Path) -> Any:
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# app.py imports its sibling order_otel.py, as it does when run as a script
if str(ORDER) not in sys.path:
    sys.path.insert(0, str(ORDER))
app = _load("specmon_order_app", ORDER / "app.py")


class RequestCollector(SpanExporter):
    """Keeps each export as the ``ExportTraceServiceRequest`` the SDK's OTLP exporters
    would send (the same encoder)."""

    def __init__(self) -> None:
        self.requests: list[Any] = []

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        self.requests.append(encode_spans(spans))
        return SpanExportResult.SUCCESS


def app_requests(orders: int = 40, seed: int = 1, bugs: Sequence[str] = (),
                 **kw: Any) -> tuple[list[Any], Verdicts]:
    """Run the app; (one OTLP request per stage, the truth it claims)."""
    collector = RequestCollector()
    truth = app.run_shop(orders, seed, bugs, processors=[app.StageBatcher(collector)], **kw)
    return collector.requests, sorted((t.key, t.kind, t.property) for t in truth)


def check(requests: Iterable[Any], config: EngineConfig | None = None) -> tuple[Verdicts, Pipeline]:
    """Map every request with the order spec's `spans:` mapping, apply, flush: the
    (key, kind, property) of every report, sorted, and the pipeline for its counters."""
    pipe = Pipeline(load_specdir(ORDER), config)
    reports: list[Any] = []
    for n, req in enumerate(requests):
        batch = pipe.map_spans(req, n)
        reports += pipe.apply(batch.events)
    reports += pipe.engine.flush()
    return sorted((r.key, r.kind, getattr(r, "property", "spec_error")) for r in reports), pipe

"""A runner-shaped object over real pipelines (the shape BRIEF.md gives the daemon's
``Runner``), so the metrics and admin code are tested against real engines fed real
events, before and apart from the daemon."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from monitor.engine import EngineConfig
from monitor.pipeline import Pipeline
from monitor.sinks.latency import LatencyHistogram
from monitor.sources.ingest import SpanIngest
from monitor.specdir import load_specdir
from tests.integration.receivers import ORDERS, STRICT

PAYMENT = Path(__file__).resolve().parents[2] / "specs" / "payment"


@dataclass
class SpecRuntime:
    name: str
    pipeline: Pipeline
    last_trace_ids: dict[tuple[str, str], str] = field(default_factory=dict)

    def note(self, reports: list[Any]) -> None:
        """What the runner does with reports: remember the last trace id per label set."""
        for r in reports:
            if getattr(r, "trace_id", None):
                self.last_trace_ids[(r.kind, r.property)] = r.trace_id


@dataclass
class IngestSource:
    """A source as the runner lists it, its stats read from a real ``SpanIngest``."""

    name: str
    kind: str
    ingest: SpanIngest
    connected: bool = True

    @property
    def stats(self) -> dict[str, Any]:
        return msgspec.structs.asdict(self.ingest.stats)


@dataclass
class RunnerShape:
    specs: dict[str, SpecRuntime]
    sources: list[Any] = field(default_factory=list)
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    last_progress: float = 0.0
    checkpoint_time: float | None = None
    ready: bool = True


def payment_runtime(config: EngineConfig | None = None) -> SpecRuntime:
    return SpecRuntime("payment", Pipeline(load_specdir(PAYMENT), config))


def orders_runtime() -> SpecRuntime:
    return SpecRuntime("orders", Pipeline(load_specdir(ORDERS), STRICT))

"""Mapping + engine for one spec: the one code path that replay and live sources share
(DESIGN.md: "offline replay and streaming share one code path").

A source hands raw JSON records with their origin to ``feed_json``, or OTLP trace
requests to ``map_spans`` and the mapped events to ``apply``; the pipeline maps them,
counts what it cannot use (``unmatched``, ``invalid`` by cause) and feeds the engine.
A spec directory may map JSON records (``events:``), spans (``spans:``) or both; using
a kind of input its mapping has no section for is a ``MappingError``.
Bad records never stop the loop: they are counted, and a bounded number of samples per
cause is passed to ``on_bad`` for logging.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from monitor.engine import Engine, EngineConfig, SpecErrorReport, Violation
from monitor.engine.events import Event
from monitor.errors import MappingError, RecordError
from monitor.mapping import EventMapper, SpanBatch, SpanMapper
from monitor.specdir import SpecDir

__all__ = ["BadRecord", "Pipeline"]

Report = Violation | SpecErrorReport
BadRecord = Callable[[str, Any, str], None]  # (cause, origin, message)

#: samples of bad records logged per cause; the rest are only counted
SAMPLES_PER_CAUSE = 5


class Pipeline:
    def __init__(self, specdir: SpecDir, config: EngineConfig | None = None,
                 *, on_bad: BadRecord | None = None) -> None:
        self.specdir = specdir
        self.engine = Engine(specdir.model, config, name=specdir.name)
        #: the ``events:`` mapper (None when the mapping has no such section)
        self.mapper: EventMapper | None = specdir.mapping.events
        #: the ``spans:`` mapper (None when the mapping has no such section)
        self.span_mapper: SpanMapper | None = specdir.mapping.spans
        if self.mapper is None:
            self.feed_json = self._no_events  # type: ignore[method-assign]
        self.records = 0
        self.unmatched = 0
        self.invalid: dict[str, int] = {}
        self.on_bad = on_bad
        self._sampled: dict[str, int] = {}

    def feed_json(self, raw: bytes, origin: Any) -> list[Report]:
        self.records += 1
        try:
            ev = self.mapper.map_bytes(raw, origin)  # type: ignore[union-attr]
        except RecordError as exc:
            self.bad(exc.cause, origin, str(exc))
            return []
        if ev is None:
            self.unmatched += 1
            return []
        return self.engine.feed(ev)

    @staticmethod
    def check_section(specdir: SpecDir, section: str) -> None:
        """``MappingError`` when the mapping has no ``section`` (events | spans)."""
        if getattr(specdir.mapping, section) is None:
            what = "JSON records" if section == "events" else "spans"
            raise MappingError(
                f"{specdir.path}/mapping.yaml: no `{section}:` section, so {what} cannot "
                f"be mapped; add one (see docs/mapping.md)")

    def _no_events(self, raw: bytes, origin: Any) -> list[Report]:
        self.check_section(self.specdir, "events")
        return []

    def events_mapper(self) -> EventMapper:
        """The ``events:`` mapper, or ``MappingError`` saying to add the section."""
        self.check_section(self.specdir, "events")
        assert self.mapper is not None
        return self.mapper

    def spans_mapper(self) -> SpanMapper:
        """The ``spans:`` mapper, or ``MappingError`` saying to add the section."""
        self.check_section(self.specdir, "spans")
        assert self.span_mapper is not None
        return self.span_mapper

    def map_spans(self, req: Any, origin: Any = None) -> SpanBatch:
        """Map one ``ExportTraceServiceRequest``; spans count as records, unmatched and
        rejected ones in ``unmatched`` and ``invalid`` (by cause). The first rejection
        of the request is passed to ``on_bad`` (sampled per cause)."""
        batch = self.spans_mapper().map_request(req, origin)
        self.count_spans(batch, origin)
        return batch

    def count_spans(self, batch: SpanBatch, origin: Any) -> None:
        """Count a mapped request's spans (``map_spans`` does it; sharded replay counts
        in one worker only; a receiver that may refuse a request when its queue is full
        counts it only once admitted, so a retried request is not counted twice)."""
        self.records += batch.spans
        self.unmatched += batch.unmatched
        if batch.rejected:
            invalid = self.invalid
            for cause, n in batch.causes.items():
                invalid[cause] = invalid.get(cause, 0) + n
            first = next(iter(batch.causes))
            seen = self._sampled.get(first, 0)
            if seen < SAMPLES_PER_CAUSE and self.on_bad is not None:
                self._sampled[first] = seen + 1
                self.on_bad(first, origin, batch.error or "")

    def apply(self, events: list[Event]) -> list[Report]:
        """Feed mapped events to the engine, in order; the reports they caused."""
        return self.engine.feed_many(events)

    def bad(self, cause: str, origin: Any, message: str) -> None:
        self.invalid[cause] = self.invalid.get(cause, 0) + 1
        seen = self._sampled.get(cause, 0)
        if seen < SAMPLES_PER_CAUSE and self.on_bad is not None:
            self._sampled[cause] = seen + 1
            self.on_bad(cause, origin, message)

    def outcomes(self) -> dict[str, int]:
        """Per-record outcomes, the ``outcome`` label of ``specmon_events_total``."""
        c = self.engine.counters
        return {
            "mapped": self.records - self.unmatched - sum(self.invalid.values()),
            "unmatched": self.unmatched,
            "invalid": sum(self.invalid.values()),
            "duplicate": c.duplicate,
            "late": c.late,
            "applied": c.applied,
            "quarantined": c.quarantined,
            "ignored": c.ignored,
        }

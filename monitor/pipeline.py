"""Mapping + engine for one spec: the one code path that replay and live sources share
(DESIGN.md: "offline replay and streaming share one code path").

A source hands raw records with their origin to ``feed_json``; the pipeline maps them,
counts what it cannot use (``unmatched``, ``invalid`` by cause) and feeds the engine.
Bad records never stop the loop: they are counted, and a bounded number of samples per
cause is passed to ``on_bad`` for logging.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from monitor.engine import Engine, EngineConfig, SpecErrorReport, Violation
from monitor.errors import RecordError
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
        mapper = specdir.mapping.events
        if mapper is None:
            from monitor.errors import MappingError

            raise MappingError(
                f"{specdir.path}/mapping.yaml: no `events:` section, so JSON records "
                "cannot be mapped; add one (see docs/mapping.md)"
            )
        self.mapper = mapper
        self.records = 0
        self.unmatched = 0
        self.invalid: dict[str, int] = {}
        self.on_bad = on_bad
        self._sampled: dict[str, int] = {}

    def feed_json(self, raw: bytes, origin: Any) -> list[Report]:
        self.records += 1
        try:
            ev = self.mapper.map_bytes(raw, origin)
        except RecordError as exc:
            self.bad(exc.cause, origin, str(exc))
            return []
        if ev is None:
            self.unmatched += 1
            return []
        return self.engine.feed(ev)

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

"""Plugging the Kafka source into the daemon (``specmon run`` with ``sources.kafka``).

The source keeps its own per-partition engines and checkpoints (the changelog topic):
the runner's checkpoint file and WAL cover the OTLP receivers only. Reports reach the
runner's sinks (file, stdout, webhook) once their state is checkpointed, with their
``report_id``. A republished batch (a replica died between its changelog write and its
publish marker) carries the same ids, and the sinks skip the ones they already wrote
(``monitor.sinks.outputs.RecentIds``; docs/kafka.md, guarantees).
"""

from __future__ import annotations

from typing import Any

import msgspec

from monitor.engine.events import SpecErrorReport, Violation
from monitor.sources.kafka import KafkaSource, ReportLine

__all__ = ["attach"]

_decode = msgspec.json.Decoder(Violation | SpecErrorReport).decode


def attach(runner: Any) -> KafkaSource | None:
    """Build the Kafka source from ``runner.config.sources.kafka`` and add it to the
    runner (None when not configured)."""
    cfg = runner.config.sources.kafka
    if cfg is None:
        return None
    specs, engines, names = [], {}, {}
    for name, rt in runner.specs.items():
        specdir = rt.pipeline.specdir
        specs.append(specdir)
        engines[specdir.name] = rt.pipeline.engine.config
        names[specdir.name] = name

    async def to_sinks(lines: list[ReportLine], republish: bool) -> None:
        for rid, line in lines:
            report = _decode(line)
            kind = getattr(report, "kind", "spec_error")
            prop = getattr(report, "property", None) or getattr(report, "where", "")
            trace_id = getattr(report, "trace_id", None)
            rt = runner.specs.get(names.get(report.spec, report.spec))
            if trace_id and rt is not None:
                rt.last_trace_ids[(kind, prop)] = trace_id
            runner.sinks.emit(report, line, rid)

    runner.sinks.read_report_ids()  # a restart on the same report file skips its ids too
    source = KafkaSource(cfg, specs, engines, sinks=[to_sinks])
    runner.add_source(source)
    return source

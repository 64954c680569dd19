"""Prometheus metrics of a running monitor, read from the runner at scrape time.

A custom collector (client_python's ``Collector``): the engine and the sources keep plain
integer counters on their hot paths, and ``collect()`` turns them into metric families
when Prometheus scrapes, so no metric-library call runs per event. Every series a
runner can have is present from the first scrape, at 0: a counter that appears only at
its first increment makes ``increase()`` miss that increment, and an alert on it stay
silent (TOOLS.md: measured with Prometheus 2.42).

What it reads (the runner contract in BRIEF.md; any object of that shape works):

- ``runner.specs``: name -> object with ``.pipeline`` (``monitor.pipeline.Pipeline``) and
  ``.last_trace_ids`` ((kind, property) -> the last violating trace id, for exemplars);
- ``runner.sources``: objects with ``.name``, ``.kind``, ``.connected`` and ``.stats``
  (a dict; ``SOURCE_STATS`` lists the keys read, with the ``IngestStats`` spellings);
- ``runner.kafka`` (optional, ``KafkaSource``): its per-partition pipelines add to the
  spec's series through ``kafka.tally`` (monotonic across rebalances) and
  ``kafka.pipelines()`` (gauges: live instances summed, the watermark the minimum);
- ``runner.latency`` (``LatencyHistogram``), ``runner.last_progress`` (monotonic s),
  ``runner.checkpoint_time`` (wall s or None), ``runner.ready``.

Names follow the conventions (prefix ``specmon_``, base units, ``_total`` counters, no
entity or trace ids in labels: a trace id rides only as an exemplar). docs/metrics.md
documents each metric; tests/sinks/test_dashboard_queries.py keeps the alert rules
and the dashboard on the names exported here.
"""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Callable, Iterator
from importlib import metadata
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Exemplar

from monitor.sources.kafka_tally import add_counts, pipeline_counts

__all__ = ["DAEMON_STATS", "EVENT_OUTCOMES", "INVALID_CAUSES", "SOURCE_STATS", "SpecmonCollector",
           "build_version"]

#: the ``outcome`` label of ``specmon_events_total``: mapped + unmatched + invalid is every
#: record the spec's sources delivered; duplicate, late, quarantined and ignored are the
#: mapped events the engine did not step with
EVENT_OUTCOMES = ("mapped", "unmatched", "invalid", "duplicate", "late", "quarantined",
                  "ignored")

#: ``RecordError`` causes raised by the mappers (monitor/mapping), pre-initialised so an
#: alert on the first invalid record of a cause can fire
INVALID_CAUSES = ("malformed", "missing_key", "bad_key", "missing_time", "bad_time",
                  "missing_arg", "bad_arg", "bad_id")

#: engine counters exported per spec: ``Counters`` attribute -> (metric, help)
ENGINE_COUNTERS = {
    "events": ("specmon_engine_events_total", "Mapped events processed by the engine"),
    "spec_errors": ("specmon_spec_errors_total", "Steps where the spec's own code raised"),
    "overflow": ("specmon_state_overflow_total",
                 "Steps whose candidate-state set was cut to engine.max_states"),
    "overflow_states": ("specmon_state_overflow_states_total",
                        "Candidate states dropped by those cuts"),
    "buffer_overflow": ("specmon_reorder_overflow_total",
                        "Events released early because the reorder buffer was full"),
    "finished": ("specmon_finished_instances_total", "Instances that reached a terminal state"),
}

#: source stats read, metric suffix -> accepted keys (the first present wins); the
#: second spellings are ``monitor.sources.ingest.IngestStats`` fields
SOURCE_STATS = {
    "received": ("received", "spans", "records"),
    "refused": ("refused", "overloaded"),
    "dropped": ("dropped",),
    "queue_depth": ("queue_depth", "depth"),
    "queue_limit": ("queue_limit", "limit"),
    "lag": ("lag",),
}


#: the runner's own counters (``runner.stats``: checkpoints, write-ahead log, report
#: sinks): stats key -> (metric, counter or gauge, help); absent keys export 0
DAEMON_STATS = {
    "checkpoints": ("specmon_checkpoints_total", "counter", "Checkpoints written"),
    "checkpoint_failures": ("specmon_checkpoint_failures_total", "counter",
                            "Checkpoints that failed (the previous one stays in force)"),
    "checkpoint_seconds": ("specmon_checkpoint_seconds_total", "counter",
                           "Time spent writing checkpoints"),
    "wal_bytes": ("specmon_wal_bytes", "gauge", "Size of the write-ahead log"),
    "wal_max_bytes": ("specmon_wal_limit_bytes", "gauge", "The write-ahead log's bound"),
    "wal_refused": ("specmon_wal_refused_total", "counter",
                    "Requests refused because the write-ahead log was full"),
    "reports_emitted": ("specmon_reports_total", "counter",
                        "Violation and spec-error reports handed to the sinks"),
    "reports_duplicate": ("specmon_reports_duplicate_total", "counter",
                          "Kafka reports not emitted again: their report_id was already "
                          "written (a batch republished after a replica died)"),
    "webhook_sent": ("specmon_webhook_sent_total", "counter", "Reports posted to the webhook"),
    "webhook_failed_attempts": ("specmon_webhook_failed_attempts_total", "counter",
                                "Webhook posts that failed (retried)"),
    "webhook_dropped": ("specmon_webhook_dropped_total", "counter",
                        "Reports the webhook queue dropped (full, or left at shutdown)"),
    "webhook_queued": ("specmon_webhook_queue_depth", "gauge", "Reports waiting for the webhook"),
}


def build_version() -> str:
    try:
        return metadata.version("specmon")
    except metadata.PackageNotFoundError:  # running from a source tree without install
        return "unknown"


class SpecmonCollector(Collector):
    """Register with ``registry.register(SpecmonCollector(runner))``; ``wall`` and
    ``monotonic`` are the clocks (tests pass their own)."""

    def __init__(self, runner: Any, *, wall: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.runner = runner
        self.wall = wall
        self.monotonic = monotonic
        #: checkpoint age counts from here until the first checkpoint
        self.started = wall()
        self.version = build_version()

    def collect(self) -> Iterator[Metric]:
        yield from self._build_info()
        yield from self._spec_metrics()
        yield from self._source_metrics()
        yield from self._runner_metrics()
        if getattr(self.runner, "kafka", None) is not None:
            from monitor.sinks.kafka_metrics import kafka_metrics

            yield from kafka_metrics(self.runner.kafka)

    # -- families ------------------------------------------------------------------

    def _build_info(self) -> Iterator[Metric]:
        info = GaugeMetricFamily("specmon_build_info", "specmon build: version and Python; "
                                 "always 1", labels=["version", "python"])
        info.add_metric([self.version, platform.python_version()], 1)
        yield info

    def _spec_metrics(self) -> Iterator[Metric]:
        events = CounterMetricFamily(
            "specmon_events_total", "Records delivered to a spec's pipeline, by outcome",
            labels=["spec", "outcome"])
        invalid = CounterMetricFamily(
            "specmon_invalid_records_total", "Records that matched a rule but could not "
            "be used, by cause", labels=["spec", "cause"])
        violations = CounterMetricFamily(
            "specmon_violations_total", "Violations found, by kind and property; the "
            "exemplar carries the last violating trace id", labels=["spec", "kind", "property"])
        counters = {attr: CounterMetricFamily(metric, doc, labels=["spec"])
                    for attr, (metric, doc) in ENGINE_COUNTERS.items()}
        live = GaugeMetricFamily("specmon_live_instances", "Instances (keys) being tracked",
                                 labels=["spec"])
        lag = GaugeMetricFamily(
            "specmon_watermark_lag_seconds", "Wall clock minus the event-time watermark "
            "(at least allowed_lateness; 0 before the first event)", labels=["spec"])
        lateness = GaugeMetricFamily(
            "specmon_allowed_lateness_seconds", "engine.allowed_lateness: the part of the "
            "watermark lag that is by design", labels=["spec"])
        now = self.wall()
        kafka = getattr(self.runner, "kafka", None)
        owned = kafka.pipelines() if kafka is not None else {}
        for name, rt in self.runner.specs.items():
            pipe = rt.pipeline
            counts = pipeline_counts(pipe)
            engines = [pipe.engine]
            if kafka is not None:  # Kafka-fed: the source's monotonic tally (kafka_tally)
                add_counts(counts, kafka.tally.counts(pipe.specdir.name))
                engines += [pl.engine for pl in owned.get(pipe.specdir.name, ())]
            for outcome in EVENT_OUTCOMES:
                events.add_metric([name, outcome], counts.get(("outcome", outcome), 0))
            for cause in dict.fromkeys(INVALID_CAUSES) | {
                    k[1]: None for k in counts if k[0] == "invalid"}:
                invalid.add_metric([name, cause], counts.get(("invalid", cause), 0))
            traces = getattr(rt, "last_trace_ids", None) or {}
            for key, n in counts.items():
                if key[0] != "violation":
                    continue
                tid = traces.get(key[1:]) if n else None
                ex = Exemplar({"trace_id": tid}, 1.0) if tid else None
                violations.add_metric([name, key[1], key[2]], n, exemplar=ex)
            for attr, family in counters.items():
                family.add_metric([name], counts.get(("counter", attr), 0))
            live.add_metric([name], sum(len(e.instances) for e in engines))
            wms = [e.watermark for e in engines if math.isfinite(e.watermark)]
            lag.add_metric([name], max(0.0, now - min(wms)) if wms else 0.0)
            lateness.add_metric([name], pipe.engine.lateness)
        yield from (events, invalid, violations, *counters.values(), live, lag, lateness)

    def _source_metrics(self) -> Iterator[Metric]:
        labels = ["source", "kind"]
        connected = GaugeMetricFamily(
            "specmon_source_connected", "1 while the source is listening or connected",
            labels=labels)
        received = CounterMetricFamily(
            "specmon_source_records_total", "Records (spans, messages) the source "
            "received and admitted", labels=labels)
        refused = CounterMetricFamily(
            "specmon_source_refused_total", "Requests refused because the queue was full "
            "(429/503/UNAVAILABLE: the client retries)", labels=labels)
        dropped = CounterMetricFamily(
            "specmon_source_dropped_total", "Records dropped by backpressure (lost)",
            labels=labels)
        depth = GaugeMetricFamily("specmon_queue_depth", "Events queued for the engine",
                                  labels=labels)
        limit = GaugeMetricFamily("specmon_queue_limit", "The queue's bound in events",
                                  labels=labels)
        lag = GaugeMetricFamily(
            "specmon_source_lag_records", "Records the source has not read yet (Kafka: "
            "highwater minus position, summed over partitions); 0 for push sources",
            labels=labels)
        families = {"received": received, "refused": refused, "dropped": dropped,
                    "queue_depth": depth, "queue_limit": limit, "lag": lag}
        for src in self.runner.sources:
            lv = [src.name, src.kind]
            connected.add_metric(lv, 1 if src.connected else 0)
            stats = src.stats
            for metric, keys in SOURCE_STATS.items():
                families[metric].add_metric(lv, _first(stats, keys))
        yield connected
        yield from families.values()

    def _runner_metrics(self) -> Iterator[Metric]:
        r = self.runner
        hist = HistogramMetricFamily(
            "specmon_event_to_verdict_seconds", "Time from a batch's admission to the "
            "engine taking its events (one observation per event; excludes the reorder "
            "window)")
        hist.add_metric([], r.latency.buckets(), r.latency.sum)
        yield hist
        last = r.checkpoint_time
        yield GaugeMetricFamily(
            "specmon_checkpoint_age_seconds", "Seconds since the last checkpoint (since "
            "start before the first)",
            value=max(0.0, self.wall() - (last if last is not None else self.started)))
        yield GaugeMetricFamily(
            "specmon_last_progress_age_seconds", "Seconds since the processing loop last "
            "applied events or ticked (/healthz fails past its limit)",
            value=max(0.0, self.monotonic() - r.last_progress))
        stats = getattr(r, "stats", None) or {}
        for key, (name, kind, doc) in DAEMON_STATS.items():
            family = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            yield family(name, doc, value=stats.get(key, 0))
        yield GaugeMetricFamily("specmon_ready", "1 when specs are loaded and sources "
                                "listen (/readyz)", value=1 if r.ready else 0)


def _first(stats: Any, keys: tuple[str, ...]) -> float:
    for k in keys:
        v = stats.get(k)
        if v is not None:
            return v
    return 0

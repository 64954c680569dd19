"""Prometheus families of the Kafka source, read at scrape time from
``KafkaSource`` (no counter calls on the hot path). Partition labels are bounded by the
topic's partition count; no entity or trace ids."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

__all__ = ["kafka_metrics"]

#: KafkaSource.counts key -> (metric name, help)
_COUNTERS = {
    "records": ("specmon_kafka_records_total", "Kafka records applied"),
    "checkpoints": ("specmon_kafka_checkpoints_total", "Checkpoints written to the changelog"),
    "commits": ("specmon_kafka_commits_total", "Offset commits"),
    "rebalances": ("specmon_kafka_rebalances_total", "Rebalances this replica took part in"),
    "restored": ("specmon_kafka_partitions_restored_total",
                 "Partitions restored from the changelog on assignment"),
    "republished": ("specmon_kafka_reports_republished_total",
                    "Reports published again after a predecessor died mid-checkpoint"),
    "checkpoint_errors": ("specmon_kafka_checkpoint_errors_total",
                          "Checkpoints that failed (retried at the next interval)"),
    "commit_errors": ("specmon_kafka_commit_errors_total", "Commits refused by the group"),
    "restore_errors": ("specmon_kafka_restore_errors_total",
                       "Partition checkpoints the current specs could not load"),
}


def kafka_metrics(source: Any) -> Iterator[Metric]:
    counts = source.counts
    for key, (name, doc) in _COUNTERS.items():
        c = CounterMetricFamily(name.removesuffix("_total"), doc)
        c.add_metric([], counts.get(key, 0))
        yield c
    lag = GaugeMetricFamily("specmon_kafka_lag_records", "Fetch high-water mark minus the "
                            "next offset, per owned partition", labels=["topic", "partition"])
    for tp, n in sorted(source.lag().items()):
        topic, _, part = tp.rpartition("/")
        lag.add_metric([topic, part], n)
    yield lag
    owned = GaugeMetricFamily("specmon_kafka_partitions", "Partitions owned by this replica")
    owned.add_metric([], len(source.parts))
    yield owned
    age = GaugeMetricFamily("specmon_kafka_last_progress_age_seconds",
                            "Seconds since the consumer last made progress")
    age.add_metric([], max(0.0, time.monotonic() - source.last_progress))
    yield age

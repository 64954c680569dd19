"""Per-spec counts of the Kafka source that only ever grow, for Prometheus counters.

The Kafka source keeps one pipeline per spec per owned partition, and partitions come
and go: one restored from the changelog arrives with its engine's history (counters
of every earlier owner), one revoked takes its counts with it. Summing the owned
partitions' counters would jump on an assignment and drop on a revoke, and a counter
that goes backwards reads as a process restart to ``rate()``. So per spec:

    total = retired + sum over owned pipelines of (current - baseline)

``baseline`` is a pipeline's counts when this replica took the partition (after the
restore), ``retired`` what owned pipelines had counted here when they left. Memory:
one baseline per owned (partition, spec) and one ``retired`` per spec, each a dict of
the metric keys (outcomes, causes, violation labels: bounded by the spec).
"""

from __future__ import annotations

from collections.abc import Iterable

from monitor.engine.counters import COUNTER_NAMES
from monitor.pipeline import Pipeline

__all__ = ["Counts", "KafkaTally", "pipeline_counts"]

#: a flat count table: ("outcome", o) / ("invalid", cause) / ("violation", kind, prop)
#: / ("counter", Counters attribute) -> count
Counts = dict[tuple[str, ...], int]


def pipeline_counts(pl: Pipeline) -> Counts:
    """Every counter of one pipeline and its engine, flattened."""
    c = pl.engine.counters
    out: Counts = {("outcome", k): v for k, v in pl.outcomes().items()}
    out.update({("invalid", k): v for k, v in pl.invalid.items()})
    out.update({("violation", k, p): v for (k, p), v in c.by_violation.items()})
    out.update({("counter", name): getattr(c, name) for name in COUNTER_NAMES})
    return out


def add_counts(into: Counts, counts: Counts, sign: int = 1) -> None:
    for k, v in counts.items():
        into[k] = into.get(k, 0) + sign * v


class KafkaTally:
    """The source calls ``assigned`` once a partition's pipelines are restored and
    owned, ``revoked`` before they leave; metrics read ``counts(spec)``."""

    def __init__(self) -> None:
        #: id(pipeline) -> (pipeline, its counts at assignment)
        self._baseline: dict[int, tuple[Pipeline, Counts]] = {}
        #: spec name -> what left pipelines counted while owned here
        self._retired: dict[str, Counts] = {}

    def assigned(self, pipelines: Iterable[Pipeline]) -> None:
        for pl in pipelines:
            self._baseline[id(pl)] = (pl, pipeline_counts(pl))

    def revoked(self, pipelines: Iterable[Pipeline]) -> None:
        for pl in pipelines:
            entry = self._baseline.pop(id(pl), None)
            if entry is None:
                continue
            retired = self._retired.setdefault(pl.specdir.name, {})
            add_counts(retired, pipeline_counts(pl))
            add_counts(retired, entry[1], -1)

    def counts(self, spec: str) -> Counts:
        """The monotonic totals of ``spec`` in this process."""
        out = dict(self._retired.get(spec, {}))
        for pl, base in self._baseline.values():
            if pl.specdir.name == spec:
                add_counts(out, pipeline_counts(pl))
                add_counts(out, base, -1)
        return out

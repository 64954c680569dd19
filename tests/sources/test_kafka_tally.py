"""The Kafka source's per-spec tally: real payment engines fed real events, partitions
revoked and assigned (one arriving restored with another replica's history), and the
metrics collector exporting the tally under the OTLP-fed series' names."""

from __future__ import annotations

import importlib.util
import json
import zlib

from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from monitor.pipeline import Pipeline
from monitor.sinks.metrics import SpecmonCollector
from monitor.sources.kafka_tally import Counts, KafkaTally, add_counts, pipeline_counts
from monitor.specdir import load_specdir
from tests.sinks.runner_shape import PAYMENT, RunnerShape, payment_runtime

SPECDIR = load_specdir(PAYMENT)


def payment_partitions(n: int, seed: int = 4) -> list[list[bytes]]:
    """A generated payment log (5% violations, 1% duplicates) split by key."""
    spec = importlib.util.spec_from_file_location("payment_generate_t", PAYMENT / "generate.py")
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    lines, _ = mod.generate(3000, 60, violations=0.05, duplicates=0.01, shuffle=2, seed=seed,
                            span_days=2)
    parts: list[list[bytes]] = [[] for _ in range(n)]
    for line in lines:
        parts[zlib.crc32(json.loads(line)["subject"].encode()) % n].append(line)
    return parts


def feed(pl: Pipeline, lines: list[bytes]) -> None:
    for i, line in enumerate(lines):
        pl.feed_json(line, {"offset": i})


def diff(after: Counts, before: Counts) -> Counts:
    out = dict(after)
    add_counts(out, before, -1)
    return {k: v for k, v in out.items() if v}


def nonzero(c: Counts) -> Counts:
    return {k: v for k, v in c.items() if v}


def assert_grew(now: Counts, before: Counts) -> None:
    assert all(now.get(k, 0) >= v for k, v in before.items()), diff(before, now)


class Replica:
    """One process's owned pipelines and tally; ``ref`` pipelines see each partition's
    whole stream, so what this process counted is ref(after) - ref(before) per stint."""

    def __init__(self) -> None:
        self.tally = KafkaTally()
        self.owned: dict[int, Pipeline] = {}
        self.expected: Counts = {}

    def assign(self, p: int, pl: Pipeline) -> None:
        self.owned[p] = pl
        self.tally.assigned([pl])

    def revoke(self, p: int) -> Pipeline:
        pl = self.owned.pop(p)
        self.tally.revoked([pl])
        return pl

    def feed(self, p: int, lines: list[bytes], ref: Pipeline) -> None:
        before = pipeline_counts(ref)
        feed(ref, lines)
        feed(self.owned[p], lines)
        add_counts(self.expected, diff(pipeline_counts(ref), before))


def restored(pl: Pipeline) -> Pipeline:
    fresh = Pipeline(SPECDIR)
    fresh.engine.restore(pl.engine.snapshot())
    return fresh


def test_kafka_counts_never_go_back_on_a_revoke_nor_jump_on_a_restored_assignment():
    parts = payment_partitions(3)
    refs = [Pipeline(SPECDIR) for _ in parts]
    halves = [(ls[: len(ls) // 2], ls[len(ls) // 2:]) for ls in parts]
    here = Replica()
    other = Pipeline(SPECDIR)  # partition 2 runs on another replica first
    feed(other, halves[2][0])
    feed(refs[2], halves[2][0])

    here.assign(0, Pipeline(SPECDIR))
    here.assign(1, Pipeline(SPECDIR))
    here.feed(0, halves[0][0], refs[0])
    here.feed(1, halves[1][0], refs[1])
    seen = here.tally.counts("payment")
    assert nonzero(seen) == nonzero(here.expected)
    assert seen[("outcome", "mapped")] > 0 and seen[("counter", "violations")] > 0

    gone = here.revoke(1)  # partition 1 leaves with its counts
    assert nonzero(here.tally.counts("payment")) == nonzero(seen)
    here.assign(2, restored(other))  # partition 2 arrives with its history
    assert nonzero(here.tally.counts("payment")) == nonzero(seen)

    here.feed(0, halves[0][1], refs[0])
    here.feed(2, halves[2][1], refs[2])
    assert_grew(here.tally.counts("payment"), seen)
    here.assign(1, gone)  # back again (parked, same pipeline): no double count
    here.feed(1, halves[1][1], refs[1])
    final = here.tally.counts("payment")
    assert nonzero(final) == nonzero(here.expected)
    assert_grew(final, seen)
    # a plain sum of the owned engines would also count partition 2's earlier owner
    summed: Counts = {}
    for pl in here.owned.values():
        add_counts(summed, pipeline_counts(pl))
    key = ("counter", "events")
    assert summed[key] - final[key] == pipeline_counts(other)[key] > 0
    for p in (2, 0, 1):  # everything leaves: nothing more, nothing less
        here.revoke(p)
        assert nonzero(here.tally.counts("payment")) == nonzero(final)


class KafkaShape:
    """What the collector reads of ``KafkaSource``: ``tally`` and ``pipelines()``."""

    def __init__(self, replica: Replica) -> None:
        self.tally = replica.tally
        self.replica = replica
        self.counts: dict[str, int] = {}
        self.parts: dict = {}
        self.last_progress = 0.0

    def pipelines(self) -> dict[str, list[Pipeline]]:
        return {"payment": list(self.replica.owned.values())}

    def lag(self) -> dict[str, int]:
        return {}


def scrape(runner: RunnerShape) -> dict[tuple, float]:
    reg = CollectorRegistry()
    reg.register(SpecmonCollector(runner))
    out = {}
    for fam in text_string_to_metric_families(generate_latest(reg).decode()):
        for s in fam.samples:
            out[(s.name, *sorted(s.labels.items()))] = s.value
    return out


def test_the_metrics_export_kafka_fed_counts_under_the_otlp_series_names():
    parts = payment_partitions(2)
    rt = payment_runtime()
    runner = RunnerShape({"payment": rt})
    here = Replica()
    runner.kafka = KafkaShape(here)  # type: ignore[attr-defined]
    empty = scrape(runner)
    refs = [Pipeline(SPECDIR) for _ in parts]
    for p, lines in enumerate(parts):
        here.assign(p, Pipeline(SPECDIR))
        here.feed(p, lines, refs[p])
    got = scrape(runner)
    assert set(got) == set(empty)  # every series there from the first scrape, at 0
    mapped = ("specmon_events_total", ("outcome", "mapped"), ("spec", "payment"))
    assert empty[mapped] == 0
    assert got[mapped] == here.expected[("outcome", "mapped")] == sum(map(len, parts))
    violations = sum(v for k, v in got.items() if k[0] == "specmon_violations_total")
    assert violations == here.expected[("counter", "violations")] > 0
    live = ("specmon_live_instances", ("spec", "payment"))
    assert got[live] == sum(len(pl.engine.instances) for pl in here.owned.values()) > 0
    here.revoke(0)
    after = scrape(runner)
    assert after[mapped] == got[mapped]  # the counter keeps what partition 0 counted
    assert after[live] == len(here.owned[1].engine.instances)  # the gauge does not

"""The Kafka source against a real Kafka-protocol broker (Tansu, on loopback): verdicts
of JSON events and OTLP spans, exactly-once reports across a crash, a rebalance and a
broker restart."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import urllib.request
from collections import Counter
from pathlib import Path

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from monitor.pipeline import Pipeline
from monitor.sources.kafka import KafkaSource
from monitor.sources.kafka_config import KafkaConfig
from monitor.sources.kafka_tally import add_counts, pipeline_counts
from monitor.sources.otlp_json import decode_otlp_json
from monitor.specdir import load_specdir
from tests.integration.kafka_support import (
    PAYMENT,
    Replica,
    committed,
    create_topic,
    keyed,
    partition_of,
    produce,
    read_reports,
    run,
    wait_for,
    write_config,
)
from tests.integration.tansu import S3, Broker, free_port, running_broker

pytestmark = pytest.mark.integration


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("payment_generate_k", PAYMENT / "generate.py")
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def payment_log(events: int, live: int, seed: int = 3) -> list[bytes]:
    lines, _truth = _generator().generate(events, live, violations=0.05, duplicates=0.01,
                                          shuffle=2, seed=seed, span_days=2)
    return lines


def offline(lines: list[bytes], partitions: int, topic: str,
            pipes: list[Pipeline] | None = None) -> set[tuple]:
    """The verdicts of the same engine fed each partition's records in order, offline
    (``pipes``: an empty list to get the pipelines back)."""
    specdir = load_specdir(PAYMENT)
    if pipes is None:
        pipes = []
    pipes[:] = [Pipeline(specdir) for _ in range(partitions)]
    offsets = [0] * partitions
    out = set()
    for line in lines:
        p = partition_of(json.loads(line)["subject"], partitions)
        origin = {"topic": topic, "partition": p, "offset": offsets[p]}
        offsets[p] += 1
        for r in pipes[p].feed_json(line, origin):
            out.add(verdict(msgspec.to_builtins(r)))
    return out


def verdict(r: dict) -> tuple:
    o = r["origin"]
    return (r["key"], r["kind"], r["property"], o["topic"], o["partition"], o["offset"])


async def consume_until(cfg: KafkaConfig, total: int, timeout: float = 60) -> list[dict]:
    got: list[dict] = []

    async def sink(lines, republish):  # type: ignore[no-untyped-def]
        got.extend(json.loads(line) for _rid, line in lines)

    src = KafkaSource(cfg, [load_specdir(PAYMENT)], sinks=[sink])
    await src.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while src.stats["records"] < total or src.stats["pending_reports"] or src.stats["lag"]:
            assert loop.time() < deadline, f"consumed {src.stats} of {total}"
            await asyncio.sleep(0.05)
        await src.checkpoint(list(src.parts.values()))
    finally:
        await src.stop()
    return got


async def read_topic(bootstrap: str, topic: str, partitions: int, n: int) -> list:
    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                         enable_auto_commit=False)
    await c.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        c.assign(tps)
        out: list = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while loop.time() < deadline:  # to the high-water mark of every partition
            for recs in (await c.getmany(timeout_ms=200)).values():
                out += recs
            hws = [c.highwater(tp) for tp in tps]
            if len(out) >= n and None not in hws and \
                    all([await c.position(tp) >= hw for tp, hw in zip(tps, hws)]):
                break
        return out
    finally:
        await c.stop()


def binary_mode(line: bytes) -> tuple[bytes, list]:
    """The same CloudEvent in binary mode: attributes as ce_* headers, data as value."""
    ev = json.loads(line)
    data = ev.pop("data")
    return json.dumps(data).encode(), [(f"ce_{k}", str(v).encode()) for k, v in ev.items()]


def test_json_events_structured_and_binary_cloudevents_give_the_offline_verdicts_with_their_origin():
    lines = payment_log(3000, 60)
    with running_broker() as b:
        run(create_topic(b.bootstrap, "payments", 3))
        records = keyed(lines, 3)
        # every third record in CloudEvents binary mode
        records = [(p, k, *binary_mode(v)) if i % 3 == 0 else (p, k, v, h)
                   for i, (p, k, v, h) in enumerate(records)]
        run(produce(b.bootstrap, "payments", records))
        run(create_topic(b.bootstrap, "violations", 2))
        cfg = KafkaConfig(bootstrap_servers=b.bootstrap, topics=["payments"], group_id="g1",
                          session_timeout_ms=1000, heartbeat_interval_ms=200,
                          checkpoint_interval=0.2, idle_advance=None,
                          violations_topic="violations")
        got = run(consume_until(cfg, len(lines)))
        topic = run(read_topic(b.bootstrap, "violations", 2, len(got)))
    expected = offline(lines, 3, "payments")
    assert expected, "the log has violations"
    assert Counter(verdict(r) for r in got) == Counter(expected)
    assert len({r["report_id"] for r in got}) == len(got)
    # the violations topic: the same reports, keyed by entity, the id in a header
    assert sorted(json.loads(rec.value)["report_id"] for rec in topic) == \
        sorted(r["report_id"] for r in got)
    for rec in topic:
        doc = json.loads(rec.value)
        assert rec.key == doc["key"].encode()
        assert dict(rec.headers)["report_id"] == doc["report_id"].encode()


def test_otlp_proto_and_otlp_json_span_messages_give_the_verdicts_of_replaying_the_trace_file():
    path = PAYMENT / "samples" / "traces.otlp.jsonl"
    bodies = [line for line in path.read_bytes().splitlines() if line.strip()]
    specdir = load_specdir(PAYMENT)
    pipe = Pipeline(specdir)
    expected = Counter()
    for i, body in enumerate(bodies):
        origin = {"topic": "otlp_spans", "partition": 0, "offset": i}
        for r in pipe.apply(pipe.map_spans(decode_otlp_json(body), origin).events):
            expected[verdict(msgspec.to_builtins(r))] += 1
    assert expected
    with running_broker() as b:
        run(create_topic(b.bootstrap, "otlp_spans", 1))
        run(create_topic(b.bootstrap, "otlp_json_spans", 1))
        run(produce(b.bootstrap, "otlp_spans",
                    [(0, None, decode_otlp_json(x).SerializeToString(), []) for x in bodies]))
        run(produce(b.bootstrap, "otlp_json_spans", [(0, None, x, []) for x in bodies]))
        spans = sum(len(ss.spans) for x in bodies
                    for rs in decode_otlp_json(x).resource_spans for ss in rs.scope_spans)
        for topic, enc in (("otlp_spans", "otlp_proto"), ("otlp_json_spans", "otlp_json")):
            cfg = KafkaConfig(bootstrap_servers=b.bootstrap, topics=[topic], encoding=enc,
                              group_id=f"g-{enc}", session_timeout_ms=1000,
                              heartbeat_interval_ms=200, checkpoint_interval=0.2,
                              idle_advance=None)
            got = run(consume_until(cfg, len(bodies)))
            want = Counter({(k[0], k[1], k[2], topic, *k[4:]): n for k, n in expected.items()})
            assert Counter(verdict(r) for r in got) == want, enc
    assert spans > len(bodies)  # messages hold many spans each


def _uninterrupted(b, tmp_path, topic: str, partitions: int, total: int) -> set[tuple]:  # type: ignore[no-untyped-def]
    cfg = write_config(tmp_path / "base.json", bootstrap_servers=b.bootstrap, topics=[topic],
                       group_id="base", changelog_topic="base-changelog")
    out = tmp_path / "base.jsonl"
    r = Replica(cfg, out, tmp_path / "base.log").start()
    try:
        wait_for(lambda: run(committed(b.bootstrap, "base", topic, partitions)) >= total, 120,
                 "the uninterrupted run to commit everything")
    finally:
        assert r.terminate() == 0
    return reports_by_id(out)


def reports_by_id(path) -> dict:  # type: ignore[no-untyped-def]
    reps = read_reports(path)
    ids = Counter(r["report_id"] for r in reps)
    dup = [i for i, n in ids.items() if n > 1]
    assert not dup, f"duplicate reports in {path}: {dup[:3]}"
    return {r["report_id"]: verdict(r) for r in reps}


def test_a_consumer_killed_mid_stream_and_restarted_reports_exactly_what_an_uninterrupted_run_does(tmp_path):
    lines = payment_log(30000, 300, seed=5)
    with running_broker() as b:
        run(create_topic(b.bootstrap, "payments", 3))
        run(produce(b.bootstrap, "payments", keyed(lines, 3)))
        base = _uninterrupted(b, tmp_path, "payments", 3, len(lines))
        cfg = write_config(tmp_path / "crash.json", bootstrap_servers=b.bootstrap,
                           topics=["payments"], group_id="crash")
        out = tmp_path / "crash.jsonl"
        r = Replica(cfg, out, tmp_path / "crash.log").start()
        wait_for(lambda: run(committed(b.bootstrap, "crash", "payments", 3)) > 0, 60,
                 "a first commit")
        r.kill()
        at_kill = run(committed(b.bootstrap, "crash", "payments", 3))
        assert 0 < at_kill < len(lines), "killed mid-stream"
        r2 = Replica(cfg, out, tmp_path / "crash2.log").start()
        try:
            wait_for(lambda: run(committed(b.bootstrap, "crash", "payments", 3)) >= len(lines),
                     120, "the restarted consumer to commit everything")
        finally:
            assert r2.terminate() == 0
    assert base
    assert reports_by_id(out) == base


def test_two_replicas_share_six_partitions_and_the_survivor_of_a_kill_reports_exactly_the_single_replica_verdicts(tmp_path):
    lines = payment_log(40000, 400, seed=9)
    with running_broker() as b:
        run(create_topic(b.bootstrap, "payments6", 6))
        run(produce(b.bootstrap, "payments6", keyed(lines, 6)))
        base = _uninterrupted(b, tmp_path, "payments6", 6, len(lines))
        cfg = write_config(tmp_path / "scale.json", bootstrap_servers=b.bootstrap,
                           topics=["payments6"], group_id="scale")
        out = tmp_path / "scale.jsonl"  # both replicas append to one file
        r1 = Replica(cfg, out, tmp_path / "r1.log").start()
        r2 = Replica(cfg, out, tmp_path / "r2.log").start()
        try:
            wait_for(lambda: run(committed(b.bootstrap, "scale", "payments6", 6)) > len(lines) // 4,
                     90, "both replicas to make progress")
            r2.kill()
            assert run(committed(b.bootstrap, "scale", "payments6", 6)) < len(lines)
            wait_for(lambda: run(committed(b.bootstrap, "scale", "payments6", 6)) >= len(lines),
                     120, "the survivor to take over and commit everything")
        finally:
            assert r1.terminate() == 0
    assert reports_by_id(out) == base
    # the work was shared before the kill: each replica was assigned partitions
    assert "assigned ['payments6/" in r1.log.read_text()
    assert "assigned ['payments6/" in r2.log.read_text()


def test_a_broker_killed_and_restarted_on_durable_storage_loses_no_record_and_duplicates_no_report(tmp_path):
    lines = payment_log(20000, 200, seed=11)
    s3 = S3()
    s3.start()
    broker = Broker(free_port(), storage="s3://tansu/", env=s3.env, log=tmp_path / "tansu.log")
    try:
        broker.start()
        run(create_topic(broker.bootstrap, "payments", 3))
        run(produce(broker.bootstrap, "payments", keyed(lines, 3)))
        cfg = write_config(tmp_path / "restart.json", bootstrap_servers=broker.bootstrap,
                           topics=["payments"], group_id="restart")
        out = tmp_path / "restart.jsonl"
        r = Replica(cfg, out, tmp_path / "replica.log").start()
        try:
            wait_for(lambda: run(committed(broker.bootstrap, "restart", "payments", 3)) > 0, 60,
                     "a first commit")
            broker.stop()      # SIGKILL
            broker.start()     # same port, same bucket
            assert run(committed(broker.bootstrap, "restart", "payments", 3)) > 0, \
                "committed offsets survived the restart"
            wait_for(lambda: run(committed(broker.bootstrap, "restart", "payments", 3)) >= len(lines),
                     150, "the consumer to finish after the broker came back")
            assert r.alive()
        finally:
            assert r.terminate() == 0
    finally:
        broker.stop()
        s3.stop()
    got = reports_by_id(out)
    assert set(got.values()) == offline(lines, 3, "payments")


def admin_port(log) -> int | None:  # type: ignore[no-untyped-def]
    for line in log.read_text().splitlines():
        if '"started"' in line:
            return json.loads(line).get("admin")
    return None


def scrape(port: int, records: int) -> str | None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return text if f"specmon_kafka_records_total {float(records)}" in text else None


def test_specmon_run_with_sources_kafka_checks_a_topic_and_stops_cleanly_on_sigterm(tmp_path):
    import subprocess
    import sys

    import yaml

    lines = payment_log(3000, 60, seed=13)
    with running_broker() as b:
        run(create_topic(b.bootstrap, "payments", 2))
        run(produce(b.bootstrap, "payments", keyed(lines, 2)))
        out = tmp_path / "reports.jsonl"
        cfg = tmp_path / "specmon.yaml"
        cfg.write_text(yaml.safe_dump({
            "specs": [{"path": str(PAYMENT)}],
            "sources": {"otlp": {"http": {"enabled": False}, "grpc": {"enabled": False}},
                        "kafka": {"bootstrap_servers": b.bootstrap, "topics": ["payments"],
                                  "group_id": "run", "session_timeout_ms": 1000,
                                  "heartbeat_interval_ms": 200, "checkpoint_interval": "200ms",
                                  "idle_advance": None}},
            "admin": {"host": "127.0.0.1", "port": 0},
            "checkpoint": {"enabled": False},
            "reports": {"file": {"path": str(out)}},
        }))
        with open(tmp_path / "run.log", "wb") as log:
            specmon = str(Path(sys.executable).parent / "specmon")
            proc = subprocess.Popen([specmon, "run", str(cfg)],
                                    stdout=log, stderr=log)
        try:
            wait_for(lambda: run(committed(b.bootstrap, "run", "payments", 2)) >= len(lines),
                     90, "specmon run to commit everything")
            port = wait_for(lambda: admin_port(tmp_path / "run.log"), 10, "the admin port")
            metrics = wait_for(lambda: scrape(port, len(lines)), 10, "metrics of every record")
            assert 'specmon_kafka_lag_records{partition="0",topic="payments"} 0.0' in metrics
            assert "specmon_kafka_rebalances_total 1.0" in metrics
            per_spec = spec_series(metrics)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                assert r.status == 200
        finally:
            proc.terminate()
            rc = proc.wait(30)
    assert rc == 0, (tmp_path / "run.log").read_text()[-2000:]
    got = {verdict(r) for r in read_reports(out)}
    pipes: list[Pipeline] = []
    assert got == offline(lines, 2, "payments", pipes)
    # the per-spec series count the Kafka-fed events and violations, as for OTLP
    want: dict = {}
    for pl in pipes:
        add_counts(want, pipeline_counts(pl))
    assert want[("outcome", "mapped")] > 0 and want[("counter", "violations")] > 0
    for outcome in ("mapped", "duplicate", "late"):
        assert per_spec[("specmon_events_total", outcome)] == want[("outcome", outcome)]
    assert per_spec["violations"] == want[("counter", "violations")] == \
        sum(1 for r in read_reports(out) if r.get("kind") != "spec_error")
    assert per_spec[("specmon_engine_events_total", None)] == want[("counter", "events")]


def spec_series(text: str) -> dict:
    """The spec="payment" samples: (name, outcome) -> value, and the violations summed."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict = {"violations": 0.0}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.labels.get("spec") != "payment":
                continue
            if s.name == "specmon_violations_total":
                out["violations"] += s.value
            out[(s.name, s.labels.get("outcome"))] = s.value
    return out


def test_a_caught_up_idle_partition_fires_its_deadlines_by_the_wall_clock():
    import datetime as dt

    eight_days_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=8)
    event = json.dumps({"specversion": "1.0", "id": "e1", "type": "payment.authorized",
                        "subject": "pay-idle", "time": eight_days_ago.isoformat(),
                        "data": {"amount": 100}}).encode()

    async def scenario(bootstrap: str) -> list[dict]:
        got: list[dict] = []

        async def sink(lines, republish):  # type: ignore[no-untyped-def]
            got.extend(json.loads(line) for _rid, line in lines)

        cfg = KafkaConfig(bootstrap_servers=bootstrap, topics=["idle"], group_id="idle",
                          session_timeout_ms=1000, heartbeat_interval_ms=200,
                          checkpoint_interval=0.2, idle_advance=0.5)
        src = KafkaSource(cfg, [load_specdir(PAYMENT)], sinks=[sink])
        await src.start()
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while not got:
                assert loop.time() < deadline, src.stats
                await asyncio.sleep(0.05)
            assert src.counts["idle_advances"] >= 1
        finally:
            await src.stop()
        return got

    with running_broker() as b:
        run(create_topic(b.bootstrap, "idle", 2))
        run(produce(b.bootstrap, "idle", [(0, b"pay-idle", event, [])]))
        got = run(scenario(b.bootstrap))
    assert [(r["key"], r["kind"], r["property"]) for r in got] == [("pay-idle", "deadline", "settles")]

"""Report sinks: the file rotates by size and keeps a bounded number of backups; the
webhook retries with backoff against a real local aiohttp server, counts what it drops,
and speaks Alertmanager's payload when asked."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from monitor.config import FileSink, ReportsSection, WebhookSink
from monitor.engine.events import Violation
from monitor.sinks.outputs import ReportFile, ReportSinks
from monitor.sinks.webhook import Webhook


def violation(key: str = "p1", trace_id: str | None = "ab" * 16) -> Violation:
    return Violation(spec="payment", key=key, kind="unexpected", property="capture",
                     message="capture(5) not allowed", time=1_767_225_600.5,
                     trace_id=trace_id)


def test_the_report_file_rotates_by_size_and_keeps_at_most_its_backups(tmp_path):
    f = ReportFile(FileSink(path=str(tmp_path / "r.jsonl"), max_bytes=100, backups=2))
    f.open()
    rotated = [f.write(b"x" * 59 + b"\n") for _ in range(7)]
    f.close()
    assert rotated == [False, True] * 3 + [False]
    assert f.rotations == 3
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["r.jsonl", "r.jsonl.1", "r.jsonl.2"]
    assert [len(p.read_bytes()) for p in f.files()] == [60, 120, 120]


def test_sinks_swallow_the_reports_to_skip_and_count_the_rest(tmp_path):
    sinks = ReportSinks(ReportsSection(file=FileSink(path=str(tmp_path / "r.jsonl"))))
    asyncio.run(sinks.start())
    sinks.skip = 1
    sinks.emit(violation("p1"))
    sinks.emit(violation("p2"))
    asyncio.run(sinks.stop())
    lines = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [r["key"] for r in lines] == ["p2"]
    assert (sinks.skipped, sinks.emitted) == (1, 1)


class Receiver:
    """A local webhook endpoint: answers the statuses in ``script``, then 200."""

    def __init__(self, script: list[int]) -> None:
        self.script = list(script)
        self.bodies: list[object] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.json())
        return web.Response(status=self.script.pop(0) if self.script else 200)


async def serve(receiver: Receiver, cfg: dict, check) -> Webhook:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    hook = Webhook(WebhookSink(url=f"http://127.0.0.1:{port}/hook", **cfg), backoff_s=0.01)
    await hook.start()
    try:
        await check(hook)
    finally:
        await hook.stop()
        await runner.cleanup()
    return hook


async def until(cond, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.01)


def test_the_webhook_retries_server_errors_and_delivers_in_order():
    receiver = Receiver([503, 500])

    async def check(hook):
        hook.put(violation("p1"), b'{"key": "p1"}\n')
        hook.put(violation("p2"), b'{"key": "p2"}\n')
        await until(lambda: hook.stats["sent"] == 2)

    hook = asyncio.run(serve(receiver, {}, check))
    assert [b["key"] for b in receiver.bodies] == ["p1", "p1", "p1", "p2"]
    assert (hook.stats["failed_attempts"], hook.stats["dropped"]) == (2, 0)


def test_the_webhook_drops_a_report_after_its_retries_and_on_a_client_error():
    receiver = Receiver([500, 500, 400])

    async def check(hook):
        hook.put(violation("p1"), b'{"key": "p1"}\n')  # 500, 500: retries exhausted
        hook.put(violation("p2"), b'{"key": "p2"}\n')  # 400: not retried
        hook.put(violation("p3"), b'{"key": "p3"}\n')
        await until(lambda: hook.stats["sent"] == 1)

    hook = asyncio.run(serve(receiver, {"retries": 1}, check))
    assert [b["key"] for b in receiver.bodies] == ["p1", "p1", "p2", "p3"]
    assert hook.stats["dropped"] == 2


def test_the_alertmanager_payload_carries_labels_annotations_and_the_event_time():
    receiver = Receiver([])

    async def check(hook):
        hook.put(violation("p1"), b"")
        await until(lambda: hook.stats["sent"] == 1)

    asyncio.run(serve(receiver, {"alertmanager": True}, check))
    assert receiver.bodies == [[{
        "labels": {"alertname": "SpecViolation", "spec": "payment", "kind": "unexpected",
                   "property": "capture", "key": "p1"},
        "annotations": {"summary": "payment: unexpected capture for key p1",
                        "description": "capture(5) not allowed", "trace_id": "ab" * 16},
        "startsAt": "2026-01-01T00:00:00.500Z"}]]


def test_a_full_webhook_queue_drops_the_oldest_report():
    async def check():
        hook = Webhook(WebhookSink(url="http://127.0.0.1:9/none", queue=2))
        for k in ("p1", "p2", "p3"):  # no sender task: nothing leaves the queue
            hook.put(violation(k), k.encode())
        return hook

    hook = asyncio.run(check())
    assert hook.stats["dropped"] == 1 and list(hook._queue) == [b"p2", b"p3"]


@pytest.mark.parametrize("backups", [0])
def test_without_backups_a_rotation_starts_the_file_again(tmp_path, backups):
    f = ReportFile(FileSink(path=str(tmp_path / "r.jsonl"), max_bytes=10, backups=backups))
    f.open()
    assert f.write(b"0123456789\n") is True
    f.write(b"a\n")
    f.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.jsonl"]
    assert (tmp_path / "r.jsonl").read_bytes() == b"a\n"


def kafka_runner(tmp_path, **file):  # type: ignore[no-untyped-def]
    """The daemon's side of ``sources.kafka``: its sinks, the spec, the source attached."""
    from types import SimpleNamespace

    from monitor.sources.kafka_config import KafkaConfig
    from monitor.sources.kafka_runner import attach
    from tests.sinks.runner_shape import payment_runtime

    cfg = KafkaConfig(bootstrap_servers="127.0.0.1:9", topics=["payments"], group_id="g")
    runner = SimpleNamespace(
        config=SimpleNamespace(sources=SimpleNamespace(kafka=cfg)),
        specs={"payment": payment_runtime()}, sources=[],
        sinks=ReportSinks(ReportsSection(file=FileSink(path=str(tmp_path / "r.jsonl"),
                                                       **file))))
    runner.add_source = runner.sources.append
    source = attach(runner)
    asyncio.run(runner.sinks.start())
    return runner, source


def file_ids(tmp_path) -> list[str]:  # type: ignore[no-untyped-def]
    return [json.loads(line)["report_id"] for p in sorted(tmp_path.glob("r.jsonl*"))
            for line in p.read_text().splitlines()]


def test_a_republished_kafka_batch_reaches_the_daemons_sinks_once_with_its_report_ids(tmp_path):
    from monitor.sources.kafka import report_line

    runner, source = kafka_runner(tmp_path)
    lines = [report_line(violation(f"p{i}")) for i in range(3)]
    asyncio.run(source._publish(lines[:2], republish=False))  # then the replica "dies"
    asyncio.run(source._publish(lines, republish=True))  # the successor's republish
    asyncio.run(runner.sinks.stop())
    assert file_ids(tmp_path) == [rid for rid, _ in lines]
    assert (runner.sinks.emitted, runner.sinks.duplicates) == (3, 2)
    assert runner.specs["payment"].last_trace_ids[("unexpected", "capture")] == "ab" * 16


def test_a_restarted_daemon_on_the_same_report_file_skips_ids_written_before_even_rotated(tmp_path):
    from monitor.sources.kafka import report_line

    lines = [report_line(violation(f"p{i}")) for i in range(4)]
    # one report per file: the first restart finds its ids in the file and its backup
    runner, source = kafka_runner(tmp_path, max_bytes=1, backups=5)
    asyncio.run(source._publish(lines[:2], republish=False))
    asyncio.run(runner.sinks.stop())
    runner, source = kafka_runner(tmp_path, max_bytes=1, backups=5)
    assert len(runner.sinks.recent) == 2
    asyncio.run(source._publish(lines, republish=True))
    asyncio.run(runner.sinks.stop())
    assert sorted(file_ids(tmp_path)) == sorted(rid for rid, _ in lines)
    assert runner.sinks.duplicates == 2


def test_otlp_reports_still_use_the_crash_replay_skip_and_kafka_ones_do_not_consume_it(tmp_path):
    from monitor.sources.kafka import report_line

    sinks = ReportSinks(ReportsSection(file=FileSink(path=str(tmp_path / "r.jsonl"))))
    asyncio.run(sinks.start())
    sinks.skip = 1
    rid, line = report_line(violation("k1"))
    assert sinks.emit(violation("k1"), line, rid)
    assert not sinks.emit(violation("o1"))
    assert sinks.emit(violation("o2"))
    asyncio.run(sinks.stop())
    keys = [json.loads(x)["key"] for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert keys == ["k1", "o2"]


@given(st.lists(st.integers(0, 300), max_size=200, unique=True), st.integers(1, 10))
def test_recent_ids_hold_exactly_the_last_ids_up_to_the_limit(ids, limit):
    # ids are distinct: emit adds only an id it does not hold
    from monitor.sinks.outputs import RecentIds

    recent = RecentIds(limit)
    for i in ids:
        recent.add(str(i))
    assert len(recent) == min(limit, len(ids))
    assert all(str(i) in recent for i in ids[-limit:])
    assert not any(str(i) in recent for i in ids[:-limit])


@given(st.lists(st.booleans(), max_size=30), st.integers(0, 40))
def test_crash_recovery_counts_only_otlp_report_lines_after_the_checkpoint_and_the_torn_tail(
        tmp_path_factory, kafka, torn):
    # the WAL replay produces the OTLP reports again, never the Kafka ones: counting a
    # Kafka line would make the sinks swallow an OTLP report that was never written
    from monitor.durable import _count_lines
    from monitor.sinks.reports import encode_report
    from monitor.sources.kafka import report_line

    path = tmp_path_factory.mktemp("count") / "r.jsonl"
    head = encode_report(violation("before")) + b"\n"
    body = b"".join((report_line(violation(f"k{i}"))[1] if k else
                     encode_report(violation(f"o{i}"))) + b"\n" for i, k in enumerate(kafka))
    path.write_bytes(head + body + b'{"spec":"pay'[:torn])
    assert _count_lines(path, len(head)) == (kafka.count(False), min(torn, 12))

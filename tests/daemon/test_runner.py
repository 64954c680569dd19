"""The runner in-process (receivers on ephemeral ports, admin off; requests go straight
to its ingest):
a restart restores the engines from the checkpoint, so violation counters continue and
no report is written twice; logs are JSON lines; a bad spec stops start-up."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import pytest

from monitor.config import Duration, load_config
from monitor.errors import ConfigError
from monitor.runner import Runner
from monitor.sinks.logs import log, setup_logging
from tests.otlp import PAYMENT, SECOND, T0, SpanSpec, payment, request


def config(tmp_path, **env):
    return load_config(env={
        "SPECMON_SPECS": str(PAYMENT), "SPECMON_OTLP_HTTP_PORT": "0",
        "SPECMON_OTLP_GRPC_PORT": "0", "SPECMON_ADMIN_ENABLED": "false",
        "SPECMON_CHECKPOINT_PATH": str(tmp_path / "ck"),
        "SPECMON_REPORTS_FILE_PATH": str(tmp_path / "reports.jsonl"),
        "SPECMON_ENGINE_LATENESS": "0s", "SPECMON_ENGINE_LATE_JOIN": "strict", **env})


def capture(pid: str, t: int, amount: int = 500):
    return request([SpanSpec("payment.capture", {"payment.id": pid, "payment.amount": amount},
                             t, t + SECOND)])


async def session(cfg, *reqs):
    runner = Runner(cfg)
    await runner.start()
    for r in reqs:
        runner.ingest.submit(r)
    await runner.ingest.drained()
    counters = runner.specs["payment"].pipeline.engine.counters.violations
    await runner.stop()
    return runner, counters


def reports(tmp_path):
    return [json.loads(line) for line in (tmp_path / "reports.jsonl").read_text().splitlines()]


def test_a_restart_continues_the_counters_and_the_instances(tmp_path):
    cfg = config(tmp_path)
    # p1 authorized 100 in the first run; capturing 500 in the second is over the limit
    first, n1 = asyncio.run(session(cfg, request(payment("p1", T0)[:1]), capture("p0", T0)))
    assert n1 == 1
    second, n2 = asyncio.run(session(cfg, capture("p1", T0 + 5 * SECOND)))
    assert n2 == 2
    assert [(r["key"], r["kind"]) for r in reports(tmp_path)] == [
        ("p0", "unexpected"), ("p1", "unexpected")]
    assert second.checkpoint_time is not None


def test_a_restart_with_nothing_new_writes_no_report_again(tmp_path):
    cfg = config(tmp_path)
    asyncio.run(session(cfg, capture("p0", T0)))
    asyncio.run(session(cfg))
    assert len(reports(tmp_path)) == 1


def test_without_checkpoints_a_restart_forgets(tmp_path):
    cfg = config(tmp_path, SPECMON_CHECKPOINT_ENABLED="false")
    asyncio.run(session(cfg, request(payment("p1", T0)[:1])))
    _, n = asyncio.run(session(cfg, capture("p1", T0 + 5 * SECOND)))
    assert n == 1  # p1 is unknown again: a capture with no authorization
    assert not (tmp_path / "ck").exists()


def test_a_spec_directory_that_does_not_exist_stops_start_up(tmp_path):
    cfg = config(tmp_path, SPECMON_SPECS=str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match=r"nope: not a directory"):
        Runner(cfg)


def test_two_specs_with_one_name_are_refused(tmp_path):
    cfg = config(tmp_path, SPECMON_SPECS=f"{PAYMENT},{PAYMENT}")
    with pytest.raises(ConfigError, match=r"two specs are named 'payment'.*give one a `name:`"):
        Runner(cfg)


def test_logs_are_json_lines_with_ts_level_logger_event_and_fields():
    out = io.StringIO()
    handler = setup_logging("info", out)
    try:
        log(logging.getLogger("specmon.test"), logging.WARNING, "violation", spec="payment",
            grace=Duration(20.0))
        logging.getLogger("specmon.test").debug("not shown at info")
    finally:
        logging.getLogger().removeHandler(handler)
    (line,) = out.getvalue().splitlines()
    doc = json.loads(line)
    assert list(doc)[:4] == ["ts", "level", "logger", "event"]
    assert (doc["level"], doc["logger"], doc["event"], doc["spec"]) == (
        "warning", "specmon.test", "violation", "payment")
    assert doc["ts"].endswith("Z")
    assert doc["grace"] == 20.0  # config Durations come out as numbers


def test_a_spec_no_configured_source_can_feed_stops_start_up(tmp_path):
    lease = PAYMENT.parent / "lease"  # maps JSON events only
    with pytest.raises(ConfigError, match=r"spec lease .* maps only JSON events .* add "
                       r"`sources.kafka`, or a `spans:` section"):
        Runner(config(tmp_path, SPECMON_SPECS=str(lease)))


def test_runner_stats_count_checkpoints_the_wal_and_reports(tmp_path):
    runner, _ = asyncio.run(session(config(tmp_path), capture("p0", T0)))
    st = runner.stats
    assert st["reports_emitted"] == 1
    assert st["checkpoints"] == 2  # after start-up, at stop
    assert st["wal_refused"] == 0 and st["checkpoint_failures"] == 0
    assert st["report_file_rotations"] == 0


def test_a_torn_last_report_line_is_cut_and_written_again_whole(tmp_path):
    cfg = config(tmp_path)
    asyncio.run(session(cfg, capture("p0", T0)))
    path = tmp_path / "reports.jsonl"
    whole = path.read_bytes()
    ck = tmp_path / "ck"
    saved = (ck / "checkpoint.msgpack").read_bytes()
    asyncio.run(session(cfg, capture("p9", T0 + SECOND)))  # a second report
    # a crash: killed while writing p9's report line, before any checkpoint covered p9
    (ck / "checkpoint.msgpack").write_bytes(saved)
    data = path.read_bytes()
    path.write_bytes(data[: len(whole) + 10])  # the second report torn mid-line
    asyncio.run(session(cfg))
    got = [r["key"] for r in reports(tmp_path)]
    assert got == ["p0", "p9"]

"""The law behind the crash test, in-process and for many crash points: a runner killed
at any point (items queued but not applied, with or without a checkpoint since) and
restarted on the same directory ends with the reports and violation counters of a run
that was never interrupted."""

from __future__ import annotations

import asyncio
import contextlib
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.runner import Runner
from tests.daemon.test_runner import config
from tests.otlp import SECOND, T0, payment, request

#: 12 payments; every third captures more than it authorized (a violation)
STREAM = [request(payment(f"p{i}", T0 + i * SECOND, amount=100,
                          capture=150 if i % 3 == 0 else 50)) for i in range(12)]


async def crash(runner: Runner) -> None:
    """SIGKILL, as far as the files can tell: no drain, no checkpoint, no flush."""
    task = runner.ingest._task
    assert task is not None
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    for src in runner.sources:
        await src.stop()
    runner.durable.close()
    runner.sinks.file.close()


async def run(cfg, reqs, plan=None) -> int:
    """Submit ``reqs``; ``plan[i]``: after request i, 0 nothing, 1 let the consumer
    apply, 2 apply and checkpoint, 3 crash and restart."""
    runner = Runner(cfg)
    await runner.start()
    for i, r in enumerate(reqs):
        runner.ingest.submit(r)
        step = plan[i] if plan else 1
        if step >= 1 and step != 3:
            await runner.ingest.drained()
        if step == 2:
            await runner.durable.checkpoint()
        if step == 3:
            await crash(runner)
            runner = Runner(cfg)
            await runner.start()
    await runner.ingest.drained()
    n = runner.specs["payment"].pipeline.engine.counters.violations
    await runner.stop()
    return n


def verdicts(path):
    return [(r["key"], r["kind"], r["property"], r["time"])
            for r in map(json.loads, path.read_text().splitlines())]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=st.lists(st.integers(0, 3), min_size=len(STREAM), max_size=len(STREAM)))
def test_a_crash_anywhere_ends_with_the_uninterrupted_reports_and_counters(tmp_path_factory, plan):
    base, crashed = tmp_path_factory.mktemp("base"), tmp_path_factory.mktemp("crash")
    n_base = asyncio.run(run(config(base), STREAM))
    n_crash = asyncio.run(run(config(crashed), STREAM, plan))
    assert verdicts(crashed / "reports.jsonl") == verdicts(base / "reports.jsonl")
    assert n_crash == n_base == 4

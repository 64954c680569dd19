"""The admin endpoints of the real ``Runner`` (in-process, ephemeral ports): requests
through its OTLP/HTTP source show up per source and per spec, the violation carries its
trace id as an exemplar, the latency histogram counts every applied event, and a full
queue is counted as refused on the source that refused it."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from monitor.config import load_config
from monitor.runner import Runner
from monitor.sources.ingest import Overloaded
from tests.integration import shop
from tests.integration.receivers import ORDERS
from tests.sinks.test_admin import OPENMETRICS


def config(tmp_path, **env):
    return load_config(env={
        "SPECMON_SPECS": str(ORDERS), "SPECMON_OTLP_HTTP_PORT": "0",
        "SPECMON_OTLP_GRPC_PORT": "0", "SPECMON_ADMIN_PORT": "0",
        "SPECMON_CHECKPOINT_ENABLED": "false", "SPECMON_ENGINE_LATENESS": "0s",
        "SPECMON_ENGINE_LATE_JOIN": "strict", **env})


async def scrape(runner: Runner) -> dict[str, str]:
    async with aiohttp.ClientSession() as http:
        base = f"http://127.0.0.1:{runner.admin_port}"
        async with http.get(f"{base}/metrics", headers={"Accept": OPENMETRICS}) as r:
            body = await r.text()
        async with http.get(f"{base}/healthz") as h, http.get(f"{base}/readyz") as rd:
            assert (h.status, rd.status) == (200, 200)
    # series -> its whole line (no label value of ours holds a space)
    return {line.split(" ", 1)[0]: line for line in body.splitlines()
            if not line.startswith("#")}


def value(lines: dict[str, str], series: str) -> float:
    return float(lines[series].split(" # ")[0].rsplit(" ", 1)[1])


def test_the_real_runner_exports_per_source_and_per_spec_series_with_the_trace_exemplar(tmp_path):
    req = shop.request(shop.SHIP_UNPAID)
    ship = next(s for s in req.resource_spans[0].scope_spans[0].spans if s.name == "order.ship")

    async def run():
        runner = Runner(config(tmp_path))
        await runner.start()
        try:
            before = await scrape(runner)
            runner.source("otlp_http").submit(req)
            await runner.ingest.drained()
            return before, await scrape(runner)
        finally:
            await runner.stop()

    before, after = asyncio.run(run())
    series = 'specmon_violations_total{kind="unexpected",property="ship",spec="orders"}'
    assert value(before, series) == 0
    assert value(after, series) == 1
    assert after[series].endswith(f'# {{trace_id="{ship.trace_id.hex()}"}} 1.0')
    http, grpc = ('{kind="otlp",source="otlp_http"}', '{kind="otlp",source="otlp_grpc"}')
    assert value(after, f"specmon_source_records_total{http}") == 2
    assert value(after, f"specmon_source_records_total{grpc}") == 0
    assert value(after, f"specmon_source_connected{grpc}") == 1
    assert value(after, 'specmon_events_total{outcome="mapped",spec="orders"}') == 2
    assert value(after, "specmon_event_to_verdict_seconds_count") == 2
    assert value(after, "specmon_ready") == 1


def test_a_request_refused_by_the_full_queue_counts_on_its_source(tmp_path):
    async def run():
        runner = Runner(config(tmp_path, SPECMON_OTLP_QUEUE_EVENTS="1"))
        await runner.start()
        try:
            src = runner.source("otlp_grpc")
            await runner.ingest.stop()  # no consumer: the queue stays full
            src.submit(shop.request(shop.HAPPY))  # admitted into the empty queue
            with pytest.raises(Overloaded):
                src.submit(shop.request(shop.SHIP_UNPAID))
            lines = await scrape(runner)
        finally:
            await runner.ingest.start()
            await runner.stop()
        return lines

    lines = asyncio.run(run())
    grpc = '{kind="otlp",source="otlp_grpc"}'
    assert value(lines, f"specmon_source_refused_total{grpc}") == 1
    assert value(lines, f"specmon_source_records_total{grpc}") == 3
    assert value(lines, f"specmon_queue_depth{grpc}") == 3
    assert value(lines, f"specmon_queue_limit{grpc}") == 1

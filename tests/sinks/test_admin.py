"""The admin endpoints on a real port: /metrics in the format the scraper asks for,
/healthz failing only when the loop stops making progress, /readyz following the
runner's readiness."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from monitor.sinks.admin import AdminServer
from tests.sinks.runner_shape import RunnerShape, payment_runtime

OPENMETRICS = "application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5"


def serve(runner, check, **options):
    async def run():
        server = AdminServer(runner, port=0, **options)
        async with server, aiohttp.ClientSession() as http:
            return await check(server.url, http)
    return asyncio.run(run())


def test_metrics_are_openmetrics_when_asked_for_and_prometheus_text_otherwise():
    async def check(url, http):
        async with http.get(url + "/metrics", headers={"Accept": OPENMETRICS}) as r:
            om = (r.status, r.headers["Content-Type"], await r.text())
        async with http.get(url + "/metrics") as r:
            text = (r.status, r.headers["Content-Type"], await r.text())
        return om, text

    (s1, ct1, om), (s2, ct2, text) = serve(RunnerShape({"payment": payment_runtime()}), check)
    assert s1 == s2 == 200
    assert ct1.startswith("application/openmetrics-text") and om.endswith("# EOF\n")
    assert ct2.startswith("text/plain; version=0.0.4")
    for body in (om, text):
        assert 'specmon_violations_total{kind="unexpected",property="capture",spec="payment"} 0.0' in body
        assert "process_resident_memory_bytes" in body


def test_healthz_fails_when_the_loop_made_no_progress_for_longer_than_the_limit():
    clock = [100.0]
    runner = RunnerShape({"payment": payment_runtime()}, last_progress=95.0)

    async def check(url, http):
        out = []
        for now in (100.0, 125.0, 131.0):
            clock[0] = now
            async with http.get(url + "/healthz") as r:
                out.append((r.status, await r.text()))
        return out

    fresh, quiet, stuck = serve(runner, check, stall_after=30.0, monotonic=lambda: clock[0])
    assert fresh == (200, "ok\n") and quiet[0] == 200
    assert stuck == (503, "stalled: no progress for 36s (limit 30s)\n")


def test_readyz_follows_the_runner():
    runner = RunnerShape({"payment": payment_runtime()}, ready=False)

    async def check(url, http):
        async with http.get(url + "/readyz") as r:
            before = r.status
        runner.ready = True
        async with http.get(url + "/readyz") as r:
            return before, r.status

    assert serve(runner, check) == (503, 200)


def test_coverage_serves_the_transitions_the_engine_took_as_a_file_diagram_reads(tmp_path):
    from monitor.cli import main
    from tests.sinks.runner_shape import PAYMENT

    runtime = payment_runtime()
    for line in (PAYMENT / "samples" / "clean.jsonl").read_bytes().splitlines():
        runtime.pipeline.feed_json(line, None)
    runner = RunnerShape({"payment": runtime})

    async def check(url, http):
        async with http.get(url + "/coverage") as r:
            doc = (r.status, await r.json())
        async with http.get(url + "/coverage?spec=nope") as r:
            missing = (r.status, await r.json())
        return doc, missing

    (status, doc), (status_missing, missing) = serve(runner, check)
    assert status == 200 and doc["format"] == "specmon-coverage/1"
    taken = sum(t["count"] for t in doc["transitions"])
    assert taken > 0
    assert taken == sum(runtime.pipeline.engine.transition_counts().values())
    assert status_missing == 404 and "one of ['payment']" in missing["error"]
    # what the sidecar serves is what `specmon diagram --coverage` reads
    path = tmp_path / "live.json"
    path.write_text(json.dumps(doc))
    assert main(["diagram", str(PAYMENT), "--coverage", str(path), "-o",
                 str(tmp_path / "g.mmd")]) == 0
    assert "authorize" in (tmp_path / "g.mmd").read_text()

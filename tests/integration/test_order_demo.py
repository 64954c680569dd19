"""The order saga demo end to end: the app (specs/order/app.py) exports its spans with the
SDK's real OTLP exporters over loopback to specmon's receivers, or hands them in-process to
``SpecMonitorProcessor``; the monitor finds exactly the violations the app injected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitor.engine import EngineConfig
from monitor.otel import SpecMonitorProcessor
from tests.integration.receivers import RunningMonitor
from tests.specs.order_support import ORDER, RequestCollector, app, check

pytestmark = pytest.mark.integration

#: the default engine: 5 s reorder window (the app's stages overlap by up to 2 s), adopt
CONFIG = EngineConfig()


def _truth(path: Path) -> list[tuple[str, str, str]]:
    import json

    return sorted((r["key"], r["kind"], r["property"])
                  for r in map(json.loads, path.read_text().splitlines()))


def _run_app(tmp_path: Path, *args: str) -> list[tuple[str, str, str]]:
    truth = tmp_path / "truth.jsonl"
    done = subprocess.run([sys.executable, str(ORDER / "app.py"), "--orders", "40",
                           "--truth", str(truth), *args],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Failed to export" not in done.stderr, done.stderr
    return _truth(truth)


def _verdicts(mon: RunningMonitor) -> list[tuple[str, str, str]]:
    """Apply what the receivers accepted, then end the input (deadlines fire)."""
    mon.drained()
    tail = mon.call(mon.pipeline.engine.flush)
    return sorted((r.key, r.kind, r.property) for r in [*mon.reports, *tail])


@pytest.mark.parametrize("bug", ["retry-declined", "double-refund", "no-compensation"])
def test_the_app_exporting_over_otlp_http_is_checked_by_the_receiver(tmp_path, bug):
    with RunningMonitor(ORDER, config=CONFIG) as mon:
        truth = _run_app(tmp_path, "--bug", bug, "--otlp-http", mon.http.endpoint)
        got = _verdicts(mon)
        stats = mon.ingest.stats
    assert truth and got == truth
    assert stats.rejected_spans == 0 and stats.spans > 300 and mon.http.responses.get(200, 0) >= 1
    assert mon.pipeline.engine.counters.late == 0


def test_the_app_exporting_over_otlp_grpc_is_checked_by_the_receiver(tmp_path):
    with RunningMonitor(ORDER, config=CONFIG) as mon:
        truth = _run_app(tmp_path, "--bug", "ship-before-charge",
                         "--otlp-grpc", f"127.0.0.1:{mon.grpc.port}")
        got = _verdicts(mon)
    assert truth and got == truth


def test_a_clean_run_over_otlp_http_raises_nothing(tmp_path):
    with RunningMonitor(ORDER, config=CONFIG) as mon:
        assert _run_app(tmp_path, "--otlp-http", mon.http.endpoint) == []
        assert _verdicts(mon) == []
        assert mon.pipeline.engine.counters.finished > 30


def test_the_app_in_process_with_the_span_processor_finds_every_injected_violation():
    # the processor's idle tick advances the watermark to clock(); the app's clock is
    # simulated (2026-11-01), so hold the wall clock back instead of firing every deadline
    monitor = SpecMonitorProcessor(ORDER, config=CONFIG, clock=lambda: 0.0)
    truth = app.run_shop(60, 5, ["double-release", "lost-shipment"], processors=[monitor])
    assert monitor.force_flush(30_000)
    monitor.shutdown()  # end of input: what is buffered is applied, due deadlines fire
    got = sorted((v.key, v.kind, v.property) for v in monitor.violations)
    assert got == sorted((t.key, t.kind, t.property) for t in truth)
    assert {k for _, k, _ in got} == {"invariant", "deadline"}
    assert monitor.dropped == 0 and monitor.errors == 0 and monitor.processed > 400


def test_recording_unsampled_orders_lets_the_processor_check_every_order_while_exporting_a_sample():
    monitor = SpecMonitorProcessor(ORDER, config=CONFIG, clock=lambda: 0.0)
    exported = RequestCollector()
    sampler = app.order_sampler(0.3, record_unsampled=True)
    truth = app.run_shop(60, 3, ["double-refund", "no-compensation"], bug_rate=0.5,
                         sampler=sampler, processors=[monitor, app.StageBatcher(exported)])
    monitor.shutdown()
    everything = sorted((t.key, t.kind, t.property) for t in truth)
    assert sorted((v.key, v.kind, v.property) for v in monitor.violations) == everything
    # the exporter got only the sampled orders, whole: their verdicts are exact too
    keeps = app.OrderIdRatioSampler(0.3).keeps
    exported_orders = {a.value.string_value for req in exported.requests
                       for rs in req.resource_spans for ss in rs.scope_spans
                       for span in ss.spans for a in span.attributes if a.key == "order.id"}
    assert exported_orders == {p.order_id for p in app.plan_orders(60, 3) if keeps(p.order_id)}
    kept = [t for t in everything if keeps(t[0])]
    assert 0 < len(kept) < len(everything) and check(exported.requests)[0] == kept

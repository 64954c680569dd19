"""End to end: the order demo app (specs/order/app.py, its own process, the SDK's
BatchSpanProcessor and OTLP exporters) sends its spans to the receivers, and the monitor
reports exactly the violations the app says it injected."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.engine import EngineConfig
from tests.integration.receivers import RunningMonitor

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ORDER = ROOT / "specs" / "order"
#: the app runs a simulated clock: an hour of event time passes in under a second, and
#: the BatchSpanProcessor exports spans in the order they end, not in event-time order,
#: so the reorder window must cover the whole simulated run (40 orders: ~1 h)
SIMULATED = EngineConfig(allowed_lateness=4 * 3600.0)


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_the_violations_the_demo_app_injects_are_exactly_those_the_monitor_reports(
        transport, tmp_path):
    truth_file = tmp_path / "truth.jsonl"
    with RunningMonitor(ORDER, config=SIMULATED) as mon:
        target = (["--otlp-http", mon.http.endpoint] if transport == "http"
                  else ["--otlp-grpc", mon.grpc.endpoint])
        done = subprocess.run(
            [sys.executable, str(ORDER / "app.py"), "--orders", "40", "--seed", "1",
             "--bug", "ship-before-charge", "--bug", "double-refund", *target,
             "--truth", str(truth_file)], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        mon.drained()
        reports = mon.call(lambda: mon.reports + mon.pipeline.engine.flush())
    truth = sorted(tuple(json.loads(line).values()) for line in truth_file.read_text().splitlines())
    assert len(truth) >= 2
    assert sorted((r.key, r.kind, r.property) for r in reports) == truth
    assert mon.ingest.stats.rejected_spans == 0 and mon.ingest.stats.overloaded == 0


def test_the_processor_embedded_in_the_demo_app_reports_exactly_the_injected_violations():
    from monitor.otel import SpecMonitorProcessor
    from tests.specs.order_support import app

    monitor = SpecMonitorProcessor(ORDER, config=SIMULATED)
    truth = app.run_shop(40, 2, ["retry-declined", "double-release"], processors=[monitor])
    monitor.shutdown()  # end of input: the reorder window is flushed
    assert truth and sorted((r.key, r.kind, r.property) for r in monitor.violations) == sorted(
        (t.key, t.kind, t.property) for t in truth)
    assert monitor.dropped == 0 and monitor.errors == 0

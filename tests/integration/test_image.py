"""The container image (Dockerfile), built with podman offline from host wheels on the
python:3.11-slim stand-in: hadolint-clean, non-root with a fixed UID, no HEALTHCHECK; run
with a read-only root, it receives spans from the OpenTelemetry SDK's OTLP exporter,
shows the violation on /metrics, and stops on SIGTERM within a second with exit code 0."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid

import pytest

from tests.deploy.chart import require_tool
from tests.integration.podman import ROOT, http_text, inspect, metric, podman, wait_for

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_dockerfile_passes_hadolint():
    hadolint = require_tool("hadolint")
    done = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_runs_specmon_as_a_fixed_non_root_user_without_healthcheck(specmon_images):
    image, _ = specmon_images
    config = inspect("image", image)["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["specmon"]
    assert "Healthcheck" not in config or not config["Healthcheck"]
    assert "/var/lib/specmon" in config["Volumes"]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.title"] == "specmon"
    assert labels["org.opencontainers.image.version"]
    # only the installed package: no source tree, no tests, no specs in the image
    listing = podman("run", "--rm", "--network=none", "--entrypoint", "sh", image, "-c",
                     "ls /src /opt/specmon/lib/python3*/site-packages/tests 2>&1; "
                     "test -x /opt/specmon/bin/specmon && python -c 'import uvloop' && echo ok"
                     ).stdout
    assert listing.strip().endswith("ok") and "No such file" in listing


def test_the_running_image_reports_an_sdk_exported_violation_and_stops_on_sigterm(
        specmon_images, tmp_path):
    image, _ = specmon_images
    http_port, grpc_port, admin_port = _free_port(), _free_port(), _free_port()
    name = f"specmon-test-{uuid.uuid4().hex[:8]}"
    # host network: the loopback addresses the SDK exports to are the container's own
    podman("run", "-d", "--name", name, "--network=host", "--read-only", "--tmpfs", "/tmp",
           "-v", f"{ROOT / 'specs' / 'order'}:/specs/order:ro",
           "-e", f"SPECMON_OTLP_HTTP_PORT={http_port}", "-e", f"SPECMON_OTLP_GRPC_PORT={grpc_port}",
           "-e", f"SPECMON_ADMIN_PORT={admin_port}", image, "run", "--spec", "/specs/order")
    try:
        metrics_url = f"http://127.0.0.1:{admin_port}/metrics"
        truth = tmp_path / "truth.jsonl"
        logs = lambda: podman("logs", name, check=False).stderr[-3000:]  # noqa: E731
        wait_for("/readyz", lambda: http_text(f"http://127.0.0.1:{admin_port}/readyz"), 60, logs)
        sent = subprocess.run(
            [sys.executable, str(ROOT / "specs" / "order" / "app.py"), "--start", "now",
             "--orders", "20", "--bug", "retry-declined", "--truth", str(truth),
             "--otlp-http", f"http://127.0.0.1:{http_port}/v1/traces"],
            capture_output=True, text=True, timeout=120)
        assert sent.returncode == 0 and "Failed to export" not in sent.stderr, sent.stderr
        # what the app injected (specs/order/app.py --truth): one declined card charged again
        expected = [json.loads(line) for line in truth.read_text().splitlines()]
        assert {(t["kind"], t["property"]) for t in expected} == {("unexpected", "charge")}
        wait_for("violation on /metrics", lambda: metric(
            http_text(metrics_url), "specmon_violations_total", spec="order",
            kind="unexpected", property="charge") == len(expected), 30, logs)
        assert metric(http_text(metrics_url), "specmon_events_total",
                      spec="order", outcome="invalid") == 0

        # -t 1: a process that ignored SIGTERM would be SIGKILLed after 1 s (exit 137)
        started = time.monotonic()
        podman("stop", "-t", "1", name, timeout=30)
        took = time.monotonic() - started
        state = inspect("container", name)["State"]
        assert state["ExitCode"] == 0, (state, logs())
        assert '"event":"stopped"' in logs()
        print(f"podman stop took {took:.2f} s")
    finally:
        podman("rm", "-f", "-t", "0", name, check=False)

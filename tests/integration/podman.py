"""podman for the image and pod tests: build the image with deploy/image/build.sh (the
python:3.11-slim stand-in from Debian packages, wheels from the host: no registry, no
index inside the build), run containers and pods, and always remove what a test started.

podman is required in CI (.ci/run installs it); elsewhere a machine without it skips."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "deploy" / "image" / "build.sh"
IMAGE, DEMO = "localhost/specmon:test", "localhost/specmon:test-demo"


def have_podman() -> str:
    path = shutil.which("podman")
    if path:
        return path
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("podman is not installed: .ci/run must install podman buildah runc debootstrap")
    pytest.skip("podman is not installed (CI installs it: see .ci/run)")


@functools.cache
def podman_env() -> dict[str, str]:
    """The environment build.sh uses (its CONTAINERS_CONF: runc, CI-safe ulimits)."""
    conf = subprocess.run(["bash", str(BUILD), "conf"], capture_output=True, text=True,
                          check=True, timeout=30).stdout.strip()
    return {**os.environ, "CONTAINERS_CONF": conf}


def build_images() -> tuple[str, str]:
    """The image and the demo image (the image + OpenTelemetry SDK + specs/): ~2.5 min the
    first time on a machine (debootstrap, wheels), a few seconds once podman has the layers."""
    have_podman()
    done = subprocess.run(["bash", str(BUILD), "demo", DEMO, IMAGE], capture_output=True,
                          text=True, timeout=900, env=podman_env())
    assert done.returncode == 0, done.stderr[-4000:]
    return IMAGE, DEMO


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout,
                          env=podman_env())
    if check:
        assert done.returncode == 0, f"podman {' '.join(args)}: {done.stderr[-2000:]}"
    return done


def inspect(kind: str, name: str) -> dict:
    return json.loads(podman(kind, "inspect", name).stdout)[0]


def wait_for(what: str, probe: Callable[[], object], deadline_s: float = 60.0,
             explain: Callable[[], str] = lambda: "") -> object:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` at the deadline."""
    end = time.monotonic() + deadline_s
    last: object = None
    while time.monotonic() < end:
        last = probe()
        if last:
            return last
        time.sleep(0.2)
    pytest.fail(f"no {what} within {deadline_s:.0f} s (last: {last!r})\n{explain()}")


def http_text(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.read().decode()
    except OSError:
        return None


def metric(text: str | None, name: str, **labels: str) -> float | None:
    """The value of one series in a Prometheus text exposition (None when absent)."""
    for line in (text or "").splitlines():
        if not line.startswith(name + "{") or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        got = dict(part.split("=", 1) for part in series[len(name) + 1:-1].split(",") if part)
        if all(got.get(k) == f'"{v}"' for k, v in labels.items()):
            return float(value)
    return None

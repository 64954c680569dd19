"""Helpers for the chart and image tests: render deploy/helm/specmon with the real Helm SDK
(helm-python-sdk, Helm v4 inside), walk the manifests, and find external tools the way CI
expects (a tool missing in CI is a failure, outside CI a skip)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "specmon"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
#: Kubernetes versions the chart supports (Chart.yaml kubeVersion >= 1.25; a native sidecar
#: needs >= 1.29) up to the newest schema kubernetes-validate ships
LOWEST, NATIVE_SIDECAR_LOWEST, HIGHEST = "1.25", "1.29", "1.37"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_tool(name: str) -> str:
    """The tool's path; outside CI a missing tool skips, in CI it fails (.ci/run installs it)."""
    path = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if path:
        return path
    if in_ci():
        pytest.fail(f"{name} is not installed: .ci/run must install it")
    pytest.skip(f"{name} is not installed (CI installs it: see .ci/run)")


def load_values(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text()) or {}


def render(values: dict[str, Any], *, name: str = "demo", namespace: str = "monitoring",
           ) -> dict[str, str]:
    """Template path -> rendered text, as `helm template` would write them (schema enforced)."""
    import helm_python

    chart = helm_python.Chart.load(str(CHART))
    try:
        return chart.render(values, name=name, namespace=namespace, is_install=True)
    finally:
        chart.close()


def manifests(rendered: dict[str, str]) -> list[dict[str, Any]]:
    """Every Kubernetes object rendered (NOTES.txt and empty documents left out)."""
    out = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        out.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return out


def pod_specs(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
            yield obj["metadata"]["name"], obj["spec"]["template"]["spec"]


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {[o['metadata']['name'] for o in found]}"
    return found[0]

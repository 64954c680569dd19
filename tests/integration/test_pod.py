"""The chart's sidecar example run as a real pod: `podman kube play` of the rendered
Deployment (app + specmon as a plain container, sharing the pod's network namespace, as on
Kubernetes before 1.29) with the rendered ConfigMaps. The app (specs/order/app.py in the
demo image) exports its spans with the OpenTelemetry SDK to 127.0.0.1:4318, and the
sidecar's /metrics shows the violation the app injected."""

from __future__ import annotations

import uuid

import pytest
import yaml

from tests.deploy.chart import CHART, containers, load_values, manifests, pod_specs, render
from tests.integration.podman import ROOT, metric, podman, wait_for

pytestmark = pytest.mark.integration

ORDER = ROOT / "specs" / "order"


def _values(image: str, demo: str) -> dict:
    values = load_values(CHART / "ci" / "sidecar-plain-values.yaml")
    repo, tag = image.rsplit(":", 1)
    demo_repo, demo_tag = demo.rsplit(":", 1)
    values["image"] = {"repository": repo, "tag": tag, "pullPolicy": "Never"}
    values["specs"] = [{"name": "order", "files": {
        f: (ORDER / f).read_text() for f in ("spec.py", "mapping.yaml")}}]
    example = values["sidecar"]["example"]
    example["image"] = {"repository": demo_repo, "tag": demo_tag, "pullPolicy": "Never"}
    # the chart's own example command (the demo app in a loop), with a bug injected
    (loop,) = load_values(CHART / "values.yaml")["sidecar"]["example"]["args"]
    assert "--orders 40" in loop
    example["args"] = [loop.replace("--orders 40", "--orders 20 --bug retry-declined")]
    return values


def test_the_sidecar_example_pod_sees_the_apps_spans_over_localhost(specmon_images, tmp_path):
    image, demo = specmon_images
    release = f"t{uuid.uuid4().hex[:6]}"
    objects = manifests(render(_values(image, demo), name=release, namespace="default"))
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    (_, pod), = pod_specs([deployment])
    assert [c["name"] for c in containers(pod)] == ["app", "specmon"]  # plain-container mode

    # podman 4.3 reads one ConfigMap per --configmap file
    args = []
    for i, cm in enumerate(o for o in objects if o["kind"] == "ConfigMap"):
        path = tmp_path / f"configmap-{i}.yaml"
        path.write_text(yaml.safe_dump(cm))
        args += ["--configmap", str(path)]
    app = tmp_path / "app.yaml"
    app.write_text(yaml.safe_dump(deployment))
    podman("kube", "play", *args, str(app), timeout=180)
    pod_name = f"{deployment['metadata']['name']}-pod-0"
    sidecar = f"{pod_name}-specmon"
    try:
        logs = lambda: (podman("logs", sidecar, check=False).stderr[-2000:] + "\n--- app\n"  # noqa: E731
                        + podman("logs", f"{pod_name}-app", check=False).stderr[-2000:])

        def scrape() -> str:
            # from inside the sidecar: the pod's own loopback, as the app sees it
            return podman("exec", sidecar, "python", "-c",
                          "import urllib.request as u; print(u.urlopen("
                          "'http://127.0.0.1:9464/metrics', timeout=2).read().decode())",
                          check=False).stdout

        wait_for("violation on the sidecar's /metrics", lambda: metric(
            scrape(), "specmon_violations_total", spec="order", kind="unexpected",
            property="charge"), 120, logs)
        assert metric(scrape(), "specmon_events_total", spec="order", outcome="invalid") == 0
        # the chart's security settings held: the sidecar runs as UID 10001 on a read-only root
        whoami = podman("exec", sidecar, "sh", "-c", "id -u; touch /x 2>&1 || true").stdout
        assert whoami.splitlines()[0] == "10001" and "Read-only file system" in whoami
    finally:
        podman("pod", "rm", "-f", "-t", "0", pod_name, check=False)


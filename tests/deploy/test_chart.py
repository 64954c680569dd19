"""The Helm chart (deploy/helm/specmon), rendered with the real Helm SDK for every
ci/*-values.yaml scenario: lint-clean, valid Kubernetes objects for the oldest and newest
supported versions, Pod Security "restricted", the PrometheusRule equal to the tested rules
file (and accepted by promtool), bad values refused with a message that names the field."""

from __future__ import annotations

import json
import subprocess

import helm_python
import kubernetes_validate
import pytest
import yaml

from tests.deploy.chart import (
    CHART,
    CI_VALUES,
    HIGHEST,
    LOWEST,
    NATIVE_SIDECAR_LOWEST,
    containers,
    load_values,
    manifests,
    one,
    pod_specs,
    render,
    require_tool,
)

SCENARIOS = {p.name.removesuffix("-values.yaml"): p for p in CI_VALUES}
#: prometheus-operator CRDs: kubernetes-validate has no schema for them (checked below instead)
CRD_KINDS = {"PrometheusRule", "PodMonitor", "ServiceMonitor"}
ORDER_SPEC = [{"name": "order", "existingConfigMap": "order-spec"}]


def _lowest(values: dict) -> str:
    native = values.get("mode", "sidecar") == "sidecar" and \
        values.get("sidecar", {}).get("nativeSidecar", True)
    return NATIVE_SIDECAR_LOWEST if native else LOWEST


def _render_error(values: dict) -> str:
    with pytest.raises(helm_python.HelmError) as err:
        render(values)
    return str(err.value)


def test_there_is_a_ci_scenario_per_feature():
    assert {"sidecar-native", "sidecar-plain", "standalone-otlp", "standalone-kafka",
            "monitoring", "existing-configmap"} <= set(SCENARIOS)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_scenario_lints_clean_in_strict_mode(scenario):
    values = load_values(SCENARIOS[scenario])
    for version in (_lowest(values), HIGHEST):
        found = helm_python.lint(str(CHART), values, strict=True, kube_version=f"v{version}.0")
        # severity 1 is INFO ("icon is recommended"); 2 WARNING, 3 ERROR
        assert found["errors"] == [], found
        assert [m for m in found["messages"] if m["severity"] >= 2] == [], found


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_rendered_object_is_valid_kubernetes_for_the_oldest_and_newest_version(scenario):
    values = load_values(SCENARIOS[scenario])
    objects = manifests(render(values))
    assert objects
    checked = 0
    for obj in objects:
        if obj["kind"] in CRD_KINDS:
            continue
        for version in (_lowest(values), HIGHEST):
            kubernetes_validate.validate(obj, version, strict=True)
        checked += 1
    assert checked


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_specmon_container_meets_pod_security_restricted(scenario):
    values = load_values(SCENARIOS[scenario])
    pods = list(pod_specs(manifests(render(values))))
    for name, pod in pods:
        for c in containers(pod):
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 10001, (name, c["name"])
            assert sc["readOnlyRootFilesystem"] is True, (name, c["name"])
            assert sc["allowPrivilegeEscalation"] is False, (name, c["name"])
            assert sc["capabilities"]["drop"] == ["ALL"], (name, c["name"])
            assert sc["seccompProfile"]["type"] == "RuntimeDefault", (name, c["name"])
            assert "requests" in c["resources"] and "limits" in c["resources"]
        psc = pod["securityContext"]
        assert psc["runAsNonRoot"] is True and psc["seccompProfile"]["type"] == "RuntimeDefault"
        # every writable path is a volume: the checkpoint directory and /tmp
        specmon = next(c for c in containers(pod) if c["name"] == "specmon")
        mounts = {m["mountPath"]: m for m in specmon["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        for path in ("/var/lib/specmon", "/tmp"):
            assert not mounts[path].get("readOnly"), path
            vol = volumes[mounts[path]["name"]]
            assert "emptyDir" in vol or "persistentVolumeClaim" in vol
    if scenario != "monitoring":
        assert pods, "no pod template rendered"


def test_a_native_sidecar_is_an_init_container_that_restarts_always():
    pod = dict(pod_specs(manifests(render(load_values(SCENARIOS["sidecar-native"])))))
    (spec,) = pod.values()
    (sidecar,) = spec["initContainers"]
    assert sidecar["name"] == "specmon" and sidecar["restartPolicy"] == "Always"
    assert [c["name"] for c in spec["containers"]] == ["app"]
    # the sidecar gates the pod's readiness: a TCP check, nothing that depends on traffic
    assert set(sidecar["readinessProbe"]) >= {"tcpSocket"}


def test_a_native_sidecar_on_a_cluster_before_1_29_is_refused_with_what_to_set():
    # (the Helm SDK renders with its default cluster version: the override stands in for 1.28)
    values = {**load_values(SCENARIOS["sidecar-native"]), "kubeVersionOverride": "v1.28.4"}
    message = _render_error(values)
    assert "sidecar.nativeSidecar needs Kubernetes >= 1.29" in message
    assert "this cluster is v1.28.4: set sidecar.nativeSidecar: false" in message
    plain = {**load_values(SCENARIOS["sidecar-plain"]), "kubeVersionOverride": "v1.28.4"}
    assert manifests(render(plain))
    assert manifests(render({**values, "kubeVersionOverride": "1.29.0"}))


def test_a_plain_sidecar_is_a_second_container_of_the_app_pod():
    (spec,) = dict(pod_specs(manifests(render(load_values(SCENARIOS["sidecar-plain"]))))).values()
    assert "initContainers" not in spec
    assert [c["name"] for c in spec["containers"]] == ["app", "specmon"]
    assert "restartPolicy" not in spec["containers"][1]


def _config(objects) -> dict:
    cm = next(o for o in objects if o["kind"] == "ConfigMap" and "config.yaml" in o["data"])
    return yaml.safe_load(cm["data"]["config.yaml"])


def test_a_sidecar_receives_otlp_on_loopback_and_a_standalone_monitor_on_every_address():
    sidecar = _config(manifests(render(load_values(SCENARIOS["sidecar-native"]))))
    standalone = _config(manifests(render(load_values(SCENARIOS["standalone-otlp"]))))
    for kind in ("http", "grpc"):
        assert sidecar["sources"]["otlp"][kind]["host"] == "127.0.0.1"
        assert standalone["sources"]["otlp"][kind]["host"] == "0.0.0.0"
    # Prometheus scrapes the pod IP in both modes
    assert sidecar["admin"] == {"host": "0.0.0.0", "port": 9464}
    assert sidecar["specs"] == [{"path": "/etc/specmon/specs/door", "name": "door"}]


def test_the_standalone_mode_has_a_deployment_service_and_disruption_budget():
    objects = manifests(render(load_values(SCENARIOS["standalone-kafka"])))
    deploy = one(objects, "Deployment")
    assert deploy["spec"]["replicas"] == 3
    assert one(objects, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    svc = one(objects, "Service")
    assert [p["name"] for p in svc["spec"]["ports"]] == ["metrics"]  # OTLP off with Kafka
    assert _config(objects)["sources"]["kafka"]["group_id"] == "specmon"


def test_kafka_replicas_join_the_group_as_their_pod_and_other_modes_set_no_kafka_variable():
    def kafka_env(scenario):
        objects = manifests(render(load_values(SCENARIOS[scenario])))
        pods = [o["spec"]["template"]["spec"] for o in objects if o["kind"] == "Deployment"]
        return [e for pod in pods for c in pod.get("containers", []) + pod.get("initContainers", [])
                for e in c.get("env", []) if e["name"].startswith("SPECMON_KAFKA_")]

    assert kafka_env("standalone-kafka") == [{
        "name": "SPECMON_KAFKA_GROUP_INSTANCE_ID",
        "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    for scenario in ("standalone-otlp", "sidecar-plain", "sidecar-native"):
        assert kafka_env(scenario) == []


def test_a_checkpoint_claim_is_handed_over_by_recreate_and_an_emptydir_rolls():
    with_pvc = one(manifests(render(load_values(SCENARIOS["standalone-otlp"]))), "Deployment")
    assert with_pvc["spec"]["strategy"] == {"type": "Recreate"}
    claim = one(manifests(render(load_values(SCENARIOS["standalone-otlp"]))),
                "PersistentVolumeClaim")
    volumes = with_pvc["spec"]["template"]["spec"]["volumes"]
    assert {"name": "specmon-state",
            "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]}} in volumes
    kafka = one(manifests(render(load_values(SCENARIOS["standalone-kafka"]))), "Deployment")
    assert kafka["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}


def test_a_config_or_spec_change_rolls_the_pods():
    values = load_values(SCENARIOS["standalone-otlp"])
    before = one(manifests(render(values)), "Deployment")
    values["config"] = {"engine": {"lateness": "10s"}}
    after = one(manifests(render(values)), "Deployment")
    key = "checksum/specmon-config"
    assert before["spec"]["template"]["metadata"]["annotations"][key] != \
        after["spec"]["template"]["metadata"]["annotations"][key]


def test_the_prometheus_rule_is_the_tested_rules_file_verbatim():
    objects = manifests(render(load_values(SCENARIOS["monitoring"])))
    rule = one(objects, "PrometheusRule")
    assert rule["spec"] == yaml.safe_load((CHART / "files" / "rules.yml").read_text())
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert one(objects, "PodMonitor")["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_promtool_accepts_the_rendered_prometheus_rules(tmp_path):
    promtool = require_tool("promtool")
    rule = one(manifests(render(load_values(SCENARIOS["monitoring"]))), "PrometheusRule")
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rule["spec"]))
    done = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_dashboard_config_map_is_labelled_for_grafana_and_holds_the_dashboard():
    objects = manifests(render(load_values(SCENARIOS["monitoring"])))
    cm = next(o for o in objects if o["metadata"]["name"].endswith("-dashboard"))
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(cm["data"]["specmon.json"]) == \
        json.loads((CHART / "files" / "dashboard.json").read_text())


def test_the_pod_monitor_selects_the_pods_that_carry_the_sidecar():
    values = {**load_values(SCENARIOS["sidecar-plain"]),
              "metrics": {"podMonitor": {"enabled": True}}}
    objects = manifests(render(values))
    selector = one(objects, "PodMonitor")["spec"]["selector"]["matchLabels"]
    (pod,) = [o for o in objects if o["kind"] == "Deployment"]
    assert selector.items() <= pod["spec"]["template"]["metadata"]["labels"].items()
    ports = {p["name"] for c in containers(pod["spec"]["template"]["spec"])
             for p in c.get("ports", [])}
    assert "metrics" in ports


@pytest.mark.parametrize(("values", "message"), [
    ({"mode": "daemonset", "specs": ORDER_SPEC}, "at '/mode': value must be one of 'sidecar', 'standalone'"),
    ({"replica": 2, "specs": ORDER_SPEC}, "additional properties 'replica' not allowed"),
    ({"specs": ORDER_SPEC, "standalone": {"replicas": "two"}}, "at '/standalone/replicas'"),
    ({"specs": ORDER_SPEC, "otlp": {"http": {"port": 70000}}}, "at '/otlp/http/port'"),
    ({"specs": ORDER_SPEC, "checkpoint": {"interval": "soon"}}, "at '/checkpoint/interval'"),
    ({"specs": [{"name": "Order_1", "existingConfigMap": "x"}]}, "at '/specs/0/name'"),
    ({"specs": [{"name": "order"}]}, "missing property 'files'"),
    ({}, "at '/specs': minItems"),
])
def test_bad_values_are_refused_by_the_schema_naming_the_field(values, message):
    assert message in _render_error(values)


@pytest.mark.parametrize(("values", "message"), [
    ({"mode": "standalone", "standalone": {"replicas": 3}, "specs": ORDER_SPEC},
     "standalone.replicas > 1 needs kafka"),
    ({"metrics": {"serviceMonitor": {"enabled": True}}, "specs": ORDER_SPEC},
     "metrics.serviceMonitor needs mode: standalone"),
    ({"checkpoint": {"volume": "pvc"}, "specs": ORDER_SPEC}, "checkpoint.volume: pvc needs mode: standalone"),
])
def test_combinations_the_schema_cannot_express_fail_with_what_to_change(values, message):
    assert message in _render_error(values)


@pytest.mark.parametrize("scenario", sorted(s for s in SCENARIOS if s != "existing-configmap"))
def test_the_rendered_config_is_one_the_daemon_accepts(scenario, tmp_path):
    from monitor.config import load_config

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(_config(manifests(render(load_values(SCENARIOS[scenario]))))))
    config = load_config(path, env={})
    assert [s.path for s in config.specs][0].startswith("/etc/specmon/specs/")
    assert config.checkpoint.path == "/var/lib/specmon/checkpoint"
    if config.sources.kafka is not None:
        # the kafka branch's struct (a skip only until that branch is merged)
        kafka_config = pytest.importorskip("monitor.sources.kafka_config")
        assert kafka_config.load_kafka_config(config.sources.kafka).topics == ["otlp_spans"]


PARENT_DEPLOYMENT = """\
{{- $specmon := dict "Values" .Values.specmon "Release" .Release "Chart" (dict "Name" "specmon" "AppVersion" "0.1.0" "Version" "0.1.0") }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  selector:
    matchLabels: {app: shop}
  template:
    metadata:
      labels:
        app: shop
        {{- include "specmon.sidecar.podLabels" $specmon | nindent 8 }}
      annotations:
        {{- include "specmon.sidecar.annotations" $specmon | nindent 8 }}
    spec:
      initContainers:
        {{- include "specmon.sidecar.initContainers" $specmon | nindent 8 }}
      containers:
        - name: shop
          image: shop:1
          env:
            - {name: OTEL_EXPORTER_OTLP_ENDPOINT, value: "http://127.0.0.1:4318"}
        {{- include "specmon.sidecar.containers" $specmon | nindent 8 }}
      volumes:
        {{- include "specmon.sidecar.volumes" $specmon | nindent 8 }}
"""


def test_a_parent_chart_includes_the_sidecar_as_docs_deploy_md_shows(tmp_path):
    import shutil

    parent = tmp_path / "shop"
    (parent / "templates").mkdir(parents=True)
    (parent / "Chart.yaml").write_text(yaml.safe_dump({
        "apiVersion": "v2", "name": "shop", "version": "1.0.0",
        "dependencies": [{"name": "specmon", "version": "0.1.0"}]}))
    (parent / "values.yaml").write_text(yaml.safe_dump({"specmon": {"specs": ORDER_SPEC}}))
    (parent / "templates" / "deployment.yaml").write_text(PARENT_DEPLOYMENT)
    shutil.copytree(CHART, parent / "charts" / "specmon")
    chart = helm_python.Chart.load(str(parent))
    try:
        rendered = chart.render({}, name="shop", namespace="shop", is_install=True)
    finally:
        chart.close()
    objects = manifests(rendered)
    deploy = next(o for o in objects if o["kind"] == "Deployment")
    kubernetes_validate.validate(deploy, HIGHEST, strict=True)
    pod = deploy["spec"]["template"]["spec"]
    # the subchart's defaults reached the parent: a native sidecar with the default image
    assert [c["name"] for c in pod["initContainers"]] == ["specmon"]
    assert pod["initContainers"][0]["image"] == "ghcr.io/specmon/specmon:0.1.0"
    assert [c["name"] for c in pod["containers"]] == ["shop"]
    # and the ConfigMaps the volumes name are the ones the subchart renders
    configmaps = {o["metadata"]["name"] for o in objects if o["kind"] == "ConfigMap"}
    assert {v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v} == \
        {"shop-specmon", "order-spec"} and "shop-specmon" in configmaps

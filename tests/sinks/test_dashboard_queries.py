"""The alert rules and the dashboard read only what specmon exports: every metric name
in their expressions is a sample the admin app really serves (collected from a runner
over real pipelines), every label they match, group by or print belongs to those
metrics (or is a target label Prometheus adds), and promtool accepts the rules and
passes their unit tests. Each runbook_url lands on a section of docs/metrics.md."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from monitor.sinks.admin import REGISTRY_KEY, make_admin_app
from monitor.sources.ingest import SpanIngest
from tests.sinks.promql import read_query, template_labels
from tests.sinks.runner_shape import IngestSource, RunnerShape, orders_runtime, payment_runtime
from tests.tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "helm" / "specmon" / "files" / "rules.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "rules.test.yml"
DASHBOARD = ROOT / "deploy" / "helm" / "specmon" / "files" / "dashboard.json"
METRICS_DOC = ROOT / "docs" / "metrics.md"
#: labels every scraped series gets from Prometheus itself
TARGET_LABELS = {"job", "instance"}
#: Prometheus's own series of alert states (the dashboard's annotation reads it)
ALERTS_LABELS = {"alertname", "alertstate", "severity", "reason"}


def exported() -> dict[str, set[str]]:
    """Sample name -> label names, as the admin app serves them."""
    orders = orders_runtime()
    runner = RunnerShape({"orders": orders, "payment": payment_runtime()},
                         [IngestSource("otlp", "otlp", SpanIngest(orders.pipeline))])
    runner.latency.observe_many(0.01, 3)
    registry = make_admin_app(runner)[REGISTRY_KEY]
    out: dict[str, set[str]] = {}
    for family in registry.collect():
        for sample in family.samples:
            out.setdefault(sample.name, set()).update(sample.labels)
    return out


EXPORTED = exported()
SPECMON_LABELS = set().union(*(v for k, v in EXPORTED.items() if k.startswith("specmon_")))


def rule_list() -> list[dict]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def dashboard_queries() -> list[tuple[str, str, str]]:
    """(where, expr, legend) for every query of the dashboard, variables included."""
    dash = json.loads(DASHBOARD.read_text())
    out = [(f"panel {p['title']!r}", t["expr"], t.get("legendFormat", ""))
           for p in dash["panels"] for t in p.get("targets", [])]
    for v in dash["templating"]["list"]:
        if v["type"] == "query":  # Grafana's label_values(series, label)
            m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", v["query"]["query"])
            assert m, v["query"]["query"]
            out.append((f"variable {v['name']}", m.group(1), "{{" + m.group(2) + "}}"))
    out += [(f"annotation {a['name']!r}", a["expr"],
             a.get("titleFormat", "") + a.get("textFormat", ""))
            for a in dash["annotations"]["list"]]
    return out


def check_query(where: str, expr: str, printed: set[str]) -> None:
    q = read_query(expr)
    assert q.metrics, f"{where}: no metric read in {expr!r}"
    allowed = set(TARGET_LABELS)
    for name in q.metrics:
        if name == "ALERTS":
            allowed |= ALERTS_LABELS | SPECMON_LABELS
            continue
        assert name in EXPORTED, f"{where}: {name} is not exported (expr {expr!r})"
        allowed |= EXPORTED[name]
    unknown = (q.labels | printed) - allowed
    assert not unknown, f"{where}: labels {sorted(unknown)} are not on {sorted(q.metrics)}"


@pytest.mark.parametrize("where, expr, legend", dashboard_queries(),
                         ids=[w for w, _, _ in dashboard_queries()])
def test_every_dashboard_query_reads_exported_metrics_and_labels(where, expr, legend):
    check_query(where, expr, template_labels(legend))


@pytest.mark.parametrize("rule", rule_list(), ids=[r["alert"] for r in rule_list()])
def test_every_alert_reads_exported_metrics_and_prints_their_labels(rule):
    printed = set()
    for text in rule["annotations"].values():
        printed |= template_labels(text)
    check_query(f"alert {rule['alert']}", rule["expr"], printed)


def test_the_checker_rejects_a_metric_or_label_that_is_not_exported():
    with pytest.raises(AssertionError, match="specmon_violation_total is not exported"):
        check_query("test", "increase(specmon_violation_total[5m]) > 0", set())
    with pytest.raises(AssertionError, match=r"labels \['entity'\]"):
        check_query("test", 'sum by (entity) (specmon_live_instances)', set())
    with pytest.raises(AssertionError, match=r"labels \['source'\]"):
        check_query("test", "specmon_live_instances > 0", {"source"})


def test_the_dashboard_has_a_stable_uid_and_a_datasource_variable():
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] == "specmon-overview"
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert "${DS_" not in DASHBOARD.read_text()  # no import-time inputs
    for panel in dash["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
    violations = next(p for p in dash["panels"] if p["title"] == "Violations by spec / property")
    assert all(t["exemplar"] for t in violations["targets"])


def test_every_alert_has_a_severity_and_a_runbook_section_in_the_metrics_doc():
    slugs = {re.sub(r"[^a-z0-9 -]", "", h.lower()).strip().replace(" ", "-")
             for h in re.findall(r"^#+ (.+)$", METRICS_DOC.read_text(), re.M)}
    alerts = {r["alert"] for r in rule_list()}
    assert alerts == {"SpecViolation", "SpecMonitorStalled", "SpecMonitorLagging",
                      "SpecMonitorDroppingInput", "SpecMonitorStateOverflow"}
    for rule in rule_list():
        assert rule["labels"]["severity"] in ("warning", "critical")
        anchor = rule["annotations"]["runbook_url"].rsplit("#", 1)[1]
        assert anchor == rule["alert"].lower() and anchor in slugs, rule["alert"]


def test_promtool_accepts_the_rules_and_their_unit_tests_pass():
    promtool = require_tool("promtool")
    check = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    tests = subprocess.run([promtool, "test", "rules", str(RULE_TESTS)], capture_output=True,
                           text=True)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    # every alert has a case that expects it to fire
    cases = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    fired = {t["alertname"] for c in cases for t in c["alert_rule_test"] if t["exp_alerts"]}
    silent = {t["alertname"] for c in cases for t in c["alert_rule_test"] if not t["exp_alerts"]}
    assert fired == silent == {r["alert"] for r in rule_list()}

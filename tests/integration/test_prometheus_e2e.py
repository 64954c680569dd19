"""End to end with a real Prometheus (Debian's package) scraping a real ``specmon run``
every second with the shipped rules loaded: spans sent by the OpenTelemetry SDK's OTLP
exporter make SpecViolation fire within seconds, with the trace id as an exemplar; a
clean stream keeps it inactive; every dashboard query returns data without error."""

from __future__ import annotations

import time

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from tests.integration import shop
from tests.integration.daemon import Daemon
from tests.integration.receivers import ORDERS
from tests.integration.stack import (
    Prometheus,
    dashboard_exprs,
    start_daemon,
    traces_url,
    wait_for,
)
from tests.tools import require_tool

pytestmark = pytest.mark.integration

#: verdicts one idle tick after the events (the default 5 s reorder window works the same,
#: only slower)
ENV = {"SPECMON_ENGINE_LATENESS": "1s"}
VIOLATION = {"alertname": "SpecViolation", "spec": "orders", "kind": "unexpected",
             "property": "ship"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Two daemons, one Prometheus scraping both (its first scrape takes ~5 s: its
    target discovery updates every 5 s): ``bug`` gets violating spans, ``clean`` gets
    only legal lifecycles; alerts tell them apart by their ``instance`` label."""
    prometheus = require_tool("prometheus")
    work = tmp_path_factory.mktemp("e2e")
    daemons: list[Daemon] = []
    try:
        for name in ("bug", "clean"):
            daemons.append(start_daemon(work / name, ORDERS, env=ENV))
        bug, clean = daemons
        prom = Prometheus(prometheus, [instance(d) for d in daemons], work)
    except BaseException:
        for d in daemons:
            d.close()
        raise
    try:
        # the first scrape of both: every series exists at 0 before any span
        wait_for(lambda: len(prom.query('specmon_violations_total{property="ship"} == 0')) == 2,
                 30, "first scrape")
        yield bug, clean, prom
    finally:
        prom.stop()
        codes = [d.terminate() for d in daemons]
        assert codes == [0, 0], [d.log_path.read_text() for d in daemons]


def instance(daemon: Daemon) -> str:
    return f"127.0.0.1:{daemon.admin_port}"


def send(daemon: Daemon, steps) -> list[str]:
    """Export the steps' spans with the SDK's OTLP/HTTP exporter; their trace ids."""
    spans = shop.make_spans(steps, t0=time.time_ns())
    exporter = OTLPSpanExporter(endpoint=traces_url(daemon))
    try:
        assert exporter.export(spans) == SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    return [format(s.context.trace_id, "032x") for s in spans]


def test_a_violating_span_makes_spec_violation_fire_within_seconds_with_its_trace_as_exemplar(stack):
    daemon, _, prom = stack
    trace_ids = send(daemon, shop.SHIP_UNPAID)  # place, then ship without paying
    sent = time.monotonic()

    def firing():
        return [a for a in prom.alerts("SpecViolation")
                if a["state"] == "firing" and a["labels"]["instance"] == instance(daemon)
                and a["labels"]["property"] == "ship"]

    alerts = wait_for(firing, 20, "SpecViolation firing")
    elapsed = time.monotonic() - sent
    assert len(alerts) == 1
    labels = alerts[0]["labels"]
    assert {k: labels[k] for k in VIOLATION} == VIOLATION
    assert labels["severity"] == "critical"
    assert alerts[0]["annotations"]["runbook_url"].endswith("docs/metrics.md#specviolation")
    assert elapsed < 10, f"SpecViolation took {elapsed:.1f}s to fire"
    # the exemplar reached Prometheus: the violating `ship` span's trace id
    now = time.time()
    exemplars = prom.api("query_exemplars",
                         query=f'specmon_violations_total{{instance="{instance(daemon)}", '
                         'property="ship"}',
                         start=now - 120, end=now)
    stored = {e["labels"]["trace_id"] for series in exemplars for e in series["exemplars"]}
    assert stored == {trace_ids[1]}


def test_every_dashboard_query_returns_data_without_error(stack):
    daemon, _, prom = stack
    # a violation of its own (an order placed twice: `place`, not the `ship` of the
    # test above), so the tests do not depend on their order
    send(daemon, [("order.place", "o-twice", {}), ("order.place", "o-twice", {})])
    wait_for(lambda: prom.query('specmon_violations_total{property="place"} > 0'), 20,
             "the violation scraped")
    # rate() needs two samples in its window: poll each query until it has a series
    for title, expr in dashboard_exprs():
        result = wait_for(lambda e=expr: prom.query(e), 15, f"{title}: {expr}")
        assert result, (title, expr)
    wait_for(lambda: prom.query('ALERTS{alertname="SpecViolation", alertstate="firing", '
                                'property="place"}'),
             20, "the dashboard's alert annotation query")
    assert prom.query("specmon_build_info")[0]["metric"]["instance"]  # the $instance variable


def test_a_clean_stream_keeps_spec_violation_inactive(stack):
    _, daemon, prom = stack
    at = f'instance="{instance(daemon)}"'
    send(daemon, shop.HAPPY)  # place, pay, ship: a whole legal lifecycle
    # the order was checked to its end (terminal: finished) and Prometheus scraped that
    seen = wait_for(lambda: prom.query(f"specmon_finished_instances_total{{{at}}} == 1"),
                    20, "the clean order finished")
    scraped_at = float(seen[0]["value"][0])
    # then wait for a rule evaluation after that scrape, and look at the alert's state
    wait_for(lambda: _evaluated_after(prom, scraped_at + 1), 20, "a later rule evaluation")
    assert [a for a in prom.alerts("SpecViolation") if a["labels"]["instance"] == at[10:-1]] == []
    assert prom.query(f"sum(specmon_violations_total{{{at}}})")[0]["value"][1] == "0"
    assert prom.query(f"specmon_engine_events_total{{{at}}}")[0]["value"][1] == "3"


def _evaluated_after(prom: Prometheus, t: float) -> bool:
    from datetime import datetime

    rule = prom.rule("SpecViolation")
    stamp = rule["lastEvaluation"]
    # RFC 3339 with nanoseconds: keep microseconds for fromisoformat
    head, _, frac = stamp.partition(".")
    frac_digits = "".join(ch for ch in frac if ch.isdigit())[:6]
    tz = frac[len("".join(ch for ch in frac if ch.isdigit())):] or "+00:00"
    when = datetime.fromisoformat(f"{head}.{frac_digits or '0'}{tz.replace('Z', '+00:00')}")
    return when.timestamp() > t

"""The metrics collector reads real pipelines at scrape time: every series exists at 0
before the first event, counts follow what the engine did, and the violation counter
carries the violating trace id as an exemplar in the OpenMetrics exposition only."""

from __future__ import annotations

import asyncio
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from monitor.engine import EngineConfig
from monitor.sinks.metrics import DAEMON_STATS, EVENT_OUTCOMES, INVALID_CAUSES, SpecmonCollector
from monitor.sources.ingest import SpanIngest
from tests.integration import shop
from tests.sinks.runner_shape import (
    PAYMENT,
    IngestSource,
    RunnerShape,
    orders_runtime,
    payment_runtime,
)

DEMO = (PAYMENT / "samples" / "demo.jsonl").read_bytes().splitlines()


def registry_for(runner, *, wall=lambda: 1_800_000_000.0, monotonic=lambda: 100.0):
    registry = CollectorRegistry()
    registry.register(SpecmonCollector(runner, wall=wall, monotonic=monotonic))
    return registry


def test_every_series_of_a_fresh_runner_is_exported_at_zero():
    rt = orders_runtime()
    runner = RunnerShape({"orders": rt}, [IngestSource("otlp", "otlp", SpanIngest(rt.pipeline))])
    reg = registry_for(runner)
    value = reg.get_sample_value
    for outcome in EVENT_OUTCOMES:
        assert value("specmon_events_total", {"spec": "orders", "outcome": outcome}) == 0
    for cause in INVALID_CAUSES:
        assert value("specmon_invalid_records_total", {"spec": "orders", "cause": cause}) == 0
    props = [(k, p) for (k, p) in rt.pipeline.engine.counters.by_violation]
    assert ("unexpected", "ship") in props
    for kind, prop in props:
        labels = {"spec": "orders", "kind": kind, "property": prop}
        assert value("specmon_violations_total", labels) == 0
    for name in ("specmon_live_instances", "specmon_watermark_lag_seconds",
                 "specmon_state_overflow_total", "specmon_spec_errors_total",
                 "specmon_engine_events_total", "specmon_reorder_overflow_total"):
        assert value(name, {"spec": "orders"}) == 0, name
    src = {"source": "otlp", "kind": "otlp"}
    assert value("specmon_source_connected", src) == 1
    for name in ("specmon_source_records_total", "specmon_source_refused_total",
                 "specmon_source_dropped_total", "specmon_queue_depth",
                 "specmon_source_lag_records"):
        assert value(name, src) == 0, name
    assert value("specmon_queue_limit", src) == 65_536
    assert value("specmon_event_to_verdict_seconds_count") == 0
    assert value("specmon_event_to_verdict_seconds_bucket", {"le": "+Inf"}) == 0
    assert value("specmon_ready") == 1
    for name, _, _ in DAEMON_STATS.values():
        assert value(name) == 0, name


def test_event_counts_follow_the_pipeline_and_the_engine():
    rt = payment_runtime()
    for line in DEMO:
        rt.pipeline.feed_json(line, None)
    rt.pipeline.feed_json(b'{"type": "payment.captured"', None)  # truncated JSON
    rt.pipeline.feed_json(b'{"type": "payment.refunded", "time": "2026-11-02T10:00:00Z", '
                          b'"data": {"amount": 5}}', None)  # no subject: no key
    rt.pipeline.feed_json(b'{"type": "shipment.sent"}', None)  # matches no rule
    reg = registry_for(RunnerShape({"payment": rt}))
    value = reg.get_sample_value
    spec = {"spec": "payment"}
    assert value("specmon_events_total", spec | {"outcome": "mapped"}) == 10
    assert value("specmon_events_total", spec | {"outcome": "unmatched"}) == 1
    assert value("specmon_events_total", spec | {"outcome": "invalid"}) == 2
    assert value("specmon_invalid_records_total", spec | {"cause": "malformed"}) == 1
    assert value("specmon_invalid_records_total", spec | {"cause": "missing_key"}) == 1
    assert value("specmon_engine_events_total", spec) == 10
    # the demo log captures pay-1001 past its authorization: one unexpected `capture`
    assert value("specmon_violations_total",
                 spec | {"kind": "unexpected", "property": "capture"}) == 1
    assert value("specmon_violations_total",
                 spec | {"kind": "invariant", "property": "refunds_within_captures"}) == 0
    assert value("specmon_live_instances", spec) == len(rt.pipeline.engine.instances) > 0


def test_watermark_lag_is_the_wall_clock_minus_the_watermark():
    rt = payment_runtime(EngineConfig(allowed_lateness=5.0))
    for line in DEMO:
        rt.pipeline.feed_json(line, None)
    wm = rt.pipeline.engine.watermark
    assert math.isfinite(wm)
    reg = registry_for(RunnerShape({"payment": rt}), wall=lambda: wm + 42.5)
    assert reg.get_sample_value("specmon_watermark_lag_seconds", {"spec": "payment"}) == 42.5


def test_checkpoint_and_progress_ages_are_read_from_the_runner_clocks():
    runner = RunnerShape({"payment": payment_runtime()}, last_progress=90.0)
    reg = registry_for(runner, wall=lambda: 1000.0, monotonic=lambda: 100.0)
    assert reg.get_sample_value("specmon_checkpoint_age_seconds") == 0  # since start
    runner.checkpoint_time = 990.0
    assert reg.get_sample_value("specmon_checkpoint_age_seconds") == 10.0
    assert reg.get_sample_value("specmon_last_progress_age_seconds") == 10.0
    runner.ready = False
    assert reg.get_sample_value("specmon_ready") == 0


def test_the_latency_histogram_is_exported_cumulatively():
    runner = RunnerShape({"payment": payment_runtime()})
    runner.latency.observe_many(0.003, 500)
    runner.latency.observe_many(0.2, 12)
    reg = registry_for(runner)
    bucket = lambda le: reg.get_sample_value("specmon_event_to_verdict_seconds_bucket",  # noqa: E731
                                             {"le": le})
    assert bucket("0.001") == 0
    assert bucket("0.005") == 500
    assert bucket("0.1") == 500
    assert bucket("0.25") == 512
    assert bucket("+Inf") == 512
    assert reg.get_sample_value("specmon_event_to_verdict_seconds_count") == 512
    assert reg.get_sample_value("specmon_event_to_verdict_seconds_sum") == pytest.approx(
        0.003 * 500 + 0.2 * 12)


def _violating_spans_through_ingest():
    rt = orders_runtime()
    ingest = SpanIngest(rt.pipeline, tick_s=None, on_report=lambda r: rt.note([r]))
    req = shop.request(shop.SHIP_UNPAID)
    # each step is a trace of its own; the violating step is `order.ship`
    ship = [s for s in req.resource_spans[0].scope_spans[0].spans if s.name == "order.ship"]
    trace_id = ship[0].trace_id.hex()

    async def run() -> None:
        async with ingest:
            ingest.submit(req)
            await ingest.drained()

    asyncio.run(run())
    return rt, ingest, trace_id


def test_the_violation_counter_carries_the_violating_trace_id_as_an_exemplar():
    rt, ingest, trace_id = _violating_spans_through_ingest()
    runner = RunnerShape({"orders": rt}, [IngestSource("otlp", "otlp", ingest)])
    reg = registry_for(runner)
    labels = {"spec": "orders", "kind": "unexpected", "property": "ship"}
    assert reg.get_sample_value("specmon_violations_total", labels) == 1
    assert reg.get_sample_value("specmon_source_records_total",
                                {"source": "otlp", "kind": "otlp"}) == 2
    om = generate_openmetrics(reg).decode()
    line = next(ln for ln in om.splitlines()
                if ln.startswith('specmon_violations_total{') and 'property="ship"' in ln)
    assert line.endswith(f'1.0 # {{trace_id="{trace_id}"}} 1.0')
    # the 0.0.4 text format has no exemplars; the series is there all the same
    text = generate_latest(reg).decode()
    assert trace_id not in text
    assert 'specmon_violations_total{kind="unexpected",property="ship",spec="orders"} 1.0' in text


def test_series_without_a_violation_carry_no_exemplar():
    rt, ingest, trace_id = _violating_spans_through_ingest()
    om = generate_openmetrics(registry_for(RunnerShape({"orders": rt}))).decode()
    assert om.count("trace_id=") == 1


records = st.lists(st.one_of(
    st.sampled_from(DEMO),  # mapped (some duplicates: the demo's ids repeat)
    st.just(b'{"type": "shipment.sent"}'),  # unmatched
    st.just(b'{"type": "payment.voided", "time": "2026-11-02T09:00:00Z"}'),  # no key
    st.binary(max_size=20),  # mostly malformed
), max_size=40)


@given(records)
def test_the_outcome_series_partition_every_record_the_pipeline_took(lines):
    rt = payment_runtime()
    for line in lines:
        rt.pipeline.feed_json(line, None)
    reg = registry_for(RunnerShape({"payment": rt}))

    def outcome(name):
        return reg.get_sample_value("specmon_events_total", {"spec": "payment", "outcome": name})

    assert outcome("mapped") + outcome("unmatched") + outcome("invalid") == len(lines)
    causes = sum(reg.get_sample_value("specmon_invalid_records_total",
                                      {"spec": "payment", "cause": c}) or 0
                 for c in set(INVALID_CAUSES) | set(rt.pipeline.invalid))
    assert causes == outcome("invalid")
    assert outcome("duplicate") + outcome("late") <= outcome("mapped")
    c = rt.pipeline.engine.counters
    violations = sum(reg.get_sample_value("specmon_violations_total",
                                          {"spec": "payment", "kind": k, "property": p})
                     for k, p in c.by_violation)
    assert violations == c.violations

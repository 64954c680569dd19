"""The order demo app (specs/order/app.py) checked through the real span mapping and
engine: a clean run raises nothing, each --bug raises exactly the violations the app
says it injected, whole-order sampling keeps verdicts exact while per-trace sampling
does not, and the hidden retry step is what keeps retried charges from being alarms."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from monitor.engine import EngineConfig
from monitor.replay import replay
from monitor.specdir import load_specdir
from tests.specs.order_support import ORDER, app, app_requests, check

BUG_NAMES = sorted(app.BUGS)


def test_a_clean_run_raises_nothing_and_maps_every_saga_step():
    requests, truth = app_requests(40, seed=1)
    got, pipe = check(requests)
    assert truth == [] and got == []
    c = pipe.engine.counters
    assert pipe.invalid == {}
    assert c.finished >= 30  # shipped or cancelled within the run
    # unmatched spans are the CLIENT/PRODUCER/root spans the mapping leaves out
    assert pipe.unmatched > 0 and pipe.outcomes()["mapped"] > 150


@pytest.mark.parametrize("bug", BUG_NAMES)
def test_each_bug_raises_exactly_the_violations_the_app_injected(bug):
    requests, truth = app_requests(40, seed=1, bugs=[bug])
    kind, prop = app.BUGS[bug]
    assert truth and {(k, p) for _, k, p in truth} == {(kind, prop)}
    got, _ = check(requests)
    assert got == truth


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000),
       bugs=st.lists(st.sampled_from(BUG_NAMES), max_size=3, unique=True),
       rate=st.sampled_from([0.1, 0.5, 1.0]))
def test_for_any_seed_and_bugs_the_verdicts_are_exactly_the_truth(seed, bugs, rate):
    requests, truth = app_requests(60, seed=seed, bugs=bugs, bug_rate=rate)
    got, _ = check(requests)
    assert got == truth
    assert len(truth) >= len(bugs)


def test_without_hidden_steps_the_payments_retries_become_false_alarms():
    requests, truth = app_requests(60, seed=3)
    assert truth == [] and check(requests)[0] == []
    got, _ = check(requests, EngineConfig(hidden_steps=0))
    # every order whose first charge attempt timed out: its next charge span (ok,
    # declined, or failed again) needs the unobserved retry in between
    retried = sorted(p.order_id for p in app.plan_orders(60, 3)
                     if p.transient and p.outcome != "out_of_stock")
    assert retried and [key for key, _, _ in got] == retried
    assert {(k, p) for _, k, p in got} <= {
        ("unexpected", "charge"), ("unexpected", "decline"), ("unexpected", "charge_failed")}


@pytest.mark.parametrize("rate", [0.3, 0.7])
def test_whole_order_sampling_keeps_the_verdicts_of_the_orders_it_keeps(rate):
    requests, truth = app_requests(60, seed=3, bugs=["double-refund", "no-compensation"],
                                   sampler=app.order_sampler(rate), bug_rate=0.5)
    keeps = app.OrderIdRatioSampler(rate).keeps
    kept = [t for t in truth if keeps(t[0])]
    assert 0 < len(kept) < len(truth)
    got, pipe = check(requests)
    assert got == kept
    assert pipe.engine.counters.adopted == 0  # every kept order was seen from its start


def test_per_trace_sampling_breaks_orders_apart_and_raises_false_alarms():
    requests, truth = app_requests(60, seed=3, sampler=ParentBased(TraceIdRatioBased(0.5)))
    assert truth == []
    got, pipe = check(requests)
    # orders seen from the middle are adopted (no alarm), but a lost middle step
    # (reserve, charge) is not a hidden action, so the next step is "unexpected"
    assert pipe.engine.counters.adopted > 0
    assert len(got) > 5 and {k for _, k, _ in got} >= {"unexpected"}


def test_the_order_sampler_decides_on_a_stable_hash_of_the_order_id():
    s = app.OrderIdRatioSampler(0.5)
    decisions = [s.keeps(f"ord-{i}") for i in range(2000)]
    assert 900 < sum(decisions) < 1100
    assert decisions == [app.OrderIdRatioSampler(0.5).keeps(f"ord-{i}") for i in range(2000)]
    assert all(app.OrderIdRatioSampler(1.0).keeps(f"ord-{i}") for i in range(100))
    assert not any(app.OrderIdRatioSampler(0.0).keeps(f"ord-{i}") for i in range(100))
    with pytest.raises(ValueError, match=r"sampling rate must be within \[0, 1\], got 1\.5"):
        app.OrderIdRatioSampler(1.5)


# -- the command line and its file format ---------------------------------------------


def _app(*args: str, **kw):
    return subprocess.run([sys.executable, str(ORDER / "app.py"), *args],
                          capture_output=True, text=True, **kw)


def test_the_file_is_the_same_for_a_seed_and_differs_between_seeds(tmp_path):
    for name, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        assert _app("--orders", "12", "--seed", seed, "--file", str(tmp_path / name)).returncode == 0
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()
    assert (tmp_path / "a").read_bytes() != (tmp_path / "c").read_bytes()


def test_the_file_is_otlp_json_as_the_collector_writes_it(tmp_path):
    out = tmp_path / "orders.jsonl"
    assert _app("--orders", "5", "--file", str(out)).returncode == 0
    lines = out.read_text().splitlines()
    assert len(lines) > 10
    for line in lines:
        doc = json.loads(line)
        assert list(doc) == ["resourceSpans"]
        for rs in doc["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    assert len(span["traceId"]) == 32 and int(span["traceId"], 16)
                    assert len(span["spanId"]) == 16 and int(span["spanId"], 16)
                    assert isinstance(span["kind"], int)
                    assert isinstance(span["startTimeUnixNano"], str)
                    assert all(len(link["traceId"]) == 32 for link in span.get("links", ()))
    first = json.loads(lines[0])["resourceSpans"][0]
    assert {"key": "service.name", "value": {"stringValue": "checkout"}} in first["resource"]["attributes"]


def test_the_truth_file_lists_the_bugged_orders_sorted(tmp_path):
    truth = tmp_path / "t.jsonl"
    r = _app("--orders", "30", "--bug", "double-release", "--bug", "ship-before-charge",
             "--truth", str(truth))
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in truth.read_text().splitlines()]
    assert rows and [r["key"] for r in rows] == sorted(r["key"] for r in rows)
    assert {(r["kind"], r["property"]) for r in rows} == {
        ("invariant", "stock_released_once"), ("invariant", "ships_only_paid")}


@pytest.mark.parametrize(("args", "message"), [
    ([], "nothing to do: give --file, --otlp-http, --otlp-grpc and/or --truth"),
    (["--truth", "-", "--orders", "0"], "--orders must be at least 1"),
    (["--truth", "-", "--bug", "typo"], "invalid choice: 'typo'"),
    (["--truth", "-", "--orders", "3", "--bug", "lost-shipment"],
     "--bug lost-shipment: no order to put it in; give more --orders"),
    (["--truth", "-", "--sample-orders", "2"], "sampling rate must be within [0, 1], got 2.0"),
])
def test_bad_usage_exits_2_with_a_message_saying_what_to_fix(args, message):
    r = _app(*args)
    assert r.returncode == 2
    assert message in r.stderr


def test_help_lists_every_bug_and_the_violation_it_causes():
    r = _app("--help")
    assert r.returncode == 0
    for bug, (kind, prop) in app.BUGS.items():
        assert bug in r.stdout and f"-> {kind} {prop}" in r.stdout


def test_the_sample_orders_flag_writes_whole_orders_whose_replay_is_exact(tmp_path):
    out, truth = tmp_path / "s.jsonl", tmp_path / "t.jsonl"
    r = _app("--orders", "60", "--seed", "3", "--bug", "double-refund", "--bug-rate", "0.5",
             "--sample-orders", "0.5", "--file", str(out), "--truth", str(truth))
    assert r.returncode == 0, r.stderr
    keeps = app.OrderIdRatioSampler(0.5).keeps
    expected = [t for t in map(json.loads, truth.read_text().splitlines()) if keeps(t["key"])]
    assert expected
    result = replay(load_specdir(ORDER), [str(out)])
    found = sorted((r["key"], r["kind"], r["property"]) for r in map(json.loads, result.reports))
    assert found == sorted((t["key"], t["kind"], t["property"]) for t in expected)
    assert result.engine["adopted"] == 0

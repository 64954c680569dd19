"""ITF in and out: values, Quint's MBT variables, reports as traces, traces as events."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from monitor.engine import Engine, EngineConfig
from monitor.errors import RecordError
from monitor.explore.itf import decode_value, encode_value, make_trace, read_trace
from monitor.explore.traces import itf_events, report_to_itf
from monitor.spec import model_of
from tests.engine.conftest import load_payment
from tests.engine.helpers import ev


@pytest.fixture(scope="module")
def Payment() -> type:  # noqa: N802 - named like the class it is
    return load_payment()

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5),
                    st.floats(allow_nan=False, allow_infinity=False))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.tuples(inner, inner), st.frozensets(st.integers() | st.text(max_size=3), max_size=4)),
    max_leaves=8)


@given(values)
def test_every_hashable_value_survives_encoding_to_itf_and_back(v):
    assert decode_value(json.loads(json.dumps(encode_value(v)))) == v


def test_values_are_written_in_the_forms_quint_writes():
    assert encode_value(5) == {"#bigint": "5"}
    assert encode_value(2**70) == {"#bigint": str(2**70)}
    assert encode_value((1, "a")) == {"#tup": [{"#bigint": "1"}, "a"]}
    assert encode_value(frozenset({"b", "a"})) == {"#set": ["a", "b"]}
    assert encode_value({"x": True}) == {"x": True}
    assert encode_value({1: "one"}) == {"#map": [[{"#bigint": "1"}, "one"]]}
    assert encode_value(None) == {"tag": "None", "value": {"#tup": []}}
    assert encode_value(1.5) == {"#unserializable": "1.5"}


def test_plain_json_integers_and_some_variants_are_read_too():
    assert decode_value(7) == 7
    assert decode_value({"tag": "Some", "value": {"#bigint": "3"}}) == 3
    assert decode_value([1, 2]) == (1, 2)


def test_a_malformed_value_names_its_json_path():
    with pytest.raises(RecordError, match=r"\$\.states\[1\]\.n\.#bigint: expected a decimal"):
        read_trace({"vars": ["n"], "states": [{"n": 1}, {"n": {"#bigint": "x1"}}]})
    with pytest.raises(RecordError, match=r"\$\.states: missing or not an array"):
        read_trace({"vars": []})


QUINT_TRACE = {
    "#meta": {"format": "ITF", "source": "payment.qnt", "status": "ok"},
    "vars": ["status", "mbt::actionTaken", "mbt::nondetPicks"],
    "states": [
        {"#meta": {"index": 0}, "status": "new", "mbt::actionTaken": "init",
         "mbt::nondetPicks": {"amount": {"tag": "None", "value": {"#tup": []}}}},
        {"#meta": {"index": 1}, "status": "authorized", "mbt::actionTaken": "authorize",
         "mbt::nondetPicks": {"amount": {"tag": "Some", "value": {"#bigint": "100"}}}},
        {"#meta": {"index": 2}, "status": "authorized", "mbt::actionTaken": "capture",
         "mbt::nondetPicks": {"amount": {"tag": "Some", "value": {"#bigint": "300"}}}},
    ],
}


def test_a_quint_mbt_trace_reads_as_its_steps_with_the_picks_that_are_some():
    renamed = json.loads(json.dumps(QUINT_TRACE))
    renamed["states"][0]["mbt::actionTaken"] = "Init"  # quint run --init=Init
    assert read_trace(renamed).steps == read_trace(QUINT_TRACE).steps
    trace = read_trace(QUINT_TRACE)
    assert [(s.index, s.action, s.args, s.time) for s in trace.steps] == [
        (1, "authorize", {"amount": 100}, None), (2, "capture", {"amount": 300}, None)]
    assert trace.states[0] == {"status": "new"}


def test_a_quint_trace_replayed_through_the_engine_finds_the_overcapture(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, late_join="strict"))
    events = itf_events(read_trace(QUINT_TRACE), model_of(Payment), key="run_0")
    assert [(e.key, e.time, e.action, e.args) for e in events] == [
        ("run_0", 1.0, "authorize", (100,)), ("run_0", 2.0, "capture", (300,))]
    reports = engine.feed_many(events) + engine.flush()
    assert [(r.kind, r.property, r.message) for r in reports] == [
        ("unexpected", "capture", "capture(300) not allowed: capture exceeds authorization")]


def test_an_unknown_action_or_a_missing_pick_is_a_record_error_naming_the_state(Payment):
    bad = json.loads(json.dumps(QUINT_TRACE))
    bad["states"][2]["mbt::actionTaken"] = "cancel"
    with pytest.raises(RecordError, match=r"\$\.states\[2\]\[\"mbt::actionTaken\"\]: "
                       r"'cancel' is not an action of Payment; it has: authorize, capture"):
        itf_events(read_trace(bad), model_of(Payment), key="k")
    bad["states"][2]["mbt::actionTaken"] = "refund"
    bad["states"][2]["mbt::nondetPicks"] = {}
    with pytest.raises(RecordError, match=r"no pick 'amount' for Payment.refund"):
        itf_events(read_trace(bad), model_of(Payment), key="k")


def test_a_trace_of_states_only_gets_its_actions_inferred(Payment):
    m = model_of(Payment)
    doc = {"vars": list(m.fields), "states": [
        {f: encode_value(v) for f, v in zip(m.fields, s)} for s in [
            ("new", 0, 0, 0), ("authorized", 250, 0, 0), ("authorized", 250, 200, 0)]]}
    events = itf_events(read_trace(doc), m, key="k")
    assert [(e.action, e.args) for e in events] == [("authorize", (250,)), ("capture", (200,))]


def violation_of(Payment, *events):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, late_join="strict"))
    reports = engine.feed_many(events) + engine.flush()
    assert len(reports) == 1
    return msgspec.to_builtins(reports[0])


@pytest.mark.parametrize("steps", [
    [("authorize", 100), ("capture", 100), ("refund", 50), ("refund", 100)],  # invariant
    [("authorize", 100), ("capture", 200)],  # unexpected
    [("capture", 50)],  # unexpected from the initial state
])
def test_a_report_exported_as_itf_replays_to_the_same_violation(Payment, steps):
    report = violation_of(Payment, *[ev("p1", i, a, x) for i, (a, x) in enumerate(steps)])
    trace = json.loads(json.dumps(report_to_itf(report, model_of(Payment))))
    assert "truncated" not in trace["#meta"]
    again = violation_of(Payment, *itf_events(read_trace(trace), model_of(Payment), key="p1"))
    for k in ("key", "kind", "property", "message", "time", "action", "args", "history"):
        assert again[k] == report[k]


def test_a_report_as_itf_is_exactly_the_history_from_the_initial_state(Payment):
    report = violation_of(Payment, ev("p1", 10, "authorize", 100), ev("p1", 20, "capture", 200))
    assert report_to_itf(report, model_of(Payment)) == make_trace(
        ["status", "authorized", "captured", "refunded"],
        [{"status": "new", "authorized": 0, "captured": 0, "refunded": 0},
         {"status": "authorized", "authorized": 100, "captured": 0, "refunded": 0},
         {"status": "authorized", "authorized": 100, "captured": 0, "refunded": 0}],
        [("init", {}), ("authorize", {"amount": 100}), ("capture", {"amount": 200})],
        meta={"source": "Payment", "status": "violation",
              "description": "specmon violation: unexpected capture for key p1: "
                             "capture(200) not allowed: capture exceeds authorization",
              "violation": {"kind": "unexpected", "property": "capture",
                            "message": "capture(200) not allowed: capture exceeds authorization",
                            "key": "p1", "time": 20.0}},
        state_meta=[{}, {"time": 10.0}, {"time": 20.0, "violation": "unexpected"}])


def test_an_invariant_report_as_itf_ends_in_the_state_that_breaks_it(Payment):
    report = violation_of(Payment, ev("p", 1, "authorize", 100), ev("p", 2, "capture", 50),
                          ev("p", 3, "refund", 100))
    last = report_to_itf(report, model_of(Payment))["states"][-1]
    assert (last["captured"], last["refunded"]) == ({"#bigint": "50"}, {"#bigint": "100"})
    assert last["#meta"] == {"index": 3, "time": 3.0, "violation": "invariant"}


def test_a_report_whose_history_was_cut_is_marked_truncated(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, late_join="strict", history=2))
    reports = engine.feed_many([ev("p", 1, "authorize", 250), ev("p", 2, "capture", 50),
                                ev("p", 3, "capture", 50), ev("p", 4, "capture", 200)])
    trace = report_to_itf(msgspec.to_builtins(reports[0]), model_of(Payment))
    assert trace["#meta"]["truncated"] is True
    assert [s["mbt::actionTaken"] for s in trace["states"]] == ["capture", "capture", "capture"]


steps_strategy = st.lists(st.one_of(
    st.tuples(st.just("authorize"), st.sampled_from([100, 250])),
    st.tuples(st.just("capture"), st.sampled_from([50, 100, 200])),
    st.tuples(st.just("void"), st.none()),
    st.tuples(st.just("refund"), st.sampled_from([50, 100]))), min_size=1, max_size=10)


@settings(max_examples=60, deadline=None)
@given(steps_strategy)
def test_any_violation_exported_as_itf_replays_to_the_same_violation(steps):
    Payment = load_payment()
    model = model_of(Payment)
    events = [ev("k", i, a, *([] if x is None else [x])) for i, (a, x) in enumerate(steps)]
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, late_join="strict"))
    reports = [r for r in engine.feed_many(events) + engine.flush() if r.kind != "deadline"]
    assume(reports)
    report = msgspec.to_builtins(reports[0])
    trace = read_trace(json.loads(json.dumps(report_to_itf(report, model))))
    again = Engine(Payment, EngineConfig(allowed_lateness=0, late_join="strict"))
    replayed = [msgspec.to_builtins(r) for r in again.feed_many(itf_events(trace, model, key="k"))]
    assert len(replayed) == 1
    for k in ("kind", "property", "message", "time", "action", "args", "history"):
        assert replayed[0][k] == report[k]

"""``monitor.check_trace``: a verdict per record of one trace."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

import monitor.check
from monitor import check_trace
from monitor.engine import EngineConfig
from monitor.explore.itf import make_trace
from tests.engine.conftest import load_payment

ROOT = Path(__file__).resolve().parents[1]
DAY = 86400.0


def test_the_documented_example_runs():
    assert doctest.testmod(monitor.check).failed == 0


def short(verdicts):
    return [(v.index, v.verdict, v.property) for v in verdicts]


def test_pairs_get_a_verdict_each_and_a_missed_deadline_one_more():
    Payment = load_payment()
    verdicts = check_trace(Payment, [
        ("authorize", {"amount": 100}, 0), ("capture", {"amount": 200}, 1),
        ("refund", {"amount": 50}, 2)])
    assert short(verdicts) == [(0, "ok", None), (1, "unexpected", "capture"), (2, "after", None)]
    assert verdicts[1].message == "capture(200) not allowed: capture exceeds authorization"
    late = check_trace(Payment, [("authorize", {"amount": 100}, 0),
                                 ("capture", {"amount": 100}, 8 * DAY)])
    # the deadline fires before the capture is applied, so the capture comes after it
    assert short(late) == [(0, "ok", None), (1, "after", None), (None, "deadline", "settles")]


def test_raw_records_go_through_the_mapping_and_bad_ones_are_named():
    Payment = load_payment()
    mapping = (ROOT / "specs/payment/mapping.yaml").read_text()
    records = [
        b'{"type":"payment.authorized","subject":"p","time":1,"id":"a","data":{"amount":100}}',
        {"type": "payment.captured", "subject": "p", "time": 2, "id": "b",
         "data": {"amount": "x"}},
        {"type": "payment.unknown", "subject": "p", "time": 3},
        {"type": "payment.captured", "subject": "p", "time": 4, "id": "a",
         "data": {"amount": 50}},
        '{"type":"payment.refunded","subject":"p","time":5,"id":"c","data":{"amount":100}}',
    ]
    verdicts = check_trace(Payment, records, mapping=mapping)
    assert short(verdicts) == [(0, "ok", None), (1, "invalid", "bad_arg"), (2, "unmatched", None),
                               (3, "duplicate", None), (4, "unexpected", "refund")]
    assert verdicts[1].message == "$.data.amount: expected int, got 'x' (capture.amount)"


def test_an_itf_trace_is_checked_step_by_step():
    Payment = load_payment()
    fields = ["status", "authorized", "captured", "refunded"]
    s0 = {"status": "new", "authorized": 0, "captured": 0, "refunded": 0}
    s1 = {**s0, "status": "authorized", "authorized": 100}
    trace = make_trace(fields, [s0, s1, {**s1, "captured": 50}, {**s1, "captured": 50}],
                       [("init", {}), ("authorize", {"amount": 100}),
                        ("capture", {"amount": 50}), ("refund", {"amount": 100})], meta={})
    assert short(check_trace(Payment, trace)) == [
        (0, "ok", None), (1, "ok", None), (2, "invariant", "refunds_within_captures")]


def test_with_lateness_violations_still_find_their_own_record():
    Payment = load_payment()
    verdicts = check_trace(Payment, [("capture", {"amount": 50}), ("authorize", {"amount": 100})],
                           config=EngineConfig(allowed_lateness=10, late_join="strict"))
    assert short(verdicts)[0] == (0, "unexpected", "capture")


def test_a_record_that_is_not_a_pair_says_what_is_expected():
    with pytest.raises(TypeError, match=r"records\[0\]: expected \(action, args\)"):
        check_trace(load_payment(), [{"type": "payment.captured"}])
    with pytest.raises(ValueError, match=r"records\[0\]: Payment.capture takes \(amount\)"):
        check_trace(load_payment(), [("capture", {})])

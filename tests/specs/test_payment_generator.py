"""The payment log generator (specs/payment/generate.py) and the hand-written baseline
checker (bench/handwritten.py): the generator is deterministic, its logs keep the
promises the ground truth relies on, and its ground truth is exactly what the
independent checker finds, on generated logs and on the bundled samples."""

from __future__ import annotations

import gzip
import importlib.util
import json
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
PAYMENT = ROOT / "specs" / "payment"
SAMPLES = PAYMENT / "samples"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


generate = _load("payment_generate", PAYMENT / "generate.py")
handwritten = _load("bench_handwritten", ROOT / "bench" / "handwritten.py")

Verdicts = list[tuple[str, str, str]]


def _triples(truth: list[dict[str, str]]) -> Verdicts:
    return sorted((t["key"], t["kind"], t["property"]) for t in truth)


def _read_truth(path: Path) -> Verdicts:
    return _triples([json.loads(x) for x in path.read_text().splitlines() if x.strip()])


def _log(tmp_path: Path, events: int, live: int, **kw) -> tuple[Path, Verdicts, list[bytes]]:
    lines, truth = generate.generate(events, live, **kw)
    log = tmp_path / f"log-{kw.get('seed', 7)}-{events}-{live}.jsonl"
    log.write_bytes(b"".join(line + b"\n" for line in lines))
    return log, _triples(truth), lines


def _time(ev: dict) -> float:
    return datetime.fromisoformat(ev["time"]).timestamp()


# --------------------------------------------------------------------------- determinism

def test_the_generator_is_deterministic_for_a_seed():
    kw = dict(violations=0.1, duplicates=0.05, shuffle=4.0)
    assert generate.generate(800, 20, seed=3, **kw) == generate.generate(800, 20, seed=3, **kw)
    assert generate.generate(800, 20, seed=3, **kw) != generate.generate(800, 20, seed=4, **kw)


def test_the_cli_writes_the_same_log_plain_and_gzipped_and_the_truth_sorted(tmp_path):
    args = ["--events", "3000", "--live", "50", "--violations", "0.1", "--duplicates", "0.02",
            "--shuffle", "3", "--seed", "11"]
    for out in ("a.jsonl", "b.jsonl.gz"):
        subprocess.run([sys.executable, str(PAYMENT / "generate.py"), *args,
                        "--out", str(tmp_path / out), "--truth", str(tmp_path / f"{out}.truth")],
                       check=True, capture_output=True)
    plain = (tmp_path / "a.jsonl").read_bytes()
    assert gzip.decompress((tmp_path / "b.jsonl.gz").read_bytes()) == plain
    truth_text = (tmp_path / "a.jsonl.truth").read_text()
    assert truth_text == (tmp_path / "b.jsonl.gz.truth").read_text()
    truth = [json.loads(x) for x in truth_text.splitlines()]
    assert truth and [t["key"] for t in truth] == sorted(t["key"] for t in truth)
    assert all(set(t) == {"key", "kind", "property"} for t in truth)
    lines, expected = generate.generate(3000, 50, violations=0.1, duplicates=0.02, shuffle=3.0,
                                        seed=11)
    assert plain == b"".join(x + b"\n" for x in lines) and truth == expected
    found = handwritten.check(str(tmp_path / "b.jsonl.gz"))
    assert found == _triples(truth)


def test_the_cli_refuses_shuffling_beyond_the_allowed_lateness(tmp_path):
    proc = subprocess.run([sys.executable, str(PAYMENT / "generate.py"), "--events", "10",
                           "--shuffle", "6", "--out", str(tmp_path / "x"), "--truth",
                           str(tmp_path / "y")], capture_output=True, text=True)
    assert proc.returncode == 2 and "--shuffle" in proc.stderr


# --------------------------------------------------------------------------- the log's shape

def test_records_are_cloudevents_with_rfc3339_millisecond_utc_times():
    lines, _ = generate.generate(300, 10, violations=0.2, seed=1)
    types = set()
    for line in lines:
        ev = json.loads(line)
        assert ev["specversion"] == "1.0" and ev["source"] == "payments-api"
        assert ev["data"]["payment_id"] == ev["subject"]
        assert len(ev["time"]) == 24 and ev["time"].endswith("Z") and ev["time"][19] == "."
        types.add(ev["type"])
        if ev["type"] == "payment.voided":
            assert set(ev["data"]) == {"payment_id"}
        else:
            assert isinstance(ev["data"]["amount"], int) and ev["data"]["amount"] > 0
    assert types == {"payment.authorized", "payment.captured", "payment.voided",
                     "payment.refunded"}


@pytest.mark.parametrize("events,live", [(2000, 30), (3000, 300), (500, 500), (200, 1)])
def test_events_of_one_payment_are_at_least_ten_seconds_apart_and_arrive_in_order(
        events, live):
    lines, _ = generate.generate(events, live, seed=5, violations=0.2, duplicates=0.1,
                                 shuffle=5.0)
    last: dict[str, tuple[str, float]] = {}
    max_t = float("-inf")
    for line in lines:
        ev = json.loads(line)
        t = _time(ev)
        prev = last.get(ev["subject"])
        if prev is not None and prev[0] != ev["id"]:  # (same id: a re-delivery)
            assert t - prev[1] >= 10.0, (ev["subject"], prev, ev["time"])
        last[ev["subject"]] = (ev["id"], t)
        assert t >= max_t - 5.0, "no record is later than the allowed lateness"
        max_t = max(max_t, t)


def test_shuffling_reorders_records_and_duplicates_repeat_ids_byte_for_byte():
    lines, _ = generate.generate(5000, 2000, seed=2, duplicates=0.05, shuffle=5.0,
                                 span_days=2)
    times = [_time(json.loads(x)) for x in lines]
    assert any(b < a for a, b in zip(times, times[1:])), "some records arrive out of order"
    ids = Counter(json.loads(x)["id"] for x in lines)
    assert len(ids) == 5000 and 150 < sum(n - 1 for n in ids.values()) < 350
    by_id = defaultdict(set)
    for x in lines:
        by_id[json.loads(x)["id"]].add(x)
    assert all(len(v) == 1 for v in by_id.values())


def test_a_large_log_spans_weeks_keeps_about_live_payments_open_and_mixes_all_violations():
    events, live = 60_000, 600
    lines, truth = generate.generate(events, live, seed=9, violations=0.05)
    evs = [json.loads(x) for x in lines]
    first, last = _time(evs[0]), _time(evs[-1])
    assert 25 * 86400 < last - first < 35 * 86400
    # open payments (first event seen, not finished) at the middle of the log
    per_key = defaultdict(list)
    for ev in evs:
        per_key[ev["subject"]].append(_time(ev))
    mid = (first + last) / 2
    open_at_mid = sum(1 for ts in per_key.values() if ts[0] <= mid < ts[-1])
    assert live * 0.5 < open_at_mid < live * 1.5
    props = Counter((t["kind"], t["property"]) for t in truth)
    assert set(props) == {("unexpected", "authorize"), ("unexpected", "capture"),
                          ("unexpected", "void"), ("unexpected", "refund"),
                          ("invariant", "refunds_within_captures"), ("deadline", "settles")}
    n_payments = len(per_key)
    assert 0.03 * n_payments < len(truth) < 0.07 * n_payments
    assert len({t["key"] for t in truth}) == len(truth), "one violation per payment at most"


def test_only_restricts_the_injected_kind_and_no_violations_means_an_empty_truth():
    for kind in ("unexpected", "invariant", "deadline"):
        _, truth = generate.generate(4000, 40, seed=1, violations=0.3, only=kind)
        assert truth and {t["kind"] for t in truth} == {kind}
    assert generate.generate(4000, 40, seed=1, violations=0.0)[1] == []


# --------------------------------------------------------------------------- ground truth

@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_truth_equals_the_handwritten_checker_with_duplicates_and_shuffling(tmp_path, seed):
    log, truth, _ = _log(tmp_path, 4000, 60, seed=seed, violations=0.2, duplicates=0.05,
                         shuffle=5.0)
    assert {k for _, k, _ in truth} == {"unexpected", "invariant", "deadline"}
    assert handwritten.check(str(log)) == truth


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), events=st.integers(0, 1500),
       live=st.integers(1, 400), violations=st.sampled_from([0.0, 0.1, 0.5, 1.0]),
       duplicates=st.sampled_from([0.0, 0.1, 0.5]), shuffle=st.sampled_from([0.0, 2.5, 5.0]),
       span_days=st.sampled_from([1.0, 10.0, 30.0]))
def test_truth_equals_the_handwritten_checker_for_any_parameters(
        tmp_path, seed, events, live, violations, duplicates, shuffle, span_days):
    log, truth, _ = _log(tmp_path, events, live, seed=seed, violations=violations,
                         duplicates=duplicates, shuffle=shuffle, span_days=span_days)
    assert handwritten.check(str(log)) == truth


def test_truth_equals_specmon_replay(tmp_path):
    """A third, independent implementation: the monitor itself."""
    from monitor.replay import replay
    from monitor.specdir import load_specdir

    log, truth, _ = _log(tmp_path, 4000, 60, seed=8, violations=0.2, duplicates=0.05,
                         shuffle=4.0)
    result = replay(load_specdir(PAYMENT), [str(log)])
    found = sorted((r["key"], r["kind"], r["property"]) for r in map(json.loads, result.reports))
    assert found == truth


# --------------------------------------------------------------------------- samples

#: how each sample was made (also in specs/payment/README.md)
SAMPLE_ARGS = {
    "clean": dict(violations=0.0, seed=1),
    "unexpected": dict(violations=0.25, only="unexpected", seed=85),
    "invariant": dict(violations=0.25, only="invariant", seed=5),
    "deadline": dict(violations=0.25, only="deadline", seed=7),
}


@pytest.mark.parametrize("sample", sorted(SAMPLE_ARGS))
def test_each_sample_truth_matches_the_handwritten_checker(sample):
    path = SAMPLES / f"{sample}.jsonl"
    truth = _read_truth(SAMPLES / f"{sample}.truth.jsonl")
    assert handwritten.check(str(path)) == truth
    if sample == "clean":
        assert truth == []
    else:
        assert 1 <= len(truth) <= 2 and {k for _, k, _ in truth} == {sample}
        keys = {json.loads(x)["subject"] for x in path.read_text().splitlines()}
        assert len(keys) >= len(truth) + 3, "clean payments around the violations"


@pytest.mark.parametrize("sample", sorted(SAMPLE_ARGS))
def test_each_sample_is_what_the_documented_generator_command_writes(sample):
    lines, truth = generate.generate(40, 6, **SAMPLE_ARGS[sample])
    assert (SAMPLES / f"{sample}.jsonl").read_bytes() == b"".join(x + b"\n" for x in lines), \
        "regenerate the samples with the commands in specs/payment/README.md"
    assert _read_truth(SAMPLES / f"{sample}.truth.jsonl") == _triples(truth)


# --------------------------------------------------------------------------- the checker

def _ev(i: int, typ: str, key: str, t: str, amount: int | None = None, eid: str | None = None):
    data = {"payment_id": key} | ({} if amount is None else {"amount": amount})
    return json.dumps({"specversion": "1.0", "id": eid or f"e{i}", "source": "t",
                       "type": f"payment.{typ}", "subject": key,
                       "time": f"2026-11-{t}Z", "data": data})


def _check(tmp_path: Path, *records: str) -> Verdicts:
    log = tmp_path / "hand.jsonl"
    log.write_text("".join(r + "\n" for r in records))
    return handwritten.check(str(log))


def test_checker_deadline_fires_once_the_watermark_passes_it(tmp_path):
    auth = _ev(1, "authorized", "p1", "01T00:00:00.000", 100)
    # the watermark (max time - 5 s) must pass auth + 7 d; exactly at it is not enough
    at = _ev(2, "authorized", "p2", "08T00:00:05.000", 100)
    past = _ev(3, "authorized", "p3", "08T00:00:05.001", 100)
    assert _check(tmp_path, auth, at) == []
    assert _check(tmp_path, auth, past) == [("p1", "deadline", "settles")]
    # a capture after the deadline: the deadline, then quarantine
    late = _ev(4, "captured", "p1", "08T00:00:00.001", 100)
    assert _check(tmp_path, auth, late) == [("p1", "deadline", "settles")]
    ok = _ev(4, "captured", "p1", "07T23:59:59.999", 100)
    assert _check(tmp_path, auth, ok, past) == []


def test_checker_drops_duplicates_and_late_records_remembers_finished_and_adopts(tmp_path):
    a = _ev(1, "authorized", "p1", "01T00:00:00.000", 100)
    c = _ev(2, "captured", "p1", "01T00:01:00.000", 60)
    assert _check(tmp_path, a, c, c) == []  # the re-delivered capture is not a second one
    over = _ev(3, "captured", "p1", "01T00:02:00.000", 60)
    assert _check(tmp_path, a, c, over) == [("p1", "unexpected", "capture")]
    v = _ev(4, "voided", "p2", "01T00:00:00.000")
    a2 = _ev(5, "authorized", "p2", "01T00:00:00.000", 100, eid="e5")
    assert _check(tmp_path, a, c, v) == []  # joined mid-stream: tolerated
    # void, then (after the payment was finished and evicted) a capture
    a3 = _ev(6, "authorized", "p3", "01T00:00:00.000", 100)
    v3 = _ev(7, "voided", "p3", "01T00:01:00.000")
    c3 = _ev(8, "captured", "p3", "01T00:02:00.000", 10)
    again = _ev(9, "captured", "p3", "01T00:03:00.000", 10)
    assert _check(tmp_path, a3, v3, c3, again) == [("p3", "unexpected", "capture")]
    # late: more than 5 s behind the max time seen, dropped (the over-capture is ignored)
    ahead = _ev(10, "authorized", "p4", "01T00:10:00.000", 100)
    late_over = _ev(11, "captured", "p1", "01T00:09:54.000", 60)
    assert _check(tmp_path, a, c, ahead, late_over) == []
    assert _check(tmp_path, a2, v) == []
    refund = _ev(12, "refunded", "p1", "01T00:03:00.000", 61)
    assert _check(tmp_path, a, c, refund) == [("p1", "invariant", "refunds_within_captures")]

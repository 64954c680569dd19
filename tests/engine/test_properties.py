"""Laws of the engine, checked with hypothesis: it agrees with a naive reference
checker; reordering within the allowed lateness, snapshot/restore at any point,
feeding in batches of any size and re-delivering events change no verdict."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.engine import Engine, EngineConfig, Event
from monitor.spec.model import model_of
from tests.engine import reference
from tests.engine.conftest import load_payment
from tests.engine.specs_for_tests import Job

Payment = load_payment()
DAY = 86400.0
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def payment_steps() -> st.SearchStrategy[tuple[str, tuple[Any, ...]]]:
    amount = st.sampled_from([50, 100, 137, 250])
    return st.one_of(
        st.tuples(st.just("authorize"), st.tuples(amount)),
        st.tuples(st.just("capture"), st.tuples(amount)),
        st.tuples(st.just("void"), st.just(())),
        st.tuples(st.just("refund"), st.tuples(amount)),
    )


def job_steps() -> st.SearchStrategy[tuple[str, tuple[Any, ...]]]:
    return st.one_of(
        st.tuples(st.sampled_from(["submit", "finish", "retry"]), st.just(())),
        st.tuples(st.just("report"), st.tuples(st.booleans())),
    )


@st.composite
def traces(draw: Any, steps: st.SearchStrategy, big_gap: float) -> list[Event]:
    """Events over a few keys with increasing times; gaps sometimes pass a deadline;
    some events re-delivered with the same id."""
    n = draw(st.integers(1, 40))
    keys = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=n, max_size=n))
    gaps = draw(st.lists(st.one_of(st.integers(0, 30), st.just(int(big_gap))),
                         min_size=n, max_size=n))
    events: list[Event] = []
    t = 1_000_000.0
    for i, (key, gap) in enumerate(zip(keys, gaps)):
        t += gap
        action, args = draw(steps)
        ev = Event(key, t, action, args, f"id-{i}")
        events.append(ev)
        if draw(st.integers(0, 9)) == 0:
            events.append(ev)  # at-least-once delivery
    return events


def verdicts(reports: list[Any]) -> list[tuple[str, str, str, float]]:
    return sorted((r.key, r.kind, r.property, r.time) for r in reports)


def config(**kw: Any) -> EngineConfig:
    base = dict(allowed_lateness=0.0, instance_ttl=1e12, max_states=10_000)
    base.update(kw)
    return EngineConfig(**base)


def run(spec: type, events: list[Event], cfg: EngineConfig) -> Engine:
    engine = Engine(spec, cfg)
    engine.last_reports = engine.feed_many(events) + engine.flush()  # type: ignore[attr-defined]
    return engine


@SETTINGS
@given(traces(payment_steps(), 8 * DAY),
       st.sampled_from(["strict", "adopt", "ignore"]),
       st.sampled_from(["quarantine", "restart"]))
def test_payment_verdicts_equal_the_reference_checker(events, late_join, after):
    engine = run(Payment, events, config(late_join=late_join, after_violation=after))
    expected = reference.check(model_of(Payment), events, late_join=late_join,
                               after_violation=after)
    assert verdicts(engine.last_reports) == sorted(expected)


@SETTINGS
@given(traces(job_steps(), 150), st.integers(0, 2), st.sampled_from(["strict", "adopt"]))
def test_hidden_steps_and_choose_verdicts_equal_the_reference_checker(events, hidden, late_join):
    engine = run(Job, events, config(hidden_steps=hidden, late_join=late_join))
    expected = reference.check(model_of(Job), events, hidden_steps=hidden, late_join=late_join)
    assert verdicts(engine.last_reports) == sorted(expected)


@SETTINGS
@given(traces(payment_steps(), 8 * DAY), st.data())
def test_reordering_within_the_allowed_lateness_changes_no_verdict(events, data):
    lateness = 20.0
    # arrival = time + jitter(time), jitter < lateness: equal times keep their order
    salt = data.draw(st.integers(0, 2**16))
    jitter = {e.time: ((hash((e.time, salt)) % 1000) / 1000) * lateness * 0.99 for e in events}
    shuffled = sorted(events, key=lambda e: e.time + jitter[e.time])
    cfg = config(allowed_lateness=lateness)
    in_order = run(Payment, events, cfg)
    reordered = run(Payment, shuffled, cfg)
    assert reordered.counters.late == 0
    assert verdicts(reordered.last_reports) == verdicts(in_order.last_reports)


@SETTINGS
@given(traces(job_steps(), 150), st.data())
def test_snapshot_restore_at_any_point_continues_exactly(events, data):
    cut = data.draw(st.integers(0, len(events)))
    cfg = config(allowed_lateness=data.draw(st.sampled_from([0.0, 15.0])), hidden_steps=1)
    whole = run(Job, events, cfg)
    first = Engine(Job, cfg)
    reports = first.feed_many(events[:cut])
    second = Engine(Job, cfg)
    second.restore(first.snapshot())
    reports += second.feed_many(events[cut:]) + second.flush()
    assert reports == whole.last_reports  # same verdicts, histories and states
    assert second.counters.as_dict() == whole.counters.as_dict()


@SETTINGS
@given(traces(payment_steps(), 8 * DAY), st.lists(st.integers(1, 7), min_size=1))
def test_feeding_in_batches_of_any_size_equals_one_by_one(events, sizes):
    cfg = config(allowed_lateness=5.0)
    one = Engine(Payment, cfg)
    reports_one = [r for ev in events for r in one.feed(ev)] + one.flush()
    batched = Engine(Payment, cfg)
    reports_batched, i, k = [], 0, 0
    while i < len(events):
        size = sizes[k % len(sizes)]
        reports_batched += batched.feed_many(events[i:i + size])
        i, k = i + size, k + 1
    reports_batched += batched.flush()
    assert reports_batched == reports_one


@SETTINGS
@given(traces(payment_steps(), 8 * DAY))
def test_redelivering_every_event_changes_no_verdict(events):
    twice = [e for ev in events for e in (ev, ev)]
    once = run(Payment, events, config())
    doubled = run(Payment, twice, config())
    assert verdicts(doubled.last_reports) == verdicts(once.last_reports)
    assert doubled.counters.duplicate == len(twice) - len({e.id for e in events})

"""Laws of the engine, checked with hypothesis on generated traces:

- its verdicts equal those of a naive reference checker (tests/engine/reference.py);
- reordering arrivals within the allowed lateness changes no verdict;
- a snapshot restored into a fresh engine at any point continues exactly;
- feeding in batches of any size equals feeding one by one; idle ``advance`` calls
  between events change no verdict;
- re-delivered events (same id) change no verdict;
- after-violation and late-join policies relate as their definitions say.

Traces run over a few keys with times that are mostly close together but sometimes
jump past a ``within`` deadline or past the instance TTL, with actions and arguments
that include out-of-domain and not-enabled ones.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.engine import Engine, EngineConfig, Event
from monitor.spec.model import model_of
from tests.engine import reference
from tests.engine.specs_for_tests import Job, Ticket

DAY = 86400.0
T0 = 1_700_000_000.0
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

Step = tuple[str, tuple[Any, ...]]
_AMOUNT = st.sampled_from([0, 50, 100, 137, 200, 250])  # 0 and 137 are outside the domains
_NONE: st.SearchStrategy[tuple[Any, ...]] = st.just(())


class Case:
    """How to generate traces for one spec: each action's arguments, typical lifecycles
    (so that traces reach deep states, not only first-step rejections), long gaps (past a
    deadline, past the TTL), and the TTL (>= the longest within + the largest lateness)."""

    def __init__(self, args: dict[str, st.SearchStrategy[tuple[Any, ...]]],
                 lifecycles: list[list[str]], long_gaps: list[float], ttl: float) -> None:
        self.args, self.lifecycles, self.long_gaps, self.ttl = args, lifecycles, long_gaps, ttl


CASES: dict[str, Case] = {
    "payment": Case(
        {"authorize": st.tuples(_AMOUNT), "capture": st.tuples(_AMOUNT), "void": _NONE,
         "refund": st.tuples(_AMOUNT)},
        [["authorize", "capture", "refund", "refund"], ["authorize", "capture", "capture"],
         ["authorize", "void"], ["authorize"]],
        [7 * DAY + 1, 9 * DAY], 8 * DAY),
    "job": Case(
        {"submit": _NONE, "finish": _NONE, "retry": _NONE,
         "report": st.tuples(st.booleans())},
        [["submit", "finish", "report"], ["submit"],
         ["submit", "finish", "retry", "finish", "retry", "finish", "retry", "finish"]],
        [150.0, 350.0], 300.0),
    "ticket": Case(
        {"open": _NONE, "ack": _NONE, "resolve": _NONE, "reopen": _NONE, "close": _NONE},
        [["open", "ack", "resolve", "close"], ["open", "resolve", "reopen", "ack", "resolve"],
         ["open"], ["open", "ack"]],
        [70.0, 250.0, 450.0], 400.0),
}


def spec_of(name: str, payment: type) -> type:
    return {"payment": payment, "job": Job, "ticket": Ticket}[name]


@st.composite
def traces(draw: Any, name: str, *, redeliver: bool = True, max_size: int = 40) -> list[Event]:
    """Events in non-decreasing time order with unique ids over a few keys. Each key
    mostly follows one of the spec's typical lifecycles (then another: keys are reused
    after they finish), sometimes takes any action with any argument. With
    ``redeliver`` some events are sent again at once with the same id."""
    case = CASES[name]
    actions = sorted(case.args)
    keys = draw(st.sampled_from(["a", "ab", "abcd"]))
    script: dict[str, list[str]] = {}
    n = draw(st.integers(1, max_size))
    events: list[Event] = []
    t = T0
    for i in range(n):
        long_gap = draw(st.integers(0, 5)) == 0
        t += draw(st.sampled_from(case.long_gaps)) if long_gap else draw(st.integers(0, 30))
        key = draw(st.sampled_from(keys))
        if not script.get(key):
            script[key] = list(draw(st.sampled_from(case.lifecycles)))
        if draw(st.integers(0, 3)):
            action = script[key].pop(0)
        else:
            action = draw(st.sampled_from(actions))
        ev = Event(key, t, action, draw(case.args[action]), f"id-{i}")
        events.append(ev)
        if redeliver and draw(st.integers(0, 9)) == 0:
            events.append(ev)
    return events


def config(name: str, **kw: Any) -> EngineConfig:
    base: dict[str, Any] = dict(allowed_lateness=0.0, instance_ttl=CASES[name].ttl,
                                max_states=10_000)
    base.update(kw)
    return EngineConfig(**base)


def verdicts(reports: list[Any]) -> list[tuple[str, str, str, float]]:
    return sorted((r.key, r.kind, r.property, r.time) for r in reports)


def run(spec: type, events: list[Event], cfg: EngineConfig) -> tuple[Engine, list[Any]]:
    engine = Engine(spec, cfg)
    reports = engine.feed_many(events) + engine.flush()
    return engine, reports


# -- (a) the engine agrees with the reference checker ------------------------------------


def assert_every_step_counted_once(engine: Engine) -> None:
    """Transition coverage accounts for every allowed step exactly once."""
    c = engine.counters
    counted = sum(engine.transition_counts().values())
    assert counted + c.transitions_ambiguous + c.transitions_overflow == c.applied



@SETTINGS
@given(events=traces("payment"), late_join=st.sampled_from(["strict", "adopt", "ignore"]),
       after=st.sampled_from(["quarantine", "restart"]), lateness=st.sampled_from([0.0, 20.0]))
def test_payment_verdicts_equal_the_reference_checker(Payment, events, late_join, after,
                                                      lateness):
    cfg = config("payment", late_join=late_join, after_violation=after,
                 allowed_lateness=lateness)
    engine, reports = run(Payment, events, cfg)
    expected = reference.check(model_of(Payment), events, late_join=late_join,
                               after_violation=after, instance_ttl=cfg.instance_ttl)
    assert verdicts(reports) == sorted(expected)
    assert engine.counters.violations == len(expected)
    assert engine.counters.late == 0 and engine.counters.spec_errors == 0
    assert_every_step_counted_once(engine)


@SETTINGS
@given(events=traces("job"), hidden=st.integers(0, 2),
       late_join=st.sampled_from(["strict", "adopt", "ignore"]),
       after=st.sampled_from(["quarantine", "restart"]))
def test_hidden_steps_and_choose_verdicts_equal_the_reference_checker(events, hidden,
                                                                      late_join, after):
    cfg = config("job", hidden_steps=hidden, late_join=late_join, after_violation=after)
    engine, reports = run(Job, events, cfg)
    expected = reference.check(model_of(Job), events, hidden_steps=hidden, late_join=late_join,
                               after_violation=after, instance_ttl=cfg.instance_ttl)
    assert verdicts(reports) == sorted(expected)
    assert_every_step_counted_once(engine)


@SETTINGS
@given(events=traces("ticket"), late_join=st.sampled_from(["strict", "adopt"]),
       after=st.sampled_from(["quarantine", "restart"]))
def test_two_deadlines_per_instance_verdicts_equal_the_reference_checker(events, late_join,
                                                                         after):
    cfg = config("ticket", late_join=late_join, after_violation=after)
    _engine, reports = run(Ticket, events, cfg)
    expected = reference.check(model_of(Ticket), events, late_join=late_join,
                               after_violation=after, instance_ttl=cfg.instance_ttl)
    assert verdicts(reports) == sorted(expected)


# -- (b) reordering within the allowed lateness ------------------------------------------


@SETTINGS
@given(name=st.sampled_from(sorted(CASES)), data=st.data(),
       after=st.sampled_from(["quarantine", "restart"]))
def test_reordering_within_the_allowed_lateness_changes_no_verdict(Payment, name, data, after):
    events = data.draw(traces(name))
    lateness = 20.0
    # arrival order = sort by time + jitter, jitter < lateness and equal per distinct time,
    # so no event is late and events with equal times keep their relative order
    jitter = {t: data.draw(st.floats(0, 0.99 * lateness)) for t in sorted({e.time for e in events})}
    shuffled = sorted(events, key=lambda e: e.time + jitter[e.time])
    spec = spec_of(name, Payment)
    cfg = config(name, allowed_lateness=lateness, after_violation=after)
    in_order, in_order_reports = run(spec, events, cfg)
    reordered, reordered_reports = run(spec, shuffled, cfg)
    assert reordered.counters.late == 0
    assert verdicts(reordered_reports) == verdicts(in_order_reports)
    assert verdicts(reordered_reports) == sorted(reference.check(
        model_of(spec), shuffled, after_violation=after, instance_ttl=cfg.instance_ttl))
    assert reordered.counters.applied == in_order.counters.applied


# -- (c) snapshot and restore ------------------------------------------------------------


def resend_some(data: Any, events: list[Event], most: int = 10) -> list[Event]:
    """Re-send some events (same id) at any later arrival position: maybe within the dedup
    window, maybe after it, maybe late."""
    out = list(events)
    for _ in range(data.draw(st.integers(0, most))):
        i = data.draw(st.integers(0, len(out) - 1))
        out.insert(data.draw(st.integers(i + 1, len(out))), out[i])
    return out


@SETTINGS
@given(name=st.sampled_from(sorted(CASES)), data=st.data(),
       lateness=st.sampled_from([0.0, 15.0]), after=st.sampled_from(["quarantine", "restart"]),
       small_tables=st.booleans())
def test_snapshot_restore_at_any_points_continues_exactly(Payment, name, data, lateness, after,
                                                          small_tables):
    events = resend_some(data, data.draw(traces(name)))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(events)), min_size=1, max_size=3)))
    spec = spec_of(name, Payment)
    bounds: dict[str, Any] = {}
    if small_tables:  # every bounded table at its bound: what a restore must reproduce
        bounds = dict(max_finished=data.draw(st.integers(1, 3)),
                      max_instances=data.draw(st.integers(1, 4)),
                      max_buffered=data.draw(st.integers(1, 4)),
                      max_dedup_ids=data.draw(st.integers(1, 4)),
                      dedup_window=data.draw(st.sampled_from([0.0, 5.0, 40.0])),
                      history=data.draw(st.integers(1, 3)),
                      max_transitions=data.draw(st.integers(0, 3)),
                      late_events=data.draw(st.sampled_from(["drop", "apply"])))
    cfg = config(name, allowed_lateness=lateness, after_violation=after, hidden_steps=1,
                 **bounds)
    whole, whole_reports = run(spec, events, cfg)
    engine = Engine(spec, cfg)
    reports: list[Any] = []
    start = 0
    for cut in cuts:
        reports += engine.feed_many(events[start:cut])
        start = cut
        restored = Engine(spec, cfg)
        restored.restore(engine.snapshot())
        engine = restored
    reports += engine.feed_many(events[start:]) + engine.flush()
    assert reports == whole_reports  # same verdicts, messages, histories and states
    assert engine.counters.as_dict() == whole.counters.as_dict()
    assert list(engine.finished) == list(whole.finished)
    assert engine.transition_counts() == whole.transition_counts()
    assert list(engine.instances) == list(whole.instances)
    assert engine.snapshot() == whole.snapshot()


# -- (d) batching and idle time ----------------------------------------------------------


@SETTINGS
@given(name=st.sampled_from(sorted(CASES)), data=st.data(), lateness=st.sampled_from([0.0, 5.0]))
def test_feeding_in_batches_of_any_size_equals_one_by_one(Payment, name, data, lateness):
    events = data.draw(traces(name))
    sizes = data.draw(st.lists(st.integers(1, 8), min_size=1, max_size=10))
    spec = spec_of(name, Payment)
    cfg = config(name, allowed_lateness=lateness)
    one = Engine(spec, cfg)
    one_reports = [r for ev in events for r in one.feed(ev)] + one.flush()
    batched = Engine(spec, cfg)
    batched_reports: list[Any] = []
    i = k = 0
    while i < len(events):
        size = sizes[k % len(sizes)]
        batched_reports += batched.feed_many(events[i:i + size])
        i, k = i + size, k + 1
    batched_reports += batched.flush()
    assert batched_reports == one_reports
    assert batched.counters.as_dict() == one.counters.as_dict()


@SETTINGS
@given(name=st.sampled_from(sorted(CASES)), data=st.data(), lateness=st.sampled_from([0.0, 5.0]))
def test_advancing_idle_time_up_to_the_next_event_changes_no_verdict(Payment, name, data,
                                                                     lateness):
    events = data.draw(traces(name))
    spec = spec_of(name, Payment)
    cfg = config(name, allowed_lateness=lateness)
    _plain, plain_reports = run(spec, events, cfg)
    streaming = Engine(spec, cfg)
    reports: list[Any] = []
    for prev, ev in zip([None, *events], events):
        if prev is not None and data.draw(st.booleans()):
            # a streaming driver's wall clock while input is idle: never past the next event
            reports += streaming.advance(data.draw(st.floats(prev.time, ev.time)))
        reports += streaming.feed(ev)
    reports += streaming.flush()
    assert streaming.counters.late == 0
    assert verdicts(reports) == verdicts(plain_reports)


# -- duplicates --------------------------------------------------------------------------


@SETTINGS
@given(name=st.sampled_from(sorted(CASES)), data=st.data(), lateness=st.sampled_from([0.0, 20.0]))
def test_redelivering_events_later_with_the_same_id_changes_no_verdict(Payment, name, data,
                                                                       lateness):
    events = data.draw(traces(name, redeliver=False))
    resent = resend_some(data, events)
    spec = spec_of(name, Payment)
    cfg = config(name, allowed_lateness=lateness, dedup_window=1e9)
    once, once_reports = run(spec, events, cfg)
    twice, twice_reports = run(spec, resent, cfg)
    assert verdicts(twice_reports) == verdicts(once_reports)
    assert twice.counters.duplicate == len(resent) - len(events)
    assert twice.counters.late == 0
    assert twice.counters.applied == once.counters.applied


# -- policies ----------------------------------------------------------------------------


def first_per_key(reports: list[Any]) -> list[tuple[str, str, str, float]]:
    first: dict[str, Any] = {}
    for r in reports:
        first.setdefault(r.key, (r.key, r.kind, r.property, r.time))
    return sorted(first.values())


@SETTINGS
@given(name=st.sampled_from(sorted(CASES)), data=st.data(),
       late_join=st.sampled_from(["strict", "adopt", "ignore"]))
def test_quarantine_reports_exactly_the_first_divergence_restart_reports_per_key(
        Payment, name, data, late_join):
    events = data.draw(traces(name))
    spec = spec_of(name, Payment)
    kw: dict[str, Any] = dict(instance_ttl=1e12, late_join=late_join)
    _q, quarantined = run(spec, events, config(name, after_violation="quarantine", **kw))
    _r, restarted = run(spec, events, config(name, after_violation="restart", **kw))
    assert verdicts(quarantined) == first_per_key(restarted)
    assert len({r.key for r in quarantined}) == len(quarantined)  # one alarm per divergence


@SETTINGS
@given(name=st.sampled_from(sorted(CASES)), data=st.data())
def test_stricter_late_join_policies_alarm_on_a_superset_of_keys(Payment, name, data):
    events = data.draw(traces(name))
    spec = spec_of(name, Payment)
    keys = {}
    for policy in ("strict", "adopt", "ignore"):
        _engine, reports = run(spec, events, config(name, late_join=policy, instance_ttl=1e12))
        keys[policy] = {r.key for r in reports}
    assert keys["ignore"] <= keys["adopt"] <= keys["strict"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_generated_traces_reach_every_verdict_kind_and_instance_path(Payment, name):
    """Guards the laws above against vacuity: the generated traces do reach violations
    of every kind the spec can produce, expiry, resumed and adopted instances."""
    kinds: set[str] = set()
    seen = {"expired": 0, "resumed": 0, "adopted": 0, "join_ignored": 0, "duplicate": 0}

    @settings(max_examples=300, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(traces(name))
    def collect(events: list[Event]) -> None:
        spec = spec_of(name, Payment)
        kinds.update(v[1] for v in reference.check(model_of(spec), events, late_join="strict",
                                                  instance_ttl=CASES[name].ttl))
        engine, _reports = run(spec, events, config(name, after_violation="restart"))
        for counter in seen:
            seen[counter] += getattr(engine.counters, counter)

    collect()
    expected = {"payment": {"unexpected", "invariant", "deadline"},
                "job": {"unexpected", "invariant", "deadline"},
                "ticket": {"unexpected", "deadline"}}[name]
    assert kinds >= expected
    assert all(seen[c] > 0 for c in ("expired", "resumed", "adopted", "duplicate")), seen

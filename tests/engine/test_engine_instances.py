"""Instances (docs/semantics.md, "Per event" 5 and "Instances"): after-violation
policies, late join, terminal eviction and resumption, TTL, capacity."""

from __future__ import annotations

import pytest

from monitor import ConfigError, Spec, action, invariant, require, within
from monitor.engine import Engine, EngineConfig
from tests.engine.helpers import DAY, ev, kinds, verdicts

# -- after a violation -------------------------------------------------------------------


def test_quarantine_stops_alarms_for_the_instance_and_counts_its_events(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, after_violation="quarantine"))
    out = engine.feed_many([ev("p", 0, "authorize", 100), ev("p", 1, "authorize", 100),
                            ev("p", 2, "refund", 50), ev("p", 3, "void"),
                            ev("z", 8 * DAY, "authorize", 100)])  # p's window: no deadline
    assert kinds(out) == [("p", "unexpected", "authorize")]
    assert engine.counters.quarantined == 2 and engine.counters.violations == 1
    assert engine.instances["p"].win is None


def test_restart_forgets_the_instance_so_the_next_event_joins_again(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, after_violation="restart",
                                          late_join="strict"))
    out = engine.feed_many([ev("p", 0, "authorize", 100), ev("p", 1, "authorize", 100),
                            ev("p", 2, "refund", 50), ev("p", 3, "authorize", 100),
                            ev("p", 4, "capture", 100)])
    assert kinds(out) == [("p", "unexpected", "authorize"), ("p", "unexpected", "refund")]
    assert engine.instances["p"].node.states == (("authorized", 100, 100, 0),)
    assert engine.counters.quarantined == 0


def test_restart_after_a_deadline_starts_the_instance_fresh(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, after_violation="restart"))
    out = engine.feed_many([ev("p", 0, "authorize", 100), ev("z", 8 * DAY, "authorize", 100),
                            ev("p", 8 * DAY + 1, "authorize", 250)])
    assert kinds(out) == [("p", "deadline", "settles")]
    assert engine.instances["p"].node.states == (("authorized", 250, 0, 0),)


# -- late join ---------------------------------------------------------------------------


@pytest.mark.parametrize("policy,reports,counters", [
    ("strict", [("p", "unexpected", "capture")], {"adopted": 0, "join_ignored": 0}),
    ("adopt", [], {"adopted": 1, "join_ignored": 0}),
    ("ignore", [], {"adopted": 0, "join_ignored": 1}),
])
def test_late_join_policies_for_a_first_event_the_initial_state_does_not_allow(
        Payment, policy, reports, counters):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, late_join=policy))
    out = engine.feed(ev("p", 0, "capture", 50))
    assert kinds(out) == reports
    assert {c: getattr(engine.counters, c) for c in counters} == counters


def test_a_first_event_the_initial_state_allows_does_not_go_through_late_join(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, late_join="ignore"))
    out = engine.feed_many([ev("p", 0, "authorize", 100), ev("p", 1, "capture", 200)])
    assert kinds(out) == [("p", "unexpected", "capture")]
    assert (engine.counters.adopted, engine.counters.join_ignored) == (0, 0)


def test_adopt_starts_from_every_reachable_state_that_allows_the_step(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, late_join="adopt"))
    assert engine.feed(ev("p", 0, "capture", 200)) == []
    assert sorted(engine.instances["p"].node.states) == [
        ("authorized", 250, 200, 0), ("authorized", 250, 250, 0), ("authorized", 250, 250, 50),
    ]


def test_adopted_instances_are_still_checked_afterwards(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, late_join="adopt"))
    out = engine.feed_many([ev("p", 0, "capture", 200), ev("p", 1, "void")])
    assert kinds(out) == [("p", "unexpected", "void")]
    assert out[0].message == "void() not allowed: void after capture"
    assert {s["authorized"] for s in out[0].states_before} == {250}


def test_adopt_ignores_a_key_no_reachable_state_explains_rather_than_alarm(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, late_join="adopt"))
    assert engine.feed_many([ev("p", 0, "capture", 10_000), ev("p", 1, "void"),
                             ev("p", 2, "authorize", 1)]) == []
    assert engine.counters.join_ignored == 1 and engine.counters.ignored == 2


def test_ignore_counts_the_later_events_of_an_ignored_key(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, late_join="ignore"))
    assert engine.feed_many([ev("p", 0, "refund", 50), ev("p", 1, "refund", 50),
                             ev("p", 2, "void")]) == []
    assert (engine.counters.join_ignored, engine.counters.ignored) == (1, 2)


class Fragile(Spec):
    n: int = 0

    @action(by=[1])
    def inc(self, by: int):
        require(self.n < 4, "full")
        self.n += by

    @action
    def done(self):
        require(self.n >= 2, "too early")
        self.n = 10

    @invariant
    def not_three(self):
        return 1 // (self.n - 3) is not None  # raises in the reachable state n == 3


def test_adopt_skips_reachable_states_where_the_spec_raises_instead_of_crashing():
    engine = Engine(Fragile, EngineConfig(allowed_lateness=0, late_join="adopt"))
    assert engine.feed(ev("k", 0, "done")) == []
    assert engine.counters.adopted == 1
    assert engine.instances["k"].node.states == ((10,),)


# -- terminal states ---------------------------------------------------------------------


def test_terminal_instances_are_evicted_but_later_events_are_still_checked(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, late_join="adopt"))
    engine.feed_many([ev("p", 0, "authorize", 100), ev("p", 1, "void")])
    assert "p" not in engine.instances and list(engine.finished) == ["p"]
    out = engine.feed(ev("p", 2, "capture", 50))
    assert engine.counters.finished == 1 and engine.counters.resumed == 1
    assert kinds(out) == [("p", "unexpected", "capture")]
    assert out[0].states_before == [{"status": "voided", "authorized": 100, "captured": 0,
                                     "refunded": 0}]
    assert engine.counters.adopted == 0


def test_a_resumed_instance_continues_from_its_final_states(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0))
    engine.feed_many([ev("p", 0, "authorize", 100), ev("p", 1, "capture", 50),
                      ev("p", 2, "refund", 50)])
    assert list(engine.finished) == ["p"]
    assert engine.feed_many([ev("p", 3, "capture", 50), ev("p", 4, "refund", 50)]) == []
    assert engine.counters.resumed == 1 and engine.counters.finished == 2
    assert engine.finished["p"].node.states == (("authorized", 100, 100, 100),)


def test_finished_instances_are_bounded_first_in_first_out(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, max_finished=3))
    for i in range(6):
        engine.feed_many([ev(f"p{i}", 2 * i, "authorize", 100), ev(f"p{i}", 2 * i + 1, "void")])
    assert list(engine.finished) == ["p3", "p4", "p5"]


def test_a_key_that_finishes_again_after_resuming_is_the_newest_finished_entry(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, max_finished=2))
    engine.feed_many([ev("p", 0, "authorize", 100), ev("p", 1, "capture", 50),
                      ev("p", 2, "refund", 50),  # p finishes
                      ev("q", 3, "authorize", 100), ev("q", 4, "void"),  # q finishes
                      ev("p", 5, "capture", 50), ev("p", 6, "refund", 50),  # p again
                      ev("r", 7, "authorize", 100), ev("r", 8, "void")])  # r: q is oldest
    assert list(engine.finished) == ["p", "r"]
    out = engine.feed(ev("p", 9, "capture", 50))  # still checked against p's final state
    assert kinds(out) == [("p", "unexpected", "capture")]
    assert out[0].message == "capture(50) not allowed: capture exceeds authorization"


class Lingering(Spec):
    """A spec whose terminal state still has a window open."""

    s: str = "a"

    @action
    def go(self):
        require(self.s == "a", "already gone")
        self.s = "b"

    @action
    def more(self):
        require(self.s == "b", "not at b")
        self.s = "b2"

    @action
    def close(self):
        self.s = "c"

    w = within(10, start=lambda s: s.s in ("b", "b2"), end=lambda s: s.s == "c")

    def terminal(self):
        return self.s == "b"


def test_a_step_from_a_finished_state_opens_the_windows_that_hold_after_it():
    engine = Engine(Lingering, EngineConfig(allowed_lateness=0, instance_ttl=1000))
    out = engine.feed_many([ev("k", 0, "go"), ev("k", 5, "more"), ev("z", 100, "close")])
    assert engine.counters.resumed == 1
    assert verdicts(out) == [("k", "deadline", "w", 15.0)]


# -- TTL and capacity --------------------------------------------------------------------


def test_idle_instances_expire_after_the_ttl_of_event_time(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, instance_ttl=15 * DAY))
    engine.feed_many([ev("p", 0, "authorize", 100), ev("p", 1, "capture", 50)])
    engine.feed_many([ev(f"k{i}", i * DAY, "authorize", 100) for i in range(1, 40)])
    assert "p" not in engine.instances and engine.counters.expired >= 1


def test_an_event_after_more_than_the_ttl_of_idleness_starts_a_fresh_instance(Payment):
    """Whether or not a periodic sweep has run yet: expiry must not depend on when the
    sweeps happen (arrival order, batching, advance), or replay and live would differ."""
    cfg = EngineConfig(allowed_lateness=0, instance_ttl=8 * DAY, late_join="strict")
    engine = Engine(Payment, cfg)
    engine.feed_many([ev("p", 0, "authorize", 100), ev("p", 1, "capture", 50)])
    for i in range(1, 35):  # traffic of other keys moves the watermark (and sweeps)
        engine.feed_many([ev(f"x{i}", i * DAY / 4, "authorize", 100),
                          ev(f"x{i}", i * DAY / 4, "void")])
    assert "p" in engine.instances  # idle 8.5 days, but no sweep since it passed the TTL
    out = engine.feed(ev("p", 8.9 * DAY, "capture", 50))
    assert verdicts(out) == [("p", "unexpected", "capture", 8.9 * DAY)]
    assert out[0].states_before == [{"status": "new", "authorized": 0, "captured": 0,
                                     "refunded": 0}]
    assert engine.counters.expired == 1


def test_an_event_within_the_ttl_continues_the_instance(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, instance_ttl=8 * DAY,
                                          late_join="strict"))
    out = engine.feed_many([ev("p", 0, "authorize", 100), ev("p", 1, "capture", 50),
                            ev("p", 8 * DAY + 1, "capture", 50)])  # idle exactly the TTL
    assert out == [] and engine.counters.expired == 0


def test_a_quarantined_instance_is_checked_again_once_it_has_expired(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, instance_ttl=8 * DAY,
                                          late_join="strict"))
    out = engine.feed_many([ev("p", 0, "capture", 50), ev("p", 1, "capture", 50),
                            ev("p", 10 * DAY, "capture", 50)])
    assert verdicts(out) == [("p", "unexpected", "capture", 0.0),
                             ("p", "unexpected", "capture", 10 * DAY)]
    assert engine.counters.quarantined == 1


def test_a_ttl_shorter_than_a_deadline_is_refused_at_start(Payment):
    with pytest.raises(ConfigError, match=r"^instance_ttl \(3600s\) is shorter than the longest "
                                          r"deadline of Payment \(604800s\) plus "
                                          r"allowed_lateness: deadlines would never fire\. Raise "
                                          r"instance_ttl or leave it unset\.$"):
        Engine(Payment, EngineConfig(instance_ttl=3600))


def test_the_default_ttl_outlives_twice_the_longest_deadline(Payment):
    assert Engine(Payment).ttl == 14 * DAY
    assert Engine(Lingering).ttl == DAY


def test_instances_are_capped_and_the_oldest_evicted_and_counted(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, max_instances=10))
    engine.feed_many([ev(f"p{i}", i, "authorize", 100) for i in range(25)])
    assert list(engine.instances) == [f"p{i}" for i in range(15, 25)]
    assert engine.counters.evicted_capacity == 15

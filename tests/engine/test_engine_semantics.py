"""Each point of docs/semantics.md, on small hand-written traces."""

from __future__ import annotations

import pytest

from monitor import ConfigError, SnapshotError, Spec, action, choose, require
from monitor.engine import Engine, EngineConfig, Event
from tests.engine.specs_for_tests import Job

DAY = 86400.0


def ev(key, t, action, *args, id=None):
    return Event(key, float(t), action, tuple(args), id)


def kinds(reports):
    return [(r.key, r.kind, r.property) for r in reports]


def test_a_step_no_state_allows_is_unexpected_with_the_failed_requires(Payment):
    e = Engine(Payment, EngineConfig(allowed_lateness=0))
    out = e.feed_many([ev("p", 0, "authorize", 100), ev("p", 1, "capture", 150)])
    (v,) = out
    assert (v.kind, v.property) == ("unexpected", "capture")
    assert v.message == "capture(150) not allowed: capture exceeds authorization"
    assert v.args == {"amount": 150}
    assert v.states_before == [{"status": "authorized", "authorized": 100, "captured": 0,
                                "refunded": 0}]


def test_successors_that_all_break_an_invariant_are_an_invariant_violation(Payment):
    e = Engine(Payment, EngineConfig(allowed_lateness=0))
    out = e.feed_many([ev("p", 0, "authorize", 100), ev("p", 1, "capture", 50),
                       ev("p", 2, "refund", 100)])
    assert kinds(out) == [("p", "invariant", "refunds_within_captures")]
    assert "breaks refunds_within_captures" in out[0].message


def test_a_deadline_fires_when_the_watermark_passes_it_with_the_deadline_as_time(Payment):
    e = Engine(Payment, EngineConfig(allowed_lateness=0))
    assert e.feed(ev("p", 0, "authorize", 100)) == []
    assert e.feed(ev("q", 7 * DAY, "authorize", 100)) == []  # exactly at the deadline
    (v,) = e.feed(ev("r", 7 * DAY + 1, "authorize", 250))
    assert (v.key, v.kind, v.property, v.time) == ("p", "deadline", "settles",
                                                                    7 * DAY)
    assert "not ended within 7d" in v.message


def test_an_end_exactly_at_the_deadline_is_in_time(Payment):
    e = Engine(Payment, EngineConfig(allowed_lateness=0))
    out = e.feed_many([ev("p", 0, "authorize", 100), ev("p", 7 * DAY, "capture", 100),
                       ev("z", 30 * DAY, "authorize", 100)])
    assert out == [] and e.flush() == []


def test_deadlines_fire_without_traffic_when_the_driver_advances_time(Payment):
    e = Engine(Payment, EngineConfig(allowed_lateness=5))
    e.feed(ev("p", 0, "authorize", 100))
    assert e.advance(7 * DAY) == []
    assert kinds(e.advance(7 * DAY + 10)) == [("p", "deadline", "settles")]


def test_quarantine_stops_alarms_for_the_instance_and_counts_its_events(Payment):
    e = Engine(Payment, EngineConfig(allowed_lateness=0, after_violation="quarantine"))
    out = e.feed_many([ev("p", 0, "authorize", 100), ev("p", 1, "authorize", 100),
                       ev("p", 2, "refund", 50), ev("p", 3, "void")])
    assert kinds(out) == [("p", "unexpected", "authorize")]
    assert e.counters.quarantined == 2


def test_restart_forgets_the_instance_so_the_next_event_joins_again(Payment):
    e = Engine(Payment, EngineConfig(allowed_lateness=0, after_violation="restart",
                                     late_join="strict"))
    out = e.feed_many([ev("p", 0, "authorize", 100), ev("p", 1, "authorize", 100),
                       ev("p", 2, "refund", 50), ev("p", 3, "authorize", 100)])
    assert kinds(out) == [("p", "unexpected", "authorize"), ("p", "unexpected", "refund")]


@pytest.mark.parametrize("policy,expected,counter", [
    ("strict", [("p", "unexpected", "capture")], None),
    ("adopt", [], "adopted"),
    ("ignore", [], "join_ignored"),
])
def test_late_join_policies_for_a_first_event_the_initial_state_does_not_allow(
        Payment, policy, expected, counter):
    e = Engine(Payment, EngineConfig(allowed_lateness=0, late_join=policy))
    out = e.feed_many([ev("p", 0, "capture", 50)])
    assert kinds(out) == expected
    if counter:
        assert getattr(e.counters, counter) == 1


def test_adopted_instances_are_still_checked_afterwards(Payment):
    e = Engine(Payment, EngineConfig(allowed_lateness=0, late_join="adopt"))
    out = e.feed_many([ev("p", 0, "capture", 50), ev("p", 1, "void")])
    assert kinds(out) == [("p", "unexpected", "void")]
    assert all(s["captured"] >= 50 for s in out[0].states_before)


def test_adopt_ignores_a_key_no_reachable_state_explains_rather_than_alarm(Payment):
    e = Engine(Payment, EngineConfig(allowed_lateness=0, late_join="adopt"))
    assert e.feed_many([ev("p", 0, "capture", 10_000), ev("p", 1, "void")]) == []
    assert e.counters.join_ignored == 1 and e.counters.ignored == 1


def test_late_events_are_counted_and_dropped_or_applied_by_policy(Payment):
    for policy, applied in (("drop", 1), ("apply", 2)):
        e = Engine(Payment, EngineConfig(allowed_lateness=10, late_events=policy))
        e.feed_many([ev("p", 100, "authorize", 100), ev("z", 200, "authorize", 100),
                     ev("q", 50, "authorize", 100)])
        e.flush()
        assert e.counters.late == 1
        assert e.counters.applied == applied + 0 * 1 + 1  # p and z, plus q when applied


def test_events_within_the_lateness_are_applied_in_event_time_order(Payment):
    e = Engine(Payment, EngineConfig(allowed_lateness=10))
    out = e.feed_many([ev("p", 5, "capture", 50), ev("p", 1, "authorize", 100)])
    out += e.flush()
    assert out == [] and e.counters.late == 0 and e.counters.adopted == 0


def test_duplicates_are_dropped_by_id_within_the_window(Payment):
    e = Engine(Payment, EngineConfig(allowed_lateness=0, dedup_window=60))
    e.feed_many([ev("p", 0, "authorize", 100, id="a"), ev("p", 1, "capture", 50, id="b"),
                 ev("p", 2, "capture", 50, id="b")])
    assert e.counters.duplicate == 1 and e.counters.applied == 2
    # after the window the id is forgotten: the same id is a new event again
    out = e.feed_many([ev("x", 500, "authorize", 100), ev("p", 501, "capture", 50, id="b")])
    assert e.counters.duplicate == 1 and out == []


def test_the_candidate_set_is_capped_and_the_overflow_counted():
    class Fan(Spec):
        n: int = 0

        @action
        def spread(self):
            self.n = choose(range(100))

        @action
        def noop(self):
            require(self.n >= 0, "never")

    e = Engine(Fan, EngineConfig(allowed_lateness=0, max_states=8))
    e.feed_many([ev("k", 0, "spread"), ev("k", 1, "noop")])
    assert e.counters.overflow == 1 and e.counters.overflow_states == 92
    assert len(e.instances["k"].node.states) == 8


def test_terminal_instances_are_evicted_but_later_events_are_still_checked(Payment):
    e = Engine(Payment, EngineConfig(allowed_lateness=0))
    out = e.feed_many([ev("p", 0, "authorize", 100), ev("p", 1, "void"),
                       ev("p", 2, "capture", 50)])
    assert e.counters.finished == 1 and e.counters.resumed == 1
    assert kinds(out) == [("p", "unexpected", "capture")]
    assert out[0].states_before[0]["status"] == "voided"
    assert [h.action for h in out[0].history] == ["authorize", "void"]


def test_finished_instances_are_bounded_first_in_first_out(Payment):
    e = Engine(Payment, EngineConfig(allowed_lateness=0, max_finished=3))
    for i in range(6):
        e.feed_many([ev(f"p{i}", 2 * i, "authorize", 100), ev(f"p{i}", 2 * i + 1, "void")])
    assert list(e.finished) == ["p3", "p4", "p5"]
    # a finished key that resumes and finishes again moves to the end, not out
    e.feed_many([ev("p3", 20, "capture", 1)])
    assert list(e.finished) == ["p4", "p5"] and "p3" in e.instances


def test_idle_instances_expire_after_the_ttl_of_event_time(Payment):
    e = Engine(Payment, EngineConfig(allowed_lateness=0, instance_ttl=15 * DAY))
    e.feed_many([ev("p", 0, "authorize", 100), ev("p", 1, "capture", 50)])
    e.feed_many([ev(f"k{i}", i * DAY, "authorize", 100) for i in range(1, 40)])
    assert "p" not in e.instances and e.counters.expired >= 1


def test_a_ttl_shorter_than_a_deadline_is_refused_at_start(Payment):
    with pytest.raises(ConfigError, match=r"instance_ttl \(3600s\) is shorter than the longest "
                                          r"deadline of Payment"):
        Engine(Payment, EngineConfig(instance_ttl=3600))


def test_the_history_ring_keeps_the_last_steps_with_their_states(Payment):
    e = Engine(Payment, EngineConfig(allowed_lateness=0, history=3))
    trace = [ev("p", 0, "authorize", 250)] + [ev("p", i, "capture", 50) for i in range(1, 6)]
    out = e.feed_many(trace + [ev("p", 9, "capture", 50)])
    (v,) = out
    assert [(h.action, h.time) for h in v.history] == [("capture", 3.0), ("capture", 4.0),
                                                       ("capture", 5.0)]
    assert [h.states[0]["captured"] for h in v.history] == [150, 200, 250]


def test_a_spec_that_raises_gives_a_spec_error_and_keeps_the_instance():
    class Bad(Spec):
        n: int = 0

        @action
        def div(self, by: int):
            self.n = 10 // by

    e = Engine(Bad, EngineConfig(allowed_lateness=0))
    out = e.feed_many([ev("k", 0, "div", 2), ev("k", 1, "div", 0), ev("k", 2, "div", 5)])
    assert [type(r).__name__ for r in out] == ["SpecErrorReport"]
    assert out[0].where == "Bad.div" and "ZeroDivisionError" in out[0].message
    assert e.counters.spec_errors == 1 and e.counters.violations == 0
    assert e.instances["k"].node.states == ((2,),)


def test_a_full_reorder_buffer_applies_the_oldest_early_and_counts_it(Payment):
    e = Engine(Payment, EngineConfig(allowed_lateness=1000, max_buffered=5))
    e.feed_many([ev(f"p{i}", i, "authorize", 100) for i in range(8)])
    assert e.counters.buffer_overflow == 3 and len(e.buffer) == 5


def test_instances_are_capped_and_evictions_counted(Payment):
    e = Engine(Payment, EngineConfig(allowed_lateness=0, max_instances=10))
    e.feed_many([ev(f"p{i}", i, "authorize", 100) for i in range(25)])
    assert len(e.instances) == 10 and e.counters.evicted_capacity == 15


def test_stale_deadline_timers_are_compacted(Payment):
    e = Engine(Payment, EngineConfig(allowed_lateness=0))
    for i in range(6000):
        e.feed_many([ev(f"p{i}", 2 * i, "authorize", 100), ev(f"p{i}", 2 * i + 1, "capture", 50)])
    assert len(e.timers) <= 4096 + 2 and e.counters.deadline_timers_compacted > 0


def test_a_snapshot_of_another_spec_is_refused_with_an_operator_action(Payment):
    snap = Engine(Job).snapshot()
    with pytest.raises(SnapshotError, match="checkpoint holds spec Job .* Operator action"):
        Engine(Payment).restore(snap)
    with pytest.raises(SnapshotError, match="corrupt"):
        Engine(Payment).restore(b"\x00garbage")


def test_snapshot_keeps_buffered_events_timers_ids_and_positions(Payment):
    e = Engine(Payment, EngineConfig(allowed_lateness=30))
    e.feed_many([ev("p", 0, "authorize", 100, id="a"), ev("p", 10, "capture", 50, id="b")])
    e.set_position("log.jsonl", 2)
    restored = Engine(Payment, EngineConfig(allowed_lateness=30))
    restored.restore(e.snapshot())
    assert len(restored.buffer) == 2 and restored.positions == {"log.jsonl": 2}
    assert restored.feed(ev("p", 11, "capture", 50, id="b")) == []
    assert restored.counters.duplicate == 1
    assert restored.flush() == [] and restored.counters.applied == 2


def test_steps_with_huge_arguments_restart_the_history_without_losing_states():
    class Notes(Spec):
        count: int = 0

        @action
        def note(self, text: str):
            self.count += 1

        @action
        def close(self):
            require(self.count < 3, "too many notes")

    e = Engine(Notes, EngineConfig(allowed_lateness=0))
    out = e.feed_many([ev("k", 0, "note", "a"), ev("k", 1, "note", "x" * 1000),
                       ev("k", 2, "note", "b"), ev("k", 3, "close")])
    (v,) = out
    assert [(h.action, h.args, h.states[0]["count"]) for h in v.history] == [
        ("note", {}, 2), ("note", {"text": "b"}, 3)]

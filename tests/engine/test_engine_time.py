"""Event time (docs/semantics.md, "Per event" 1, 2 and 4; "End of input"): duplicates,
the watermark, late events, the reorder buffer, deadlines, flush and advance."""

from __future__ import annotations

import pytest

from monitor import Spec, action, choose, require, within
from monitor.engine import Engine, EngineConfig
from tests.engine.helpers import DAY, ev, kinds, verdicts
from tests.engine.specs_for_tests import Ticket

# -- duplicates ------------------------------------------------------------------------


def test_an_event_id_seen_within_the_dedup_window_is_dropped_as_a_duplicate(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, dedup_window=60))
    out = engine.feed_many([ev("p", 0, "authorize", 100, id="a"),
                            ev("p", 1, "capture", 50, id="b"),
                            ev("p", 2, "capture", 50, id="b"),
                            ev("p", 61, "capture", 50, id="b")])  # 60 s after its first: still
    assert out == []
    assert engine.counters.duplicate == 2 and engine.counters.applied == 2
    assert engine.instances["p"].node.states == (("authorized", 100, 50, 0),)


def test_an_id_older_than_the_dedup_window_is_a_new_event_again(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, dedup_window=60))
    engine.feed_many([ev("p", 0, "authorize", 100), ev("p", 1, "capture", 50, id="b")])
    (v,) = engine.feed_many([ev("x", 500, "authorize", 100),
                             ev("p", 501, "capture", 100, id="b")])
    assert engine.counters.duplicate == 0
    assert (v.kind, v.message) == ("unexpected", "capture(100) not allowed: capture exceeds "
                                                 "authorization")


def test_events_without_an_id_are_never_duplicates(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, late_join="strict"))
    out = engine.feed_many([ev("p", 0, "authorize", 100), ev("p", 0, "authorize", 100)])
    assert kinds(out) == [("p", "unexpected", "authorize")]
    assert engine.counters.duplicate == 0


def test_a_late_duplicate_counts_as_a_duplicate_not_as_late(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0))
    engine.feed_many([ev("p", 0, "authorize", 100, id="a"), ev("x", 100, "authorize", 100)])
    assert engine.feed(ev("p", 0, "authorize", 100, id="a")) == []
    assert (engine.counters.duplicate, engine.counters.late) == (1, 0)


def test_beyond_max_dedup_ids_the_oldest_ids_are_forgotten_first(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, max_dedup_ids=2))
    engine.feed_many([ev("a", 0, "authorize", 100, id="A"), ev("b", 1, "authorize", 100, id="B"),
                      ev("c", 2, "authorize", 100, id="C")])
    out = engine.feed_many([ev("c", 2, "authorize", 100, id="C"),  # remembered
                            ev("b", 2, "authorize", 100, id="B"),  # remembered
                            ev("a", 2, "authorize", 100, id="A")])  # forgotten: applied again
    assert engine.counters.duplicate == 2
    assert kinds(out) == [("a", "unexpected", "authorize")]


def test_an_id_seen_again_after_its_window_counts_once_towards_max_dedup_ids():
    engine = Engine(Ticket, EngineConfig(allowed_lateness=0, dedup_window=5, max_dedup_ids=2))
    out = engine.feed_many([ev("a", 0, "open", id="A"),
                            ev("a", 5.5, "ack", id="A"),  # past A's window: a new event
                            ev("b", 5.5, "open", id="B"),  # two ids held: A and B
                            ev("a", 5.5, "ack", id="A")])  # a re-delivery of the ack
    assert out == [] and engine.counters.duplicate == 1


def test_remembered_ids_survive_a_snapshot_exactly():
    cfg = EngineConfig(allowed_lateness=0, dedup_window=5, max_dedup_ids=2)
    events = [ev("a", 0, "open", id="A"), ev("a", 5.5, "ack", id="A"),
              ev("b", 5.5, "open", id="B"), ev("a", 5.5, "ack", id="A")]
    whole = Engine(Ticket, cfg)
    whole_reports = whole.feed_many(events)
    for cut in range(len(events) + 1):
        first = Engine(Ticket, cfg)
        reports = first.feed_many(events[:cut])
        second = Engine(Ticket, cfg)
        second.restore(first.snapshot())
        reports += second.feed_many(events[cut:])
        assert reports == whole_reports, cut
        assert second.counters.as_dict() == whole.counters.as_dict(), cut


# -- the watermark and late events -------------------------------------------------------


def test_the_watermark_is_the_max_event_time_minus_the_allowed_lateness(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=10))
    engine.feed_many([ev("p", 100, "authorize", 100), ev("q", 90, "authorize", 100)])
    assert engine.watermark == 90.0
    engine.feed(ev("r", 95, "authorize", 100))
    assert engine.watermark == 90.0 and engine.counters.late == 0


def test_events_are_held_until_the_watermark_passes_them(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=10))
    engine.feed(ev("p", 0, "authorize", 100))
    assert engine.counters.applied == 0 and len(engine.buffer) == 1
    engine.feed(ev("q", 9, "authorize", 100))
    assert engine.counters.applied == 0
    engine.feed(ev("r", 10, "authorize", 100))  # watermark 0: the event at 0 is released
    assert engine.counters.applied == 1 and list(engine.instances) == ["p"]


def test_buffered_events_are_applied_in_event_time_order(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=10, late_join="strict"))
    out = engine.feed_many([ev("p", 5, "capture", 50), ev("p", 1, "authorize", 100)])
    out += engine.flush()
    assert out == [] and engine.counters.late == 0
    assert engine.instances["p"].node.states == (("authorized", 100, 50, 0),)


def test_events_with_equal_times_keep_their_arrival_order(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=10, late_join="strict"))
    out = engine.feed_many([ev("p", 5, "capture", 50), ev("p", 5, "authorize", 100)])
    out += engine.flush()
    assert kinds(out) == [("p", "unexpected", "capture")]


@pytest.mark.parametrize("policy,reports", [
    ("drop", []),
    # applied out of order, after the capture at 180: an alarm a reorder would not raise
    ("apply", [("p", "unexpected", "void")]),
])
def test_an_event_older_than_the_watermark_is_counted_late_then_dropped_or_applied(
        Payment, policy, reports):
    engine = Engine(Payment, EngineConfig(allowed_lateness=10, late_events=policy))
    engine.feed_many([ev("p", 100, "authorize", 100), ev("p", 180, "capture", 50),
                      ev("x", 200, "authorize", 100)])
    out = engine.feed(ev("p", 150, "void"))  # the watermark is 190: late
    out += engine.flush()
    assert kinds(out) == reports
    assert engine.counters.late == 1
    assert engine.counters.late_applied == (1 if policy == "apply" else 0)
    assert engine.counters.applied == 3


def test_an_event_exactly_at_the_watermark_is_not_late(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=10))
    engine.feed_many([ev("p", 100, "authorize", 100), ev("q", 90, "authorize", 100)])
    assert engine.counters.late == 0


def test_a_full_reorder_buffer_applies_the_oldest_early_and_counts_it(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=1000, max_buffered=5))
    engine.feed_many([ev(f"p{i}", 10 * i, "authorize", 100) for i in range(8)])
    assert engine.counters.buffer_overflow == 3 and len(engine.buffer) == 5
    assert sorted(engine.instances) == ["p0", "p1", "p2"]
    # the early release moved the watermark to the last event released early
    engine.feed(ev("q", 15, "authorize", 100))
    assert engine.counters.late == 1 and engine.watermark == 20.0


# -- deadlines ---------------------------------------------------------------------------


def test_a_deadline_fires_when_the_watermark_passes_it_with_the_deadline_as_time(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0))
    assert engine.feed(ev("p", 0, "authorize", 100)) == []
    assert engine.feed(ev("q", 7 * DAY, "authorize", 100)) == []  # at the deadline: not yet
    (v,) = engine.feed(ev("r", 7 * DAY + 1, "authorize", 250))
    assert (v.key, v.kind, v.property, v.time) == ("p", "deadline", "settles", 7 * DAY)
    assert v.message == ("settles: opened at 1970-01-01T00:00:00Z and not ended within 7d "
                         "(deadline 1970-01-08T00:00:00Z)")
    assert (v.action, v.args) == (None, None)
    assert v.states_before == [{"status": "authorized", "authorized": 100, "captured": 0,
                                "refunded": 0}]
    assert engine.counters.by_violation[("deadline", "settles")] == 1


def test_an_end_exactly_at_the_deadline_is_in_time(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0))
    out = engine.feed_many([ev("p", 0, "authorize", 100), ev("p", 7 * DAY, "capture", 100),
                            ev("z", 30 * DAY, "authorize", 100)])
    assert out == [] and engine.flush() == []


def test_a_deadline_before_an_event_fires_before_that_event_is_applied(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, after_violation="restart",
                                          late_join="strict"))
    out = engine.feed_many([ev("p", 0, "authorize", 100), ev("p", 7 * DAY + 1, "capture", 50)])
    # the window was still open at 7d: the capture comes too late, to a restarted instance
    assert verdicts(out) == [("p", "deadline", "settles", 7 * DAY),
                             ("p", "unexpected", "capture", 7 * DAY + 1)]


def test_a_deadline_fires_on_the_watermark_without_an_event_of_its_key(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=5))
    engine.feed(ev("p", 0, "authorize", 100))
    assert engine.feed(ev("q", 7 * DAY + 5, "authorize", 100)) == []  # watermark = 7d
    assert kinds(engine.feed(ev("q", 7 * DAY + 6, "capture", 50))) == [("p", "deadline",
                                                                         "settles")]


class Door(Spec):
    pos: str = "shut"

    @action
    def push(self):
        self.pos = choose(["open", "shut"])

    @action(is_open=[True, False])
    def look(self, is_open: bool):
        require((self.pos == "open") == is_open, "it is the other way")

    @action
    def close(self):
        self.pos = "shut"

    closes = within(10, start=lambda s: s.pos == "open", end=lambda s: s.pos == "shut")


def test_a_window_opens_only_when_it_is_open_in_every_candidate_state():
    engine = Engine(Door, EngineConfig(allowed_lateness=0))
    out = engine.feed_many([ev("d", 0, "push"), ev("z", 100, "push")])
    assert out == []  # {open, shut}: ambiguous, so no alarm
    out = engine.feed_many([ev("d", 101, "look", True), ev("z", 200, "close")])
    assert verdicts(out) == [("d", "deadline", "closes", 111.0)]


def test_a_window_closes_when_any_candidate_ends_it():
    engine = Engine(Door, EngineConfig(allowed_lateness=0))
    engine.feed_many([ev("d", 0, "push"), ev("d", 1, "look", True)])
    assert engine.instances["d"].win == 11.0
    engine.feed(ev("d", 5, "push"))  # open or shut again: no longer open in every state
    assert engine.instances["d"].win is None
    assert engine.feed(ev("z", 100, "close")) == []


def test_each_within_has_its_own_window_and_a_reopened_window_starts_a_new_clock():
    engine = Engine(Ticket, EngineConfig(allowed_lateness=0))
    out = engine.feed_many([ev("a", 0, "open"), ev("a", 30, "ack"),
                            ev("b", 0, "open"), ev("b", 10, "resolve"), ev("b", 100, "reopen"),
                            ev("z", 1000, "open")])
    assert verdicts(out) == [("b", "deadline", "acknowledged", 160.0),
                             ("a", "deadline", "resolved_in_time", 200.0)]
    assert out[0].message == ("acknowledged: opened at 1970-01-01T00:01:40Z and not ended "
                              "within 1m (deadline 1970-01-01T00:02:40Z)")


def test_after_a_deadline_violation_the_instance_raises_no_further_deadline():
    engine = Engine(Ticket, EngineConfig(allowed_lateness=0))
    out = engine.feed_many([ev("t", 0, "open"), ev("z", 1000, "open"), ev("y", 5000, "open")])
    assert kinds(out) == [("t", "deadline", "acknowledged"), ("z", "deadline", "acknowledged")]


# -- end of input and idle time ----------------------------------------------------------


def test_flush_applies_everything_buffered_and_fires_deadlines_before_the_last_event(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=3600))
    engine.feed_many([ev("p", 0, "authorize", 100), ev("q", 1 * DAY, "authorize", 100),
                      ev("z", 7 * DAY + 1, "authorize", 250)])
    assert engine.counters.applied == 2
    out = engine.flush()
    assert verdicts(out) == [("p", "deadline", "settles", 7 * DAY)]
    assert engine.counters.applied == 3 and len(engine.buffer) == 0
    # windows still open at the end are not violations: they may yet close
    assert {k: i.win for k, i in engine.instances.items() if i.win} == {
        "q": 8 * DAY, "z": 14 * DAY + 1}


def test_after_flush_events_older_than_the_last_event_time_are_late(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=3600))
    engine.feed_many([ev("p", 0, "authorize", 100), ev("q", 100, "authorize", 100)])
    engine.flush()
    engine.feed_many([ev("r", 99, "authorize", 100), ev("s", 100, "authorize", 100)])
    assert engine.counters.late == 1 and "s" in engine.instances and "r" not in engine.instances


def test_advance_moves_the_watermark_without_traffic_so_deadlines_fire(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=5))
    engine.feed(ev("p", 0, "authorize", 100))
    assert engine.advance(7 * DAY) == [] and engine.counters.applied == 1
    assert engine.watermark == 7 * DAY - 5
    assert engine.advance(7 * DAY - 100) == [] and engine.watermark == 7 * DAY - 5
    assert verdicts(engine.advance(7 * DAY + 10)) == [("p", "deadline", "settles", 7 * DAY)]

"""Transition coverage: ``Engine.transition_counts()`` counts the events taking each
(state, action, args, state) step between one-state candidate sets; other allowed steps
are counted as ambiguous or, past the table's cap, as overflow."""

from __future__ import annotations

import pytest

from monitor import ConfigError
from monitor.engine import Engine, EngineConfig
from tests.engine.helpers import ev
from tests.engine.specs_for_tests import Job

NEW = ("new", 0, 0, 0)
AUTH100 = ("authorized", 100, 0, 0)


def test_steps_between_single_states_are_counted_per_state_action_args_and_successor(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0))
    engine.feed_many([ev("p", 0, "authorize", 100), ev("q", 1, "authorize", 100),
                      ev("r", 2, "authorize", 250), ev("p", 3, "capture", 50),
                      ev("q", 4, "capture", 50), ev("q", 5, "capture", 50)])
    assert engine.transition_counts() == {
        (NEW, "authorize", (100,), AUTH100): 2,
        (NEW, "authorize", (250,), ("authorized", 250, 0, 0)): 1,
        (AUTH100, "capture", (50,), ("authorized", 100, 50, 0)): 2,
        (("authorized", 100, 50, 0), "capture", (50,), ("authorized", 100, 100, 0)): 1,
    }
    c = engine.counters
    assert (c.transitions_ambiguous, c.transitions_overflow) == (0, 0)


def test_violations_duplicates_and_quarantined_events_are_not_transitions(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0))
    engine.feed_many([ev("p", 0, "authorize", 100, id="a"), ev("p", 1, "authorize", 100, id="a"),
                      ev("p", 2, "capture", 500), ev("p", 3, "capture", 50)])
    assert engine.counters.violations == 1 and engine.counters.quarantined == 1
    assert engine.transition_counts() == {(NEW, "authorize", (100,), AUTH100): 1}


def test_writing_a_report_replays_history_without_counting_it_again(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, history=1))
    engine.feed_many([ev("p", 0, "authorize", 100), ev("p", 1, "capture", 50),
                      ev("p", 2, "capture", 10)])  # the ring of one folds the older steps
    (v,) = engine.feed(ev("p", 3, "refund", 500))
    assert v.kind == "invariant" and len(v.history) == 1
    assert sum(engine.transition_counts().values()) == 3 == engine.counters.applied


def test_steps_from_or_to_several_candidate_states_are_counted_as_ambiguous():
    # finish() chooses done or failed: two candidate states after it
    engine = Engine(Job, EngineConfig(allowed_lateness=0, hidden_steps=1))
    engine.feed_many([ev("j", 0, "submit"), ev("j", 1, "finish"), ev("j", 2, "report", False)])
    idle, queued = ("idle", 0), ("queued", 0)
    assert engine.transition_counts() == {(idle, "submit", (), queued): 1}
    assert engine.counters.transitions_ambiguous == 2  # {queued} -> {done, failed} -> {failed}
    assert engine.counters.applied == 3


def test_the_coverage_table_is_capped_and_counts_steps_past_the_cap_as_overflow(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, max_transitions=2))
    engine.feed_many([ev(f"p{i}", i, "authorize", a)
                      for i, a in enumerate((100, 200, 300, 300, 100))])
    assert engine.transition_counts() == {
        (NEW, "authorize", (100,), AUTH100): 2,
        (NEW, "authorize", (200,), ("authorized", 200, 0, 0)): 1,
    }
    assert engine.counters.transitions_overflow == 2


def test_transition_counts_survive_a_snapshot_and_continue(Payment):
    cfg = EngineConfig(allowed_lateness=0)
    events = [ev("p", 0, "authorize", 100), ev("q", 1, "authorize", 100),
              ev("p", 2, "capture", 50), ev("q", 3, "capture", 50)]
    whole = Engine(Payment, cfg)
    whole.feed_many(events)
    first = Engine(Payment, cfg)
    first.feed_many(events[:3])
    second = Engine(Payment, cfg)
    second.restore(first.snapshot())
    assert second.transition_counts() == first.transition_counts()
    second.feed_many(events[3:])
    assert second.transition_counts() == whole.transition_counts()
    assert second.transition_counts()[(AUTH100, "capture", (50,), ("authorized", 100, 50, 0))] == 2


def test_a_negative_cap_on_transitions_is_refused():
    with pytest.raises(ConfigError, match=r"engine.max_transitions must be >= 0, got -1"):
        EngineConfig(max_transitions=-1)

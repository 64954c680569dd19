"""One step of a candidate-state set (docs/semantics.md, "Per event" 3): successors
through hidden steps and choose, invariants, unexpected steps, spec errors, the cap."""

from __future__ import annotations

import pytest

from monitor import Spec, action, choose, invariant, require, within
from monitor.engine import Engine, EngineConfig, SpecErrorReport, Violation
from tests.engine.helpers import ev, kinds
from tests.engine.specs_for_tests import Job

STRICT = EngineConfig(allowed_lateness=0, late_join="strict")


def states(engine: Engine, key: str) -> list[tuple]:
    return sorted(engine.instances[key].node.states)


class Coin(Spec):
    side: str = "none"

    @action
    def flip(self):
        self.side = choose(["heads", "tails"])

    @action(heads=[True, False])
    def look(self, heads: bool):
        require((self.side == "heads") == heads, "saw the other side")

    @action(x=[1, 7])
    def spend(self, x: int):
        require(self.side == "heads", "needs heads")
        require(x < 5, "too much")

    @action
    def vanish(self):
        choose([])


class Capped(Spec):
    n: int = 0

    @action
    def jump(self):
        self.n = choose([1, 2, 10])

    @action
    def leap(self):
        self.n = 10

    @invariant
    def small(self):
        return self.n < 5

    @invariant
    def smaller(self):
        return self.n < 3


# -- successors --------------------------------------------------------------------------


def test_an_allowed_step_replaces_the_candidate_set_by_its_successors(Payment):
    engine = Engine(Payment, STRICT)
    assert engine.feed_many([ev("p", 0, "authorize", 100), ev("p", 1, "capture", 50)]) == []
    assert states(engine, "p") == [("authorized", 100, 50, 0)]
    assert engine.counters.applied == 2 and engine.counters.violations == 0


def test_choose_keeps_every_option_as_a_candidate_until_an_event_tells_them_apart():
    engine = Engine(Coin, STRICT)
    engine.feed(ev("c", 0, "flip"))
    assert states(engine, "c") == [("heads",), ("tails",)]
    engine.feed(ev("c", 1, "look", False))
    assert states(engine, "c") == [("tails",)]


def test_successors_that_break_an_invariant_are_dropped_while_others_remain():
    engine = Engine(Capped, STRICT)
    assert engine.feed(ev("k", 0, "jump")) == []
    assert states(engine, "k") == [(1,), (2,)]


def test_hidden_steps_are_inserted_before_an_observed_one_up_to_the_bound():
    for hidden, expected in ((0, [("j", "unexpected", "finish")]), (1, []), (2, [])):
        engine = Engine(Job, EngineConfig(allowed_lateness=0, late_join="strict",
                                          hidden_steps=hidden))
        out = engine.feed_many([ev("j", 0, "submit"), ev("j", 1, "finish")])
        assert kinds(out) == expected, hidden
        if not expected:
            assert states(engine, "j") == [("done", 0), ("failed", 0)]


class Ladder(Spec):
    n: int = 0

    @action(hidden=True)
    def up(self):
        self.n += 1

    @action(at=[0, 1, 2, 3, 4])
    def check(self, at: int):
        require(self.n == at, f"n is {self.n}")

    @invariant
    def never_three(self):
        return self.n != 3


@pytest.mark.parametrize("hidden,at,allowed", [
    (0, 0, True), (0, 1, False), (1, 1, True), (1, 2, False), (2, 2, True),
    (3, 4, False),  # 0 -> 1 -> 2 -> 3 breaks never_three: a path through it explains nothing
])
def test_hidden_paths_are_bounded_and_may_not_pass_through_invariant_breaking_states(
        hidden, at, allowed):
    engine = Engine(Ladder, EngineConfig(allowed_lateness=0, late_join="strict",
                                         hidden_steps=hidden))
    out = engine.feed(ev("k", 0, "check", at))
    assert (out == []) is allowed
    if allowed:
        assert states(engine, "k") == [(at,)]
    else:
        assert out[0].kind == "unexpected"


def test_an_observed_event_naming_a_hidden_or_unknown_action_is_counted_not_applied():
    engine = Engine(Job, STRICT)
    engine.feed(ev("j", 0, "submit"))
    assert engine.feed_many([ev("j", 1, "start"), ev("j", 2, "explode"),
                             ev("new", 3, "start")]) == []
    assert engine.counters.unknown_action == 3 and engine.counters.applied == 1
    assert states(engine, "j") == [("queued", 0)] and "new" not in engine.instances


# -- verdicts ----------------------------------------------------------------------------


def test_a_step_no_candidate_allows_is_unexpected_with_the_failed_require(Payment):
    engine = Engine(Payment, STRICT)
    (v,) = engine.feed_many([ev("p", 0, "authorize", 100), ev("p", 1, "capture", 150)])
    assert isinstance(v, Violation)
    assert (v.key, v.kind, v.property, v.time) == ("p", "unexpected", "capture", 1.0)
    assert v.message == "capture(150) not allowed: capture exceeds authorization"
    assert (v.action, v.args) == ("capture", {"amount": 150})
    assert engine.counters.violations == 1
    assert engine.counters.by_violation[("unexpected", "capture")] == 1


def test_the_unexpected_message_lists_the_reasons_of_every_candidate_once():
    engine = Engine(Coin, STRICT)
    (v,) = engine.feed_many([ev("c", 0, "flip"), ev("c", 1, "spend", 7)])
    assert v.message == "spend(7) not allowed: too much; needs heads"


def test_an_action_that_no_branch_completes_is_unexpected_without_a_reason():
    engine = Engine(Coin, STRICT)
    (v,) = engine.feed(ev("c", 0, "vanish"))
    assert (v.kind, v.property, v.message) == ("unexpected", "vanish",
                                               "vanish() not allowed: action not enabled")


def test_successors_that_all_break_an_invariant_are_an_invariant_violation(Payment):
    engine = Engine(Payment, STRICT)
    out = engine.feed_many([ev("p", 0, "authorize", 100), ev("p", 1, "capture", 50),
                            ev("p", 2, "refund", 100)])
    assert kinds(out) == [("p", "invariant", "refunds_within_captures")]
    assert out[0].message == "every successor of refund(100) breaks refunds_within_captures"
    assert out[0].states_before == [{"status": "authorized", "authorized": 100, "captured": 50,
                                     "refunded": 0}]


def test_the_invariant_violation_names_the_first_invariant_broken_and_lists_all():
    engine = Engine(Capped, STRICT)
    (v,) = engine.feed(ev("k", 0, "leap"))
    assert (v.kind, v.property) == ("invariant", "small")
    assert v.message == "every successor of leap() breaks small, smaller"


# -- bugs in the spec are spec errors, never violations ----------------------------------


class Buggy(Spec):
    n: int = 0

    @action(by=[1, 2])
    def div(self, by: int):
        self.n = 10 // by

    @action(code=[-1, -2, -3])
    def poison(self, code: int):
        self.n = code  # -1: the invariant raises, -2: terminal, -3: the window

    @invariant
    def fine(self):
        return {}[self.n] if self.n == -1 else True

    w = within(10, start=lambda s: 1 // (s.n + 3) >= 0, end=lambda s: False)

    def terminal(self):
        return self.n == -2 and 1 / 0


def test_an_action_that_raises_is_a_spec_error_and_the_instance_keeps_its_states():
    engine = Engine(Buggy, STRICT)
    out = engine.feed_many([ev("k", 0, "div", 2), ev("k", 1, "div", 0), ev("k", 2, "div", 1)])
    (report,) = out
    assert isinstance(report, SpecErrorReport)
    assert (report.key, report.where, report.time, report.action, report.args) == (
        "k", "Buggy.div", 1.0, "div", {"by": 0})
    assert report.message == ("Buggy.div(0,) raised ZeroDivisionError: integer division or "
                              "modulo by zero")
    assert engine.counters.spec_errors == 1 and engine.counters.violations == 0
    assert states(engine, "k") == [(10,)]


@pytest.mark.parametrize("code,where,message", [
    (-1, "Buggy.fine", "Buggy.fine raised KeyError: -1"),
    (-2, "Buggy.terminal", "Buggy.terminal raised ZeroDivisionError: division by zero"),
    (-3, "Buggy.w", "Buggy.w raised ZeroDivisionError: integer division or modulo by zero"),
])
def test_an_invariant_terminal_or_window_that_raises_is_a_spec_error_naming_it(
        code, where, message):
    engine = Engine(Buggy, STRICT)
    engine.feed(ev("k", 0, "div", 1))
    (report,) = engine.feed(ev("k", 1, "poison", code))
    assert isinstance(report, SpecErrorReport)
    assert (report.where, report.message) == (where, message)
    assert states(engine, "k") == [(10,)] and engine.counters.violations == 0


class Leaky(Spec):
    n: int = 0

    @action(to=[5, 6])
    def set(self, to: int):
        self.n = to

    @action(hidden=True)
    def leak(self):
        require(self.n == 5, "only from five")
        raise KeyError("lost")

    @action
    def six(self):
        require(self.n == 6, "needs six")


def test_a_hidden_action_that_raises_is_a_spec_error_not_a_false_alarm():
    engine = Engine(Leaky, EngineConfig(allowed_lateness=0, late_join="strict", hidden_steps=1))
    assert engine.feed_many([ev("k", 0, "set", 6), ev("k", 1, "six")]) == []
    engine.feed(ev("k", 2, "set", 5))  # from n = 5 the hidden leak runs, and raises
    (report,) = engine.feed(ev("k", 3, "six"))
    assert isinstance(report, SpecErrorReport)
    assert report.where == "Leaky.leak"
    assert report.message == "Leaky.leak() raised KeyError: 'lost'"
    assert engine.counters.violations == 0 and states(engine, "k") == [(5,)]


def test_a_spec_error_on_the_first_event_creates_no_instance():
    engine = Engine(Buggy, STRICT)
    (report,) = engine.feed(ev("k", 0, "div", 0))
    assert isinstance(report, SpecErrorReport) and "k" not in engine.instances
    assert engine.feed(ev("k", 1, "div", 1)) == [] and states(engine, "k") == [(10,)]


# -- the cap -----------------------------------------------------------------------------


class Fan(Spec):
    n: int = 0

    @action
    def spread(self):
        self.n = choose(range(100))

    @action
    def noop(self):
        pass


def test_the_candidate_set_is_cut_to_max_states_and_every_cut_is_counted():
    engine = Engine(Fan, EngineConfig(allowed_lateness=0, max_states=8))
    assert engine.feed_many([ev("k", 0, "spread"), ev("j", 0, "spread")]) == []
    assert engine.counters.overflow == 2 and engine.counters.overflow_states == 184
    assert states(engine, "k") == [(n,) for n in range(8)]  # the first successors found
    engine.feed(ev("k", 1, "noop"))  # 8 states, 8 successors: nothing cut
    assert engine.counters.overflow == 2 and engine.counters.applied == 3

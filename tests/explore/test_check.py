"""``monitor.explore``: findings, their shortest counterexamples, bounds, random walks."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

import monitor
from monitor import ConfigError, Spec, action, explore, invariant, require, within
from monitor.explore import CheckResult
from monitor.specdir import load_spec_class
from tests.engine.specs_for_tests import Job, Ticket

PAYMENT = load_spec_class(Path(__file__).parents[2] / "specs" / "payment" / "spec.py")


def trail(finding):
    return [(s.action, tuple(s.args.values())) for s in finding.steps]


def test_payment_explores_completely_and_finds_only_the_over_refund():
    result = explore(PAYMENT)
    assert result.complete and result.result == "violations"
    assert (result.states, result.edges) == (37, 63)
    [f] = result.findings
    assert (f.kind, f.property) == ("invariant", "refunds_within_captures")
    assert trail(f) == [("authorize", (100,)), ("capture", (50,)), ("refund", (100,))]
    assert f.steps[-1].state == {"status": "authorized", "authorized": 100, "captured": 50,
                                 "refunded": 100}
    assert f.shortest and result.spec_errors == []


def test_the_public_explore_is_the_checker_and_the_subpackage_still_imports():
    from monitor.explore import explore_graph

    assert monitor.explore is explore and callable(explore_graph)


def test_a_spec_without_findings_is_ok_and_complete():
    result = explore(Ticket)
    assert (result.result, result.complete, result.findings) == ("ok", True, [])
    assert result.ok and result.counterexample is None


class Stuck(Spec):
    """Reaches a dead end that is not terminal after two steps."""

    n: int = 0

    @action
    def inc(self):
        require(self.n < 2, "at most 2")
        self.n += 1

    @action
    def finish(self):
        require(self.n == 1, "only from 1")
        self.n = 10

    def terminal(self):
        return self.n == 10


def test_a_dead_end_that_is_not_terminal_is_a_deadlock_with_the_guards_that_block_it():
    [f] = explore(Stuck).findings
    assert (f.kind, trail(f)) == ("deadlock", [("inc", ()), ("inc", ())])
    assert "inc: at most 2" in f.message and "finish: only from 1" in f.message


def test_deadlocks_are_not_checked_when_told_so_or_when_the_spec_has_no_terminal():
    assert explore(Stuck, deadlocks=False).result == "ok"

    class Stops(Spec):
        n: int = 0

        @action
        def once(self):
            require(self.n == 0, "once")
            self.n = 1

    assert explore(Stops).result == "ok" and not explore(Stops).deadlocks_checked
    [f] = explore(Stops, deadlocks=True).findings
    assert (f.kind, len(f.steps)) == ("deadlock", 1)


class Waits(Spec):
    """Once opened, the window can close only through `close`, which needs a token that
    `lose` can destroy for good; `leak` closes it, but only by breaking an invariant."""

    opened: bool = False
    closed: bool = False
    token: bool = True
    leaked: bool = False

    @action
    def open(self):
        require(not self.opened, "already open")
        self.opened = True

    @action
    def lose(self):
        require(self.token and not self.closed, "nothing to lose")
        self.token = False

    @action(hidden=True)
    def close(self):
        require(self.opened and self.token and not self.closed, "cannot close")
        self.closed = True

    @action
    def leak(self):
        require(self.opened and not self.token and not self.leaked, "no leak")
        self.leaked = True

    @invariant
    def no_leak(self):
        return not self.leaked

    answered = within("1h", start=lambda s: s.opened, end=lambda s: s.closed or s.leaked)


def test_a_window_that_no_continuation_closes_is_a_deadline_breach():
    by_kind = {f.kind: f for f in explore(Waits).findings}
    f = by_kind["deadline"]
    assert f.property == "answered"
    assert trail(f) == [("open", ()), ("lose", ())]
    assert "opened at step 1" in f.message and "can never be met" in f.message
    assert trail(by_kind["invariant"]) == [("open", ()), ("lose", ()), ("leak", ())]


def test_a_window_that_some_continuation_closes_is_no_breach():
    class Closes(Spec):
        opened: bool = False
        closed: bool = False

        @action
        def open(self):
            self.opened = True

        @action(hidden=True)
        def close(self):
            require(self.opened, "not open")
            self.closed = True

        answered = within(60, start=lambda s: s.opened, end=lambda s: s.closed)

    assert explore(Closes).result == "ok"


def test_a_terminal_state_with_an_open_window_is_a_deadline_breach():
    class Ends(Spec):
        phase: str = "new"

        @action(to=["open", "done"])
        def go(self, to: str):
            require(self.phase != "done", "finished")
            self.phase = to

        answered = within(60, start=lambda s: s.phase in ("open", "done"),
                          end=lambda s: False)

        def terminal(self):
            return self.phase == "done"

    [f] = explore(Ends).findings
    assert (f.kind, trail(f)) == ("deadline", [("go", ("open",))])
    assert "no sequence of actions" in f.message
    single = explore(Ends, max_depth=1)
    assert single.findings[0].steps[0].args == {"to": "open"}


def test_choose_forks_and_hidden_steps_appear_in_counterexamples():
    [f] = explore(Job).findings
    assert f.kind == "invariant" and len(f.steps) == 10
    assert [s.hidden for s in f.steps[:3]] == [False, True, False]
    assert f.steps[2].state["phase"] == "failed"  # the failing branch of finish's choose


class Buggy(Spec):
    n: int = 0

    @action(k=[0, 1])
    def div(self, k: int):
        require(self.n == 0, "once")
        self.n = 1 // k


def test_a_spec_bug_is_reported_apart_from_violations():
    result = explore(Buggy)
    assert result.result == "spec_errors" and result.findings == []
    [bug] = result.spec_errors
    assert "ZeroDivisionError" in bug.message and bug.steps == []
    assert not result.ok


class Unbounded(Spec):
    n: int = 0

    @action
    def inc(self):
        self.n += 1

    @invariant
    def below(self):
        return self.n < 50


def test_a_bounded_search_says_it_was_bounded_and_never_claims_ok():
    result = explore(Unbounded, max_states=10)
    assert (result.result, result.complete, result.states) == ("bounded", False, 10)
    assert explore(Unbounded, max_depth=5).result == "bounded"
    [f] = explore(Unbounded).findings
    assert len(f.steps) == 50


def test_random_walks_find_a_counterexample_and_say_it_may_not_be_shortest():
    result = explore(Unbounded, random=3, max_depth=80, seed=7)
    [f] = result.findings
    assert (f.kind, f.shortest, len(f.steps)) == ("invariant", False, 50)
    assert result.mode == "random" and not result.complete and result.walks == 1


def test_random_walks_are_reproducible_from_the_seed():
    a = explore(PAYMENT, random=20, seed=3)
    b = explore(PAYMENT, random=20, seed=3)
    assert a == b and a.findings[0].kind == "invariant"


def test_random_walks_that_find_nothing_are_bounded():
    result = explore(Ticket, random=30, seed=1)
    assert result.result == "bounded" and result.walks == 30 and result.states == 9


def test_random_walk_counterexamples_have_no_loops():
    class Loops(Spec):
        n: int = 0
        spin: bool = False

        @action
        def toggle(self):
            self.spin = not self.spin

        @action
        def inc(self):
            require(self.n < 3, "done")
            self.n += 1

        @invariant
        def small(self):
            return self.n < 3

    f = explore(Loops, random=50, seed=0).findings[0]
    states = [tuple(s.state.values()) for s in f.steps]
    assert len(states) == len(set(states)) and (0, False) not in states


def test_bad_bounds_are_config_errors():
    with pytest.raises(ConfigError, match="max_states must be >= 1, got 0"):
        explore(Ticket, max_states=0)
    with pytest.raises(ConfigError, match="random"):
        explore(Ticket, random=0)


def test_the_result_round_trips_through_json():
    result = explore(Waits)
    back = msgspec.json.decode(result.to_json(), type=CheckResult)
    assert back == result
    assert result.to_dict()["findings"][0]["steps"][0]["action"] == "open"


class Free(Spec):
    """``set`` has no domain, so it cannot be explored."""

    n: int = 0

    @action
    def set(self, value: int):
        self.n = value

    @action
    def bump(self):
        require(self.n == 0, "once")
        self.n = 1

    closes = within(60, start=lambda s: s.n == 1, end=lambda s: s.n == 2)

    def terminal(self):
        return self.n == 2


def test_an_action_without_a_domain_is_not_explored_and_the_search_is_incomplete():
    result = explore(Free)
    assert result.unexplored == ["set"] and not result.complete
    assert (result.result, result.states) == ("bounded", 2)


def test_frozenset_state_values_serialise_as_lists():
    class Odd(Spec):
        tags: frozenset = frozenset()

        @action(t=["a"])
        def tag(self, t: str):
            self.tags = self.tags | {t}

        @invariant
        def few(self):
            return len(self.tags) < 1

    data = msgspec.json.decode(explore(Odd).to_json())
    assert data["findings"][0]["steps"][0]["state"]["tags"] == ["a"]


class Listy(Spec):
    items: tuple = ()

    @action(x=[1])
    def put(self, x: int):
        require(not self.items, "once")
        self.items = [x]  # a list: states must be hashable

    @action
    def extra(self):
        require(not self.items, "once")
        self.other = 1  # not a field


@pytest.mark.parametrize("walks", [None, 5])
def test_unhashable_values_and_unknown_fields_are_spec_bugs_that_name_the_fix(walks):
    result = explore(Listy, random=walks)
    messages = " ".join(b.message for b in result.spec_errors)
    assert result.result == "spec_errors"
    assert "not state fields" in messages  # a walk stops at the first bug
    if walks is None:  # the exhaustive search meets both bugs in the initial state
        assert "use tuple or frozenset" in messages and len(result.spec_errors) == 2
        assert all(b.steps == [] for b in result.spec_errors)


def test_a_random_walk_reports_an_unhashable_state_as_a_spec_bug():
    class OnlyListy(Spec):
        items: tuple = ()

        @action
        def put(self):
            self.items = [1]

    [bug] = explore(OnlyListy, random=1).spec_errors
    assert "use tuple or frozenset" in bug.message


def test_progress_is_reported_with_the_final_counts():
    calls = []
    result = explore(Unbounded, max_states=5000, progress=lambda *c: calls.append(c))
    assert calls[-1] == (result.states, result.depth, result.edges)
    walked = []
    explore(Ticket, random=200, progress=lambda *c: walked.append(c))
    assert [c[1] for c in walked] == [64, 128, 192, 200]


def test_with_an_unexplored_action_no_state_is_called_stuck_or_a_window_unmeetable():
    for result in (explore(Free, deadlocks=True), explore(Free, random=5, deadlocks=True)):
        assert result.findings == [] and result.result == "bounded"
        assert not result.deadlocks_checked and not result.deadlines_checked


def test_an_initial_state_breaking_an_invariant_is_a_counterexample_of_no_steps():
    class Wrong(Spec):
        n: int = 0

        @action
        def go(self):
            self.n = 1

        @invariant
        def positive(self):
            return self.n > 0

    for result in (explore(Wrong), explore(Wrong, random=1)):
        [f] = result.findings
        assert (f.kind, f.steps, f.initial) == ("invariant", [], {"n": 0})


class Slow(Spec):
    """Closing the window takes three steps after it opens (or four on a detour)."""

    stage: int = 0  # 0 idle, 1 opened ... 4 closed

    @action
    def advance(self):
        require(self.stage < 4, "closed")
        self.stage += 1

    answered = within("3m", start=lambda s: s.stage >= 1, end=lambda s: s.stage == 4)

    def terminal(self):
        return self.stage == 4


def test_with_a_step_time_a_window_the_fastest_path_cannot_close_in_time_is_breached():
    assert explore(Slow).result == "ok"  # without a clock, it does close eventually
    assert explore(Slow, step_time=60).result == "ok"  # 3 steps x 1m = 3m: just in time
    [f] = explore(Slow, step_time=61).findings
    assert (f.kind, f.property, trail(f)) == ("deadline", "answered", [("advance", ())])
    assert "opened at step 1; closing it takes at least 3 more steps, 183s" in f.message


def test_a_step_time_is_positive_and_needs_the_exhaustive_search():
    with pytest.raises(ConfigError, match="step_time must be a positive number"):
        explore(Slow, step_time=0)
    with pytest.raises(ConfigError, match="needs the exhaustive search"):
        explore(Slow, step_time=60, random=3)


def test_a_window_open_from_the_start_is_measured_from_the_initial_state():
    class Early(Spec):
        done: int = 0

        @action
        def work(self):
            require(self.done < 2, "done")
            self.done += 1

        answered = within(10, start=lambda s: True, end=lambda s: s.done == 2)

    [f] = explore(Early, step_time=6).findings
    assert f.steps == [] and "opened in the initial state" in f.message
    assert explore(Early, step_time=5).findings == []

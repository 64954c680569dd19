"""The spec language: what a spec may say, the errors a malformed one gets when its class
is defined, and how actions run (choose forks, scratch copies, spec bugs)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitor import Spec, SpecDefinitionError, action, choose, invariant, require, within
from monitor.engine import Engine, EngineConfig, Event, SpecErrorReport
from monitor.spec import model_of, parse_duration

# -- malformed specs fail when the class is defined, naming Class.member and the fix ---


def test_a_field_without_a_default_names_the_field_and_the_fix():
    with pytest.raises(SpecDefinitionError,
                       match=r"^NoDefault\.count has no default: every state field needs an "
                             r"initial value, e.g. `count: int = 0`$"):
        class NoDefault(Spec):
            count: int

            @action
            def tick(self):
                self.count += 1


def test_an_unhashable_default_names_the_field_and_says_to_use_a_tuple():
    with pytest.raises(SpecDefinitionError,
                       match=r"^Listy\.items defaults to an unhashable list; states must be "
                             r"hashable: use a tuple or frozenset$"):
        class Listy(Spec):
            items: list = []  # noqa: RUF012

            @action
            def tick(self):
                pass


def test_a_domain_for_an_unknown_parameter_names_the_real_parameters():
    with pytest.raises(SpecDefinitionError,
                       match=r"^Typo\.pay has a domain for 'amout', but its parameters are "
                             r"\(amount\): fix the keyword in @action\(\.\.\.\)$"):
        class Typo(Spec):
            n: int = 0

            @action(amout=[1, 2])
            def pay(self, amount: int):
                self.n += amount


def test_a_hidden_action_without_a_domain_is_told_to_declare_one():
    with pytest.raises(SpecDefinitionError,
                       match=r"^Hid\.leak is hidden, so the monitor must enumerate its "
                             r"arguments: give a finite domain for 'by', e\.g\. "
                             r"@action\(hidden=True, by=\[\.\.\.\]\)$"):
        class Hid(Spec):
            n: int = 0

            @action(hidden=True)
            def leak(self, by: int):
                self.n -= by


def test_a_hidden_action_with_domains_for_every_parameter_is_accepted():
    class Hid(Spec):
        n: int = 0

        @action(hidden=True, by=[1, 2])
        def leak(self, by: int):
            self.n -= by

    (leak,) = model_of(Hid).hidden
    assert leak.hidden and leak.domains == ((1, 2),)
    assert model_of(Hid).observed == ()


@pytest.mark.parametrize("signature,shown", [("*xs", r"\*xs"), ("**kw", r"\*\*kw")])
def test_star_parameters_are_refused_because_domains_need_names(signature, shown):
    source = f"""
class Star(Spec):
    n: int = 0

    @action
    def go(self, {signature}):
        pass
"""
    with pytest.raises(SpecDefinitionError,
                       match=rf"^Star\.go takes {shown}: actions need named parameters with "
                             r"finite domains$"):
        exec(source, {"Spec": Spec, "action": action})


def test_an_invariant_with_parameters_is_refused_and_its_parameters_shown():
    with pytest.raises(SpecDefinitionError,
                       match=r"^Inv\.ok is an @invariant, so it takes only self; it takes "
                             r"\(self, other\)$"):
        class Inv(Spec):
            n: int = 0

            @action
            def go(self):
                pass

            @invariant
            def ok(self, other):
                return True


@pytest.mark.parametrize("duration,why", [
    ("soon", r"invalid duration 'soon': use seconds \(30\) or units ms/s/m/h/d/w like '7d' "
             r"or '1h30m'"),
    (-3, r"duration must not be negative, got -3"),
])
def test_a_bad_within_duration_is_refused_at_definition(duration, why):
    with pytest.raises(SpecDefinitionError, match=rf"^Slow\.w: {why}$"):
        class Slow(Spec):
            n: int = 0
            w = within(duration, start=lambda s: True, end=lambda s: False)

            @action
            def go(self):
                pass


def test_a_within_without_callables_is_shown_an_example():
    with pytest.raises(SpecDefinitionError,
                       match=r"^Odd\.w: within\(\) needs callables, e\.g\. "
                             r"start=lambda s: s\.status == 'open'$"):
        class Odd(Spec):
            n: int = 0
            w = within("1h", start="open", end=lambda s: True)

            @action
            def go(self):
                pass


def test_a_spec_without_actions_is_refused():
    with pytest.raises(SpecDefinitionError,
                       match=r"^Empty has no @action methods: a spec needs at least one step$"):
        class Empty(Spec):
            n: int = 0


def test_an_action_named_like_a_field_is_refused():
    with pytest.raises(SpecDefinitionError,
                       match=r"^Clash\.n is both a state field and an @action: rename one$"):
        class Clash(Spec):
            n: int = 0

            @action
            def n(self):  # noqa: F811
                pass


def test_terminal_and_invariants_cannot_also_be_actions():
    with pytest.raises(SpecDefinitionError,
                       match=r"^T\.terminal: terminal\(\) is not an action; remove @action$"):
        class T(Spec):
            n: int = 0

            @action
            def terminal(self):
                return True
    with pytest.raises(SpecDefinitionError,
                       match=r"^B\.both is marked both @action and @invariant: pick one$"):
        class B(Spec):
            n: int = 0

            @action
            @invariant
            def both(self):
                return True


# -- what a well-formed spec compiles to ------------------------------------------------


def test_the_model_lists_fields_actions_invariants_and_withins_in_source_order():
    class Order(Spec):
        b: int = 1
        a: str = "x"
        _private: int = 7  # not state: underscore fields are the spec's own
        w2 = within("1h", start=lambda s: True, end=lambda s: False)
        w1 = within(30, start=lambda s: True, end=lambda s: False)

        @action(v=[1])
        def zeta(self, v: int):
            self.b = v

        @action
        def alpha(self):
            pass

        @invariant
        def second(self):
            return True

        @invariant
        def first(self):
            return True

    m = model_of(Order)
    assert m.fields == ("b", "a") and m.initial == (1, "x")
    assert list(m.actions) == ["zeta", "alpha"]
    assert m.actions["zeta"].params == ("v",) and m.actions["zeta"].types == (int,)
    assert m.actions["alpha"].domains == ()
    assert [name for name, _ in m.invariants] == ["second", "first"]
    assert [(w.name, w.seconds) for w in m.withins] == [("w2", 3600.0), ("w1", 30.0)]
    assert not m.has_terminal


def test_a_subclass_inherits_fields_and_actions_and_adds_its_own():
    class Base(Spec):
        n: int = 0

        @action
        def inc(self):
            self.n += 1

    class Child(Base):
        label: str = "c"

        @action
        def rename(self):
            self.label = "d"

    m = model_of(Child)
    assert m.fields == ("n", "label") and m.initial == (0, "c")
    assert set(m.actions) == {"inc", "rename"}
    assert m.step(m.initial, m.actions["inc"], ()).successors == ((1, "c"),)


# -- running actions --------------------------------------------------------------------


class Fork(Spec):
    x: int = 0
    seen: tuple = ()

    @action
    def fork(self):
        a = choose([1, 2])
        b = choose(["p", "q"])
        self.x = a
        self.seen = (b,)

    @action
    def nested(self):
        self.x += 1  # each branch starts again from the input state, so x is 1 in all
        a = choose([1, 2])
        if a == 1:
            self.seen = (a, choose(["only"]))
        else:
            self.seen = (a, choose(["u", "v", "w"]))

    @action
    def nothing(self):
        self.x = 99
        choose([])

    @action
    def some_empty(self):
        self.x = choose([1, 2, 3])
        require(self.x != 2, "two is not allowed")
        if self.x == 3:
            choose([])

    @action
    def bad_field(self):
        self.other = 1

    @action
    def bad_value(self):
        self.seen = [1]


def test_choose_forks_into_every_combination_of_options():
    m = model_of(Fork)
    step = m.step(m.initial, m.actions["fork"], ())
    assert sorted(step.successors) == [(1, ("p",)), (1, ("q",)), (2, ("p",)), (2, ("q",))]
    assert step.rejects == () and step.errors == ()


def test_choose_options_may_depend_on_earlier_choices_and_each_branch_starts_fresh():
    m = model_of(Fork)
    step = m.step(m.initial, m.actions["nested"], ())
    assert sorted(step.successors) == [(1, (1, "only")), (1, (2, "u")), (1, (2, "v")),
                                       (1, (2, "w"))]


def test_choose_from_no_options_gives_no_successor_and_no_error():
    m = model_of(Fork)
    step = m.step(m.initial, m.actions["nothing"], ())
    assert step == type(step)(successors=(), rejects=(), errors=())


def test_branches_of_one_action_may_succeed_be_rejected_or_end_without_options():
    m = model_of(Fork)
    step = m.step(m.initial, m.actions["some_empty"], ())
    assert step.successors == ((1, ()),)
    assert step.rejects == ("two is not allowed",)
    assert step.errors == ()


def test_actions_run_on_a_scratch_copy_and_leave_the_input_state_unchanged():
    m = model_of(Fork)
    state = (5, ("keep",))
    step = m.step(state, m.actions["nested"], ())
    assert state == (5, ("keep",))
    assert {s[0] for s in step.successors} == {6}
    view = m.view(state)
    view.x = 100
    assert state == (5, ("keep",)) and m.view(state).x == 5


def test_writing_a_non_field_or_leaving_a_list_in_a_field_is_a_spec_bug():
    m = model_of(Fork)
    step = m.step(m.initial, m.actions["bad_field"], ())
    assert step.successors == ()
    assert step.errors == ("Fork.bad_field raised AttributeError: set ['other'] which are not "
                           "state fields; declare them as annotated fields with defaults on Fork",)
    (err,) = m.step(m.initial, m.actions["bad_value"], ()).errors
    assert err == ("Fork.bad_value raised TypeError: left unhashable values in ['seen']; use "
                   "tuple or frozenset, not list/set/dict")


@pytest.mark.parametrize("action_name,message", [
    ("bad_field", "set ['other'] which are not state fields"),
    ("bad_value", "left unhashable values in ['seen']"),
])
def test_the_engine_reports_those_spec_bugs_as_spec_errors_not_violations(action_name, message):
    engine = Engine(Fork, EngineConfig(allowed_lateness=0))
    engine.feed(Event("k", 0.0, "fork", ()))
    before = engine.instances["k"].node.states
    (report,) = engine.feed(Event("k", 1.0, action_name, ()))
    assert isinstance(report, SpecErrorReport)
    assert report.where == f"Fork.{action_name}" and message in report.message
    assert (report.key, report.time, report.action) == ("k", 1.0, action_name)
    assert engine.counters.spec_errors == 1 and engine.counters.violations == 0
    assert engine.instances["k"].node.states == before


def test_require_reports_its_reason_and_a_default_one():
    class Guarded(Spec):
        n: int = 0

        @action(by=[1])
        def dec(self, by: int):
            require(self.n >= by, "cannot go below zero")
            self.n -= by

        @action
        def never(self):
            require(False)

    m = model_of(Guarded)
    assert m.step(m.initial, m.actions["dec"], (1,)).rejects == ("cannot go below zero",)
    assert m.step(m.initial, m.actions["never"], ()).rejects == ("requirement failed",)
    assert m.step((3,), m.actions["dec"], (1,)).successors == ((2,),)


def test_choose_outside_an_action_is_an_error():
    with pytest.raises(RuntimeError, match=r"^choose\(\) may only be called inside an @action$"):
        choose([1])


def test_invariants_terminal_and_windows_are_evaluated_per_state():
    class Tank(Spec):
        level: int = 0

        @action(by=[1, 5])
        def fill(self, by: int):
            self.level += by

        @invariant
        def not_overflowing(self):
            return self.level <= 5

        full = within("1m", start=lambda s: s.level > 0, end=lambda s: s.level >= 5)

        def terminal(self):
            return self.level == 5

    m = model_of(Tank)
    assert m.has_terminal
    assert m.violated_invariants((6,)) == ("not_overflowing",)
    assert m.violated_invariants((5,)) == ()
    assert [m.window_flags((n,)) for n in (0, 3, 5)] == [(False,), (True,), (False,)]
    assert [m.is_terminal((n,)) for n in (3, 5)] == [False, True]


# -- durations ---------------------------------------------------------------------------


@pytest.mark.parametrize("value,seconds", [
    ("7d", 604800.0), ("1h30m", 5400.0), ("250ms", 0.25), ("2w", 1209600.0), ("1.5h", 5400.0),
    ("45s", 45.0), (" 1h 30m ", 5400.0), ("1m1s", 61.0), (30, 30.0), (2.5, 2.5), (0, 0.0),
    (timedelta(minutes=2), 120.0),
])
def test_durations_accept_units_numbers_of_seconds_and_timedeltas(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("bad", ["7 days", "", "1x", "h", "7D", "30", "1h-5m", None, [1]])
def test_malformed_durations_say_which_forms_are_accepted(bad):
    with pytest.raises(ValueError, match=r"^invalid duration .*: use seconds \(30\) or units "
                                         r"ms/s/m/h/d/w like '7d' or '1h30m'$"):
        parse_duration(bad)


@pytest.mark.parametrize("bad", [-5, -0.5, timedelta(seconds=-1)])
def test_negative_durations_are_refused(bad):
    with pytest.raises(ValueError, match=r"^duration must not be negative, got "):
        parse_duration(bad)


def test_a_boolean_is_not_a_duration():
    with pytest.raises(ValueError, match=r"^duration must be a number of seconds or a string "
                                         r"like '7d', got True$"):
        parse_duration(True)


def _pick_side():
    return choose(["left", "right"])


class Indirect(Spec):
    side: str = ""

    @action
    def via_helper(self):
        self.side = _pick_side()

    @action
    def swallowing(self):
        try:
            self.side = choose(["up", "down"])
        except Exception:
            self.side = "swallowed"


def test_choose_called_from_a_helper_or_inside_a_try_still_forks():
    m = model_of(Indirect)
    assert sorted(m.step(m.initial, m.actions["via_helper"], ()).successors) == [
        ("left",), ("right",)]
    assert sorted(m.step(m.initial, m.actions["swallowing"], ()).successors) == [
        ("down",), ("up",)]


def test_a_string_domain_is_a_spec_definition_error_naming_the_method():
    with pytest.raises(SpecDefinitionError, match=r"Str\.pick: domain for 'x' must be a list"):
        class Str(Spec):
            n: int = 0

            @action(x="ab")
            def pick(self, x: str):
                pass


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_durations_are_refused(bad):
    with pytest.raises(ValueError, match="finite"):
        parse_duration(bad)

"""The spec language: what a spec may say, and the errors a malformed one gets."""

from __future__ import annotations

import pytest

from monitor import Spec, SpecDefinitionError, action, choose, invariant, require, within
from monitor.spec import model_of, parse_duration


def test_a_field_without_a_default_names_the_field_and_the_fix():
    with pytest.raises(SpecDefinitionError, match=r"NoDefault\.count has no default: every "
                                                  r"state field needs an initial value"):
        class NoDefault(Spec):
            count: int

            @action
            def tick(self):
                self.count += 1


def test_an_unhashable_default_is_refused():
    with pytest.raises(SpecDefinitionError, match=r"Listy\.items defaults to an unhashable list"):
        class Listy(Spec):
            items: list = []  # noqa: RUF012

            @action
            def tick(self):
                pass


def test_a_domain_for_an_unknown_parameter_names_the_parameters():
    with pytest.raises(SpecDefinitionError, match=r"Typo\.pay has a domain for 'amout', but its "
                                                  r"parameters are \(amount\)"):
        class Typo(Spec):
            n: int = 0

            @action(amout=[1, 2])
            def pay(self, amount: int):
                self.n += amount


def test_a_hidden_action_needs_domains_for_every_parameter():
    with pytest.raises(SpecDefinitionError, match=r"Hid\.leak is hidden, so the monitor must "
                                                  r"enumerate its arguments"):
        class Hid(Spec):
            n: int = 0

            @action(hidden=True)
            def leak(self, by: int):
                self.n -= by


def test_star_args_actions_and_parameterised_invariants_are_refused():
    with pytest.raises(SpecDefinitionError, match=r"Star\.go takes \*xs"):
        class Star(Spec):
            n: int = 0

            @action
            def go(self, *xs):
                pass
    with pytest.raises(SpecDefinitionError, match=r"Inv\.ok is an @invariant, so it takes only "
                                                  r"self"):
        class Inv(Spec):
            n: int = 0

            @action
            def go(self):
                pass

            @invariant
            def ok(self, other):
                return True


def test_a_bad_within_duration_and_a_spec_without_actions_are_refused():
    with pytest.raises(SpecDefinitionError, match=r"Slow\.w: invalid duration 'soon'"):
        class Slow(Spec):
            n: int = 0
            w = within("soon", start=lambda s: True, end=lambda s: False)

            @action
            def go(self):
                pass
    with pytest.raises(SpecDefinitionError, match=r"Empty has no @action methods"):
        class Empty(Spec):
            n: int = 0


def test_an_action_named_like_a_field_is_refused():
    with pytest.raises(SpecDefinitionError, match=r"Clash\.n is both a state field and an "
                                                  r"@action"):
        class Clash(Spec):
            n: int = 0

            @action
            def n(self):  # noqa: F811
                pass


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
    def nothing(self):
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


def test_choose_from_no_options_gives_no_successor_and_no_error():
    m = model_of(Fork)
    step = m.step(m.initial, m.actions["nothing"], ())
    assert step.successors == () and step.errors == ()


def test_actions_run_on_a_scratch_copy():
    m = model_of(Fork)
    state = m.initial
    m.step(state, m.actions["fork"], ())
    assert state == (0, ())


def test_writing_a_non_field_or_an_unhashable_value_is_a_spec_bug():
    m = model_of(Fork)
    (err,) = m.step(m.initial, m.actions["bad_field"], ()).errors
    assert "set ['other'] which are not state fields" in err
    (err,) = m.step(m.initial, m.actions["bad_value"], ()).errors
    assert "unhashable values in ['seen']" in err


def test_require_reports_its_reason():
    class Guarded(Spec):
        n: int = 0

        @action(by=[1])
        def dec(self, by: int):
            require(self.n >= by, "cannot go below zero")
            self.n -= by

    m = model_of(Guarded)
    assert m.step(m.initial, m.actions["dec"], (1,)).rejects == ("cannot go below zero",)


def test_choose_outside_an_action_is_an_error():
    with pytest.raises(RuntimeError, match="inside an @action"):
        choose([1])


@pytest.mark.parametrize("text,seconds", [
    ("7d", 604800.0), ("1h30m", 5400.0), ("250ms", 0.25), (30, 30.0), ("2w", 1209600.0),
])
def test_durations_accept_units_and_seconds(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["7 days", "", "-1s", -5, True, "1x"])
def test_bad_durations_say_which_forms_are_accepted(bad):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)

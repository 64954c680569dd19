"""Successors and facts of one state, for the explorer's hot loop.

A thin layer over ``SpecModel.step``/``SpecModel.facts`` returning plain tuples, so the
search loop has one place to optimise. Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any

from monitor.spec.model import ActionInfo, SpecModel

__all__ = ["Stepper"]

State = tuple[Any, ...]


class Stepper:
    def __init__(self, model: SpecModel) -> None:
        self.model = model

    def step(
        self, state: State, act: ActionInfo, args: tuple[Any, ...]
    ) -> tuple[tuple[State, ...], tuple[str, ...], tuple[str, ...]]:
        """(successors, failed require messages, spec-bug messages)."""
        st = self.model.step(state, act, args)
        return st.successors, st.rejects, st.errors

    def facts(self, state: State) -> tuple[tuple[str, ...], tuple[bool, ...], bool]:
        """(broken invariants, window flags, terminal); raises ``SpecBug``."""
        return self.model.facts(state)

"""Late join (``late_join: adopt``): when the first event seen for a key is not enabled
in the initial state, the monitor probably joined mid-stream. Start the instance from
every reachable state in which the observed step is allowed.

Reachable states are enumerated once, breadth-first over the actions' declared finite
domains (hidden actions included), up to ``adopt_max_states``. Domains are samples, not
every value production uses, so a step that no enumerated state allows is *not* proof
of a violation: the engine then ignores the key rather than raise a false alarm.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any

from monitor.engine.transitions import Cut, Node, Transitions
from monitor.spec.model import ActionInfo, SpecBug

__all__ = ["Adopter"]

State = tuple[Any, ...]


class Adopter:
    def __init__(self, trans: Transitions, max_states: int) -> None:
        self.trans = trans
        self.max_states = max_states
        self._reachable: tuple[State, ...] | None = None
        self.complete = True  # False when the bound or missing domains cut the search

    def reachable(self) -> tuple[State, ...]:
        if self._reachable is None:
            self._reachable = self._explore()
        return self._reachable

    def _explore(self) -> tuple[State, ...]:
        model = self.trans.model
        seen: dict[State, None] = {model.initial: None}
        frontier = [model.initial]
        enumerable = [a for a in model.actions.values() if a.domains is not None]
        if len(enumerable) < len(model.actions):
            self.complete = False
        while frontier:
            nxt_frontier = []
            for s in frontier:
                for act in enumerable:
                    for args in act.arg_tuples():
                        try:
                            step = model.step(s, act, args)
                        except SpecBug:
                            continue
                        for nxt in step.successors:
                            if nxt in seen:
                                continue
                            try:
                                if self.trans.broken(nxt):
                                    continue
                            except SpecBug:  # an invariant raised: not a place to adopt
                                continue
                            if len(seen) >= self.max_states:
                                self.complete = False
                                return tuple(seen)
                            seen[nxt] = None
                            nxt_frontier.append(nxt)
            frontier = nxt_frontier
        return tuple(seen)

    def adopt(self, act: ActionInfo, args: tuple[Any, ...]) -> tuple[Node, Node | Cut] | None:
        """(node before, step result) for a joined instance, or None if no reachable
        state allows the step. The node before is the whole reachable set: the step
        keeps the successors of exactly those states in which it is enabled."""
        before = self.trans.node(self.reachable())
        result = self.trans.step(before, act, args)
        return (before, result) if isinstance(result, (Node, Cut)) else None

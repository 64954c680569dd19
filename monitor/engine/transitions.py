"""Successor sets of candidate-state sets, memoised.

``post(S, action, args)`` is the heart of monitoring (DESIGN.md, "Semantics"): every
state reachable from the set ``S`` by at most ``hidden_steps`` hidden actions and then
the observed action, keeping successors that satisfy every invariant. Actions are pure
functions of (state, args), so the result is memoised per (S, action, args): in steady
state an event costs one dict lookup here. Memo tables are bounded (cleared when full).

Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any

from monitor.spec.model import ActionInfo, SpecBug, SpecModel

__all__ = ["OK", "INVARIANT", "SPEC_ERROR", "UNEXPECTED", "Post", "Transitions"]

State = tuple[Any, ...]
States = tuple[State, ...]

OK, UNEXPECTED, INVARIANT, SPEC_ERROR = 0, 1, 2, 3


class Post:
    """Result of one observed step from a state set."""

    __slots__ = ("kind", "states", "prop", "message", "overflow")

    def __init__(self, kind: int, states: States, prop: str, message: str, overflow: int) -> None:
        self.kind = kind
        self.states = states  # successors (OK), else empty
        self.prop = prop  # action name (unexpected), invariant name, or where (spec error)
        self.message = message
        self.overflow = overflow  # successors dropped by max_states


class Transitions:
    def __init__(self, model: SpecModel, *, hidden_steps: int, max_states: int, memo_size: int) -> None:
        self.model = model
        self.hidden_steps = hidden_steps if model.hidden else 0
        self.max_states = max_states
        self.memo_size = memo_size
        self._post: dict[tuple[States, str, tuple[Any, ...]], Post] = {}
        self._closure: dict[State, tuple[State, ...]] = {}
        self._bad: dict[State, tuple[str, ...]] = {}
        self._info: dict[States, tuple[tuple[bool, ...], bool]] = {}
        self._intern: dict[States, States] = {}

    def post(self, states: States, act: ActionInfo, args: tuple[Any, ...]) -> Post:
        key = (states, act.name, args)
        hit = self._post.get(key)
        if hit is not None:
            return hit
        result = self._compute(states, act, args)
        if len(self._post) >= self.memo_size:
            self._post.clear()
        self._post[key] = result
        return result

    def _compute(self, states: States, act: ActionInfo, args: tuple[Any, ...]) -> Post:
        model = self.model
        found: dict[State, None] = {}
        rejects: dict[str, None] = {}
        broken: dict[str, None] = {}
        errors: list[str] = []
        stepped = False
        try:
            for s in states:
                for pre in self.closure(s):
                    step = model.step(pre, act, args)
                    rejects.update(dict.fromkeys(step.rejects))
                    errors.extend(step.errors)
                    for nxt in step.successors:
                        stepped = True
                        bad = self.broken(nxt)
                        if bad:
                            broken.update(dict.fromkeys(bad))
                        else:
                            found[nxt] = None
        except SpecBug as bug:
            return Post(SPEC_ERROR, (), bug.where, str(bug), 0)
        if errors:
            return Post(SPEC_ERROR, (), act.qualname, "; ".join(dict.fromkeys(errors)), 0)
        if found:
            succ = tuple(found)
            overflow = max(0, len(succ) - self.max_states)
            return Post(OK, self.intern(succ[: self.max_states]), "", "", overflow)
        if stepped:
            names = tuple(broken)
            return Post(
                INVARIANT, (), names[0],
                f"every successor of {act.name}{_fmt_args(args)} breaks {', '.join(names)}", 0,
            )
        why = "; ".join(rejects) or "action not enabled"
        return Post(UNEXPECTED, (), act.name, f"{act.name}{_fmt_args(args)} not allowed: {why}", 0)

    def closure(self, state: State) -> tuple[State, ...]:
        """``state`` and every state within ``hidden_steps`` hidden steps of it that keeps
        the invariants (an invariant-breaking hidden step explains nothing)."""
        if not self.hidden_steps:
            return (state,)
        hit = self._closure.get(state)
        if hit is not None:
            return hit
        seen: dict[State, None] = {state: None}
        frontier = [state]
        for _ in range(self.hidden_steps):
            nxt_frontier = []
            for s in frontier:
                for _act, _args, nxt in self.model.hidden_moves(s):
                    if nxt not in seen and not self.broken(nxt):
                        seen[nxt] = None
                        nxt_frontier.append(nxt)
            frontier = nxt_frontier
        result = tuple(seen)
        if len(self._closure) >= self.memo_size:
            self._closure.clear()
        self._closure[state] = result
        return result

    def broken(self, state: State) -> tuple[str, ...]:
        hit = self._bad.get(state)
        if hit is None:
            hit = self.model.violated_invariants(state)
            if len(self._bad) >= self.memo_size:
                self._bad.clear()
            self._bad[state] = hit
        return hit

    def info(self, states: States) -> tuple[tuple[bool, ...], bool]:
        """(per-``within`` "window open in every candidate", "every candidate terminal").
        Deadlines are conservative: a window counts as open only if it is open in every
        candidate state, so an ambiguous set never raises a false deadline alarm."""
        hit = self._info.get(states)
        if hit is not None:
            return hit
        model = self.model
        n = len(model.withins)
        flags = [True] * n
        terminal = True
        for s in states:
            f = model.window_flags(s)
            for i in range(n):
                flags[i] = flags[i] and f[i]
            terminal = terminal and model.is_terminal(s)
        hit = (tuple(flags), terminal and bool(states))
        if len(self._info) >= self.memo_size:
            self._info.clear()
        self._info[states] = hit
        return hit

    def intern(self, states: States) -> States:
        """One shared tuple per distinct state set: instances in the same state share it."""
        hit = self._intern.get(states)
        if hit is None:
            if len(self._intern) >= self.memo_size:
                self._intern.clear()
            self._intern[states] = hit = states
        return hit


def _fmt_args(args: tuple[Any, ...]) -> str:
    return "(" + ", ".join(repr(a) for a in args) + ")"

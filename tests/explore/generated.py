"""Small specs generated from data, with a reference semantics written without the spec
machinery, for the brute-force property tests.

A ``Design`` is fields ``a``, ``b`` (bounded ints) and ``f`` (bool), a few actions over
one parameter ``v`` with a guard (``f`` must equal something, ``field + v <= cap``) and
an update (add, a ``choose`` fork, toggle ``f``, reset), an invariant ``a + b <= limit``,
and optionally ``terminal()`` (``b`` reached a threshold) and a ``within`` window. ``spec_class`` turns it into a
``Spec`` subclass; ``successors``/``facts`` compute the same thing directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from monitor import Spec, action, choose, invariant, require, within

State = tuple[int, int, bool]  # (a, b, f)
FIELDS = ("a", "b")
OPS = ("add", "fork", "toggle", "reset")


@dataclass(frozen=True)
class Act:
    name: str
    field: str  # "a" | "b"
    op: str  # add | fork | toggle | reset
    need: bool | None  # required value of f, or no requirement
    cap: int  # guard: field + v <= cap
    domain: tuple[int, ...]
    hidden: bool


@dataclass(frozen=True)
class Design:
    acts: tuple[Act, ...]
    limit: int  # invariant a + b <= limit
    terminal: int | None  # terminal() == (b >= terminal), when set
    window: bool  # within: opens when a > 0, closes when b catches up with a or f


def apply(act: Act, state: State, v: int) -> list[State] | None:
    """Reference successors of one action, or None when its guard fails."""
    a, b, f = state
    x = a if act.field == "a" else b
    if act.need is not None and f != act.need:
        return None
    if x + v > act.cap:
        return None
    if act.op == "add":
        outs = [(x + v, f)]
    elif act.op == "fork":
        outs = [(x + v, f), (x + 1, f)]
    elif act.op == "toggle":
        outs = [(x, not f)]
    else:
        outs = [(0, f)]
    result = []
    for nx, nf in outs:
        s = (nx, b, nf) if act.field == "a" else (a, nx, nf)
        if s not in result:
            result.append(s)
    return result


def successors(design: Design, state: State) -> list[tuple[str, int, State]]:
    out = []
    for act in design.acts:
        for v in act.domain:
            for nxt in apply(act, state, v) or []:
                out.append((act.name, v, nxt))
    return out


def broken(design: Design, state: State) -> bool:
    return state[0] + state[1] > design.limit


def is_terminal(design: Design, state: State) -> bool:
    return design.terminal is not None and state[1] >= design.terminal


def window_open(design: Design, state: State) -> bool:
    a, b, f = state
    return design.window and a > 0 and not (b >= a or f)


def stops(design: Design, state: State) -> bool:
    """States the explorer does not expand: terminal, or breaking the invariant."""
    return broken(design, state) or is_terminal(design, state)


def spec_class(design: Design) -> type[Spec]:
    ns: dict[str, Any] = {"__annotations__": {"a": int, "b": int, "f": bool},
                          "a": 0, "b": 0, "f": False}
    for act in design.acts:
        ns[act.name] = action(hidden=act.hidden, v=list(act.domain))(_body(act))

    def small(self):
        return self.a + self.b <= design.limit

    ns["small"] = invariant(small)
    if design.terminal is not None:
        ns["terminal"] = lambda self: self.b >= design.terminal
    if design.window:
        ns["settles"] = within(60, start=lambda s: s.a > 0, end=lambda s: s.b >= s.a or s.f)
    return type("Generated", (Spec,), ns)


def _body(act: Act) -> Any:
    def body(self, v: int):
        x = getattr(self, act.field)
        if act.need is not None:
            require(self.f == act.need, "f is wrong")
        require(x + v <= act.cap, "over the cap")
        if act.op == "add":
            setattr(self, act.field, x + v)
        elif act.op == "fork":
            setattr(self, act.field, choose([x + v, x + 1]))
        elif act.op == "toggle":
            self.f = not self.f
        else:
            setattr(self, act.field, 0)

    body.__name__ = act.name
    return body


@st.composite
def designs(draw: Any) -> Design:
    n = draw(st.integers(1, 4))
    acts = []
    for i in range(n):
        acts.append(Act(
            name=f"act{i}",
            field=draw(st.sampled_from(FIELDS)),
            op=draw(st.sampled_from(OPS)),
            need=draw(st.sampled_from([None, True, False])),
            cap=draw(st.integers(1, 4)),
            domain=tuple(draw(st.lists(st.integers(1, 2), min_size=1, max_size=2,
                                       unique=True))),
            hidden=draw(st.booleans()),
        ))
    return Design(acts=tuple(acts), limit=draw(st.integers(1, 6)),
                  terminal=draw(st.none() | st.integers(1, 3)), window=draw(st.booleans()))

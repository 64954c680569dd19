"""What ``check`` returns: findings with their counterexamples, counts, and whether the
search was complete. These cross the boundary to the CLI, JSON and agents, so they are
frozen ``msgspec.Struct``s.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["CheckResult", "Finding", "Step"]

#: kinds of finding, in the order reported when counterexamples are equally long
KINDS = ("invariant", "deadlock", "deadline", "spec_error")


class Step(msgspec.Struct, frozen=True, kw_only=True):
    """One numbered step of a counterexample: the action taken and the state after."""

    n: int
    action: str
    args: dict[str, Any]
    hidden: bool
    state: dict[str, Any]

    def describe(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.args.items())
        mark = " (hidden)" if self.hidden else ""
        return f"{self.action}({args}){mark}"


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    """A property the spec's own behaviour breaks, with a path that shows it.

    ``kind``: ``invariant`` (a reachable state breaks it), ``deadlock`` (a non-terminal
    state where no action is enabled), ``deadline`` (a ``within`` window that can never
    close), ``spec_error`` (the spec's code raised). ``steps`` lead from ``initial`` to
    the state where it shows; ``shortest`` is True when found by breadth-first search.
    """

    kind: str
    property: str
    message: str
    initial: dict[str, Any]
    steps: list[Step]
    shortest: bool

    def describe(self) -> str:
        """The counterexample for people: numbered actions, each with its state."""
        lines = [f"{self.kind.upper()} {self.property}: {self.message}",
                 f"  {0:>3}. initial state  {_fields(self.initial)}"]
        for s in self.steps:
            lines.append(f"  {s.n:>3}. {s.describe()}  -> {_fields(s.state)}")
        if not self.shortest:
            lines.append("  (found by a random walk: a counterexample, not necessarily the shortest)")
        return "\n".join(lines)


class CheckResult(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of exploring a spec.

    ``result``: ``ok`` (complete search, nothing found), ``bounded`` (nothing found, but
    the search was cut by a bound or was random: not a proof), ``violations`` or
    ``spec_errors``. ``findings`` are sorted shortest first; ``counterexample`` is the
    first. ``states``/``edges``/``depth`` count what was explored (for random walks:
    distinct states visited, steps taken, longest walk).
    """

    spec: str
    mode: str  # "bfs" | "random"
    result: str
    complete: bool
    states: int
    edges: int
    depth: int
    findings: list[Finding]
    spec_errors: list[Finding]
    unexplored: list[str]  # actions without finite domains, so never taken
    deadlocks_checked: bool
    deadlines_checked: bool  # False when the spec has no `within`, or actions unexplored
    max_states: int
    max_depth: int | None
    walks: int = 0
    seed: int | None = None
    step_time: float | None = None  # seconds a step takes on the logical clock, if given

    @property
    def ok(self) -> bool:
        return self.result in ("ok", "bounded")

    @property
    def counterexample(self) -> Finding | None:
        return self.findings[0] if self.findings else (
            self.spec_errors[0] if self.spec_errors else None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = msgspec.to_builtins(self, enc_hook=repr)
        return out

    def to_json(self) -> bytes:
        return msgspec.json.encode(self, enc_hook=repr)


def result_name(findings: list[Finding], bugs: list[Finding], complete: bool) -> str:
    if findings:
        return "violations"
    if bugs:
        return "spec_errors"
    return "ok" if complete else "bounded"


def sort_findings(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (len(f.steps), KINDS.index(f.kind)))


def _fields(state: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}={v!r}" for k, v in state.items()) + "}"

"""Random walks for specs too large to explore exhaustively.

Each walk starts in the initial state and takes uniformly random enabled steps (every
action, hidden ones too, over its domains; every ``choose`` branch is a separate
option), for at most ``max_depth`` steps (default ``DEFAULT_WALK_LENGTH``) or until it
reaches a terminal state. The first finding stops the search: a state breaking an
invariant, a deadlock (same rule as the exhaustive check), a terminal or deadlocked
state with a ``within`` window open, or a spec bug. The counterexample is the walk with
its loops cut out (a revisited state drops the steps in between), so it is a real path
but not necessarily the shortest. A walk cannot see the other ``within`` breach (a
window no continuation closes): that needs the whole graph.

Seeded: the same seed gives the same walks. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable
from random import Random
from typing import Any

from monitor.explore.deadlines import fmt_duration
from monitor.explore.result import CheckResult, Finding, Step, result_name
from monitor.explore.stepper import Stepper, labels_of
from monitor.spec.model import ActionInfo, SpecModel

__all__ = ["DEFAULT_WALK_LENGTH", "random_walks"]

State = tuple[Any, ...]
Label = tuple[ActionInfo, tuple[Any, ...]]

DEFAULT_WALK_LENGTH = 100
PROGRESS_EVERY = 64  # walks between progress callbacks


class _Found(Exception):
    def __init__(self, finding: Finding) -> None:
        self.finding = finding


class _Walker:
    def __init__(self, model: SpecModel, max_states: int, check_deadlocks: bool,
                 check_deadlines: bool) -> None:
        self.model = model
        self.labels, _unexplored = labels_of(model)
        self.stepper = Stepper(model, self.labels)
        # memo of each visited state's moves, bounded by max_states; the count of
        # distinct states visited is its size
        self.moves: dict[State, list[tuple[int, State]]] = {}
        self.max_states = max_states
        self.check_deadlocks = check_deadlocks
        self.check_deadlines = check_deadlines
        self.steps = 0
        self.longest = 0

    def visit(self, state: State, path: list[tuple[int, State]]) -> list[tuple[int, State]]:
        known = self.moves.get(state)
        if known is not None:
            return known
        facts, moves, _rejects, errors = self.stepper.visit(state, False)
        if errors:
            raise _Found(self.finding(path, "spec_error", "spec_error", errors[0]))
        assert facts is not None  # a fact that raised is an error
        broken, wins, terminal = facts
        if broken:
            raise _Found(self.finding(path, "invariant", broken[0],
                                      f"invariant {broken[0]} does not hold"))
        if not moves:
            self._dead_end(state, path, wins, terminal)
        for lab, nxt in moves:
            try:
                hash(nxt)
            except TypeError:  # the spec left a list or dict in the state
                msg = self.stepper.general(state, lab)[0]
                raise _Found(self.finding(path, "spec_error", "spec_error", msg)) from None
        if len(self.moves) < self.max_states:
            self.moves[state] = moves
        return moves

    def _dead_end(self, state: State, path: list[tuple[int, State]], wins: tuple[bool, ...],
                  terminal: bool) -> None:
        if not terminal and self.check_deadlocks:
            raise _Found(self.finding(path, "deadlock", "deadlock",
                                      "no action is enabled in a state that is not terminal"))
        for w, is_open in enumerate(wins):
            if is_open and self.check_deadlines:
                info = self.model.withins[w]
                how = "the instance can end (terminal)" if terminal else "no action is enabled"
                raise _Found(self.finding(
                    path, "deadline", info.name,
                    f"{how} with window {info.name} (within {fmt_duration(info.seconds)}) open, "
                    "so the deadline can never be met"))

    def walk(self, rng: Random, length: int) -> None:
        state = self.model.initial
        path: list[tuple[int, State]] = []  # (label, state after), loops cut out
        where: dict[State, int] = {state: 0}  # state -> length of path when it was last there
        for _ in range(length):
            moves = self.visit(state, path)
            if not moves:
                break
            lab, state = moves[rng.randrange(len(moves))]
            self.steps += 1
            back = where.get(state)
            if back is not None:  # a loop: the counterexample need not go round it
                for _lab, s in path[back:]:
                    where.pop(s, None)
                del path[back:]
                where[state] = back
            else:
                path.append((lab, state))
                where[state] = len(path)
            self.longest = max(self.longest, len(path))
        else:
            self.visit(state, path)  # the last state's facts are checked too

    def finding(self, path: list[tuple[int, State]], kind: str, prop: str, msg: str) -> Finding:
        steps = []
        for n, (lab, state) in enumerate(path, 1):
            act, args = self.labels[lab]
            steps.append(Step(n=n, action=act.name, args=dict(zip(act.params, args)),
                              hidden=act.hidden, state=self.model.as_dict(state)))
        return Finding(kind=kind, property=prop, message=msg,
                       initial=self.model.as_dict(self.model.initial), steps=steps,
                       shortest=False)


def random_walks(
    model: SpecModel,
    *,
    walks: int,
    seed: int = 0,
    max_depth: int | None = None,
    max_states: int = 1_000_000,
    deadlocks: bool | None = None,
    progress: Callable[[int, int, int], None] | None = None,
) -> CheckResult:
    _labels, unexplored = labels_of(model)
    sound = not unexplored  # as in check_graph: an unexplored action may be enabled anywhere
    check_deadlocks = sound and (model.has_terminal if deadlocks is None else deadlocks)
    walker = _Walker(model, max_states, check_deadlocks, sound)
    rng = Random(seed)
    length = DEFAULT_WALK_LENGTH if max_depth is None else max_depth
    findings: list[Finding] = []
    bugs: list[Finding] = []
    done = 0
    try:
        for done in range(1, walks + 1):
            walker.walk(rng, length)
            if progress is not None and done % PROGRESS_EVERY == 0:
                progress(len(walker.moves), done, walker.steps)
    except _Found as found:
        (bugs if found.finding.kind == "spec_error" else findings).append(found.finding)
    if progress is not None:
        progress(len(walker.moves), done, walker.steps)
    return CheckResult(
        spec=model.name, mode="random", result=result_name(findings, bugs, False),
        complete=False, states=len(walker.moves), edges=walker.steps, depth=walker.longest,
        findings=findings, spec_errors=bugs, unexplored=list(unexplored),
        deadlocks_checked=check_deadlocks, deadlines_checked=sound and bool(model.withins),
        max_states=max_states, max_depth=length,
        walks=done, seed=seed,
    )

"""The reachable state graph of a spec: breadth-first search over every action (hidden
ones too) and every argument tuple of its declared finite domains; ``choose`` forks are
successors of one step.

What is expanded: every reachable state except those that are terminal (the monitor
drops a finished instance, so nothing can follow), those that break an invariant (the
monitor discards such successors; expanding them would also let an unchecked counter
grow forever), and those whose facts raised (a spec bug). BFS order makes state ids
non-decreasing in depth, so ``path_to`` gives a shortest path.

Memory is what bounds the search (a million states is the design point), so per-state
data are typed arrays and the edges are parallel arrays of ints (src, label, dst: 12
bytes an edge) behind a ``Sequence[Edge]`` view; ``Edge`` objects exist only while a
caller looks at them. The ``index`` dict and the state tuples themselves dominate.

Pure: no I/O, no clock. Progress is a callback; the caller measures time.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from monitor.explore.stepper import Stepper
from monitor.spec.model import ActionInfo, SpecBug, SpecModel

__all__ = [
    "BROKEN",
    "CUT",
    "ENABLED",
    "ERROR",
    "OPEN",
    "TERMINAL",
    "Edge",
    "Rejection",
    "StateGraph",
    "explore_graph",
]

State = tuple[Any, ...]

# per-state flag bits (StateGraph.flags)
TERMINAL = 1  # terminal(): not expanded
BROKEN = 2  # breaks an invariant: not expanded
OPEN = 4  # some `within` window is open (start holds, end does not)
ENABLED = 8  # some action (observed or hidden) has a successor from here
CUT = 16  # a bound dropped a successor of this state: what lies beyond is unknown
ERROR = 32  # the spec's code raised here (facts or a step): reported as a spec bug

MAX_ERRORS = 100  # distinct spec-bug messages kept; one bug usually repeats per state
PROGRESS_EVERY = 4096  # expanded states between progress callbacks


@dataclass(frozen=True, slots=True)
class Edge:
    src: int
    action: str
    args: tuple[Any, ...]
    dst: int
    hidden: bool


@dataclass(frozen=True, slots=True)
class Rejection:
    src: int
    action: str
    args: tuple[Any, ...]
    messages: tuple[str, ...]  # the failed `require` reasons, one per choose branch


class EdgeList(Sequence[Edge]):
    """``Sequence[Edge]`` over parallel int arrays: 12 bytes an edge instead of ~120
    for an object with its boxed ints."""

    __slots__ = ("src", "label", "dst", "labels")

    def __init__(self, labels: Sequence[tuple[ActionInfo, tuple[Any, ...]]]) -> None:
        self.src = array("i")
        self.label = array("i")
        self.dst = array("i")
        self.labels = labels

    def __len__(self) -> int:
        return len(self.src)

    @overload
    def __getitem__(self, i: int) -> Edge: ...
    @overload
    def __getitem__(self, i: slice) -> list[Edge]: ...
    def __getitem__(self, i: int | slice) -> Edge | list[Edge]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        act, args = self.labels[self.label[i]]
        return Edge(self.src[i], act.name, args, self.dst[i], act.hidden)

    def __iter__(self) -> Iterator[Edge]:
        labels = self.labels
        for s, lab, d in zip(self.src, self.label, self.dst):
            act, args = labels[lab]
            yield Edge(s, act.name, args, d, act.hidden)


class RejectionList(Sequence[Rejection]):
    """``Sequence[Rejection]`` over parallel arrays; message tuples are interned."""

    __slots__ = ("src", "label", "msg", "labels", "messages", "_msg_ids")

    def __init__(self, labels: Sequence[tuple[ActionInfo, tuple[Any, ...]]]) -> None:
        self.src = array("i")
        self.label = array("i")
        self.msg = array("i")
        self.labels = labels
        self.messages: list[tuple[str, ...]] = []
        self._msg_ids: dict[tuple[str, ...], int] = {}

    def add(self, src: int, label: int, messages: tuple[str, ...]) -> None:
        mid = self._msg_ids.get(messages)
        if mid is None:
            mid = self._msg_ids[messages] = len(self.messages)
            self.messages.append(messages)
        self.src.append(src)
        self.label.append(label)
        self.msg.append(mid)

    def __len__(self) -> int:
        return len(self.src)

    @overload
    def __getitem__(self, i: int) -> Rejection: ...
    @overload
    def __getitem__(self, i: slice) -> list[Rejection]: ...
    def __getitem__(self, i: int | slice) -> Rejection | list[Rejection]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        act, args = self.labels[self.label[i]]
        return Rejection(self.src[i], act.name, args, self.messages[self.msg[i]])

    def __iter__(self) -> Iterator[Rejection]:
        for i in range(len(self)):
            yield self[i]


class Parents(Sequence[int | None]):
    """``parent[i]``: index into ``edges`` of the edge that first reached state i, None
    for the initial state (stored as -1 in an int array)."""

    __slots__ = ("arr",)

    def __init__(self) -> None:
        self.arr = array("i")

    def __len__(self) -> int:
        return len(self.arr)

    @overload
    def __getitem__(self, i: int) -> int | None: ...
    @overload
    def __getitem__(self, i: slice) -> list[int | None]: ...
    def __getitem__(self, i: int | slice) -> int | None | list[int | None]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        p = self.arr[i]
        return None if p < 0 else p


@dataclass
class StateGraph:
    model: SpecModel
    states: list[State]  # state id = index; 0 is the initial state
    index: dict[State, int]
    edges: EdgeList  # every enabled (state, action, args) -> successor
    rejections: RejectionList  # every (state, action, args) whose guards all failed
    parent: Parents  # BFS tree: index into edges of the edge that first reached each state
    depth: array  # type: ignore[type-arg]
    complete: bool = True  # False when max_states / max_depth cut the search
    errors: list[str] = field(default_factory=list)  # spec bugs met while exploring
    flags: bytearray = field(default_factory=bytearray)  # TERMINAL | BROKEN | ... per state
    broken: dict[int, tuple[str, ...]] = field(default_factory=dict)  # state -> invariants
    windows: dict[int, tuple[bool, ...]] = field(default_factory=dict)  # state -> open flags
    unexplored: tuple[str, ...] = ()  # actions without finite domains (complete is False)
    error_count: int = 0  # spec-bug occurrences, including repeats not kept in ``errors``
    error_state: dict[int, str] = field(default_factory=dict)  # first bug met at a state

    def path_to(self, state_id: int) -> list[Edge]:
        """The shortest path (BFS tree) from the initial state to ``state_id``."""
        path: list[Edge] = []
        arr = self.parent.arr
        p = arr[state_id]
        while p >= 0:
            e = self.edges[p]
            path.append(e)
            p = arr[e.src]
        path.reverse()
        return path

    def as_dict(self, state_id: int) -> dict[str, Any]:
        return self.model.as_dict(self.states[state_id])

    def _bug(self, sid: int, message: str) -> None:
        self.flags[sid] |= ERROR
        self.error_count += 1
        self.error_state.setdefault(sid, message)
        if len(self.errors) < MAX_ERRORS and message not in self.errors:
            self.errors.append(message)


def explore_graph(
    model: SpecModel,
    *,
    max_states: int = 1_000_000,
    max_depth: int | None = None,
    progress: Callable[[int, int, int], None] | None = None,
    rejections: bool = True,
) -> StateGraph:
    """Breadth-first search from ``model.initial``.

    ``max_states`` caps the states kept; ``max_depth`` the steps from the initial state.
    Past a bound, states already found are still expanded (their edges between known
    states recorded) but new successors are dropped and the source marked ``CUT``;
    ``complete`` is then False. ``progress(states, depth, edges)`` is called every
    ``PROGRESS_EVERY`` expanded states. ``rejections=False`` skips recording them (a
    checker does not need them; they are most of the (state, action) pairs).
    """
    labels: list[tuple[ActionInfo, tuple[Any, ...]]] = []
    unexplored = []
    for act in model.actions.values():
        if act.domains is None:
            unexplored.append(act.name)
            continue
        labels.extend((act, args) for args in act.arg_tuples())
    g = StateGraph(model=model, states=[], index={}, edges=EdgeList(labels),
                   rejections=RejectionList(labels), parent=Parents(), depth=array("i"),
                   unexplored=tuple(unexplored), complete=not unexplored)
    stepper = Stepper(model)
    _add(g, stepper, model.initial, -1, 0)
    states, index, flags = g.states, g.index, g.flags
    e_src, e_lab, e_dst = g.edges.src, g.edges.label, g.edges.dst
    rej = g.rejections if rejections else None
    step = stepper.step
    stop = TERMINAL | BROKEN | ERROR
    head = 0
    while head < len(states):
        sid = head
        head += 1
        if flags[sid] & stop:
            continue
        d = g.depth[sid]
        closed = (max_depth is not None and d >= max_depth)
        s = states[sid]
        enabled = False
        for lab, (act, args) in enumerate(labels):
            succ, rejects, errors = step(s, act, args)
            if errors:
                for msg in errors:
                    g._bug(sid, msg)
            if not succ:
                if rejects and rej is not None:
                    rej.add(sid, lab, rejects)
                continue
            enabled = True
            for nxt in succ:
                nid = index.get(nxt)
                if nid is None:
                    if closed or len(states) >= max_states:
                        flags[sid] |= CUT
                        g.complete = False
                        continue
                    nid = _add(g, stepper, nxt, len(e_src), d + 1)
                e_src.append(sid)
                e_lab.append(lab)
                e_dst.append(nid)
        if enabled:
            flags[sid] |= ENABLED
        if progress is not None and head % PROGRESS_EVERY == 0:
            progress(len(states), d, len(e_src))
    if progress is not None:
        progress(len(states), g.depth[-1], len(e_src))
    return g


def _add(g: StateGraph, stepper: Stepper, state: State, parent: int, depth: int) -> int:
    sid = len(g.states)
    g.states.append(state)
    g.index[state] = sid
    g.parent.arr.append(parent)
    g.depth.append(depth)
    try:
        broken, wins, terminal = stepper.facts(state)
    except SpecBug as bug:
        g.flags.append(0)
        g._bug(sid, str(bug))
        return sid
    f = TERMINAL if terminal else 0
    if broken:
        f |= BROKEN
        g.broken[sid] = broken
    if True in wins:
        f |= OPEN
        g.windows[sid] = wins
    g.flags.append(f)
    return sid

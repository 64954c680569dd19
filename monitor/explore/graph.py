"""The reachable state graph of a spec: breadth-first search over every action (hidden
ones too) and every argument tuple of its declared finite domains; ``choose`` forks are
successors of one step.

What is expanded: every reachable state except those that are terminal (the monitor
drops a finished instance, so nothing can follow), those that break an invariant (the
monitor discards such successors; expanding them would also let an unchecked counter
grow forever), and those whose facts raised (a spec bug). BFS order makes state ids
non-decreasing in depth, so ``path_to`` gives a shortest path.

Memory is what bounds the search (a million states is the design point), so per-state
data are typed arrays and the edges are parallel arrays of ints (target and label, 5-6
bytes an edge; the source is implied by the edge's position) behind a
``Sequence[Edge]`` view; ``Edge`` objects exist only while a
caller looks at them. The ``index`` dict and the state tuples themselves dominate.

Pure: no I/O, no clock. Progress is a callback; the caller measures time.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from monitor.explore.stepper import Stepper, labels_of
from monitor.spec.model import ActionInfo, SpecModel

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
T = TypeVar("T")

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


class _View(Sequence[T]):
    """A read-only sequence computed from arrays: subclasses give ``__len__`` and
    ``_at``; slices come back as lists."""

    __slots__ = ()

    def _at(self, i: int) -> T:
        raise NotImplementedError

    @overload
    def __getitem__(self, i: int) -> T: ...
    @overload
    def __getitem__(self, i: slice) -> list[T]: ...
    def __getitem__(self, i: int | slice) -> T | list[T]:
        if isinstance(i, slice):
            return [self._at(j) for j in range(*i.indices(len(self)))]
        return self._at(i)


class EdgeList(_View[Edge]):
    """``Sequence[Edge]`` over int arrays. A state's out-edges are contiguous (states
    are expanded in id order), so the source is not stored per edge: ``start[sid]`` is
    the index of the first edge of state ``sid``. An edge costs 4 bytes (its target)
    plus 1-2 for its (action, args) label, instead of ~120 for an object with boxed
    ints."""

    __slots__ = ("start", "label", "dst", "labels")

    def __init__(self, labels: Sequence[tuple[ActionInfo, tuple[Any, ...]]]) -> None:
        self.start = array("i")
        self.label = array(_small_code(len(labels)))
        self.dst = array("i")
        self.labels = labels

    def __len__(self) -> int:
        return len(self.dst)

    def src_of(self, i: int) -> int:
        if i < 0:
            i += len(self.dst)
        if not 0 <= i < len(self.dst):
            raise IndexError("edge index out of range")
        return bisect_right(self.start, i) - 1

    def out(self, sid: int) -> range:
        """Indexes of the out-edges of ``sid`` (empty until it is expanded)."""
        start = self.start
        if sid >= len(start):
            return range(0)
        return range(start[sid], start[sid + 1] if sid + 1 < len(start) else len(self.dst))

    def _at(self, i: int) -> Edge:
        src = self.src_of(i)
        act, args = self.labels[self.label[i]]
        return Edge(src, act.name, args, self.dst[i], act.hidden)

    def __iter__(self) -> Iterator[Edge]:
        labels, label, dst = self.labels, self.label, self.dst
        for sid in range(len(self.start)):
            for i in self.out(sid):
                act, args = labels[label[i]]
                yield Edge(sid, act.name, args, dst[i], act.hidden)


def _small_code(n: int) -> str:
    """The smallest unsigned array type code holding 0..n-1."""
    return "B" if n <= 1 << 8 else "H" if n <= 1 << 16 else "I"


class RejectionList(_View[Rejection]):
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

    def _at(self, i: int) -> Rejection:
        act, args = self.labels[self.label[i]]
        return Rejection(self.src[i], act.name, args, self.messages[self.msg[i]])

    def __iter__(self) -> Iterator[Rejection]:
        for i in range(len(self)):
            yield self[i]


class Parents(_View[int | None]):
    """``parent[i]``: index into ``edges`` of the edge that first reached state i, None
    for the initial state (stored as -1 in an int array)."""

    __slots__ = ("arr",)

    def __init__(self) -> None:
        self.arr = array("i")

    def __len__(self) -> int:
        return len(self.arr)

    def _at(self, i: int) -> int | None:
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
    error_state: dict[str, int] = field(default_factory=dict)  # bug -> first state meeting it

    def path_to(self, state_id: int) -> list[Edge]:
        """The shortest path (BFS tree) from the initial state to ``state_id``."""
        path: list[Edge] = []
        arr = self.parent.arr
        p = arr[state_id]
        while p >= 0:
            e = self.edges[p]
            path.append(e)
            p = arr[e.src]  # src_of: a bisect, O(log n) per step
        path.reverse()
        return path

    def as_dict(self, state_id: int) -> dict[str, Any]:
        return self.model.as_dict(self.states[state_id])

    def _bug(self, sid: int, message: str) -> None:
        self.flags[sid] |= ERROR
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS and message not in self.error_state:
            self.error_state[message] = sid
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
    labels, unexplored = labels_of(model)
    g = StateGraph(model=model, states=[], index={}, edges=EdgeList(labels),
                   rejections=RejectionList(labels), parent=Parents(), depth=array("i"),
                   unexplored=unexplored, complete=not unexplored)
    stepper = Stepper(model, labels)
    visit = stepper.visit
    _add(g, model.initial, -1, 0)
    states, index, flags, depth = g.states, g.index, g.flags, g.depth
    e_start, e_lab, e_dst = g.edges.start, g.edges.label, g.edges.dst
    lab_add, dst_add = e_lab.append, e_dst.append
    rej = g.rejections if rejections else None
    head = 0
    while head < len(states):
        sid = head
        head += 1
        e_start.append(len(e_dst))  # every state, expanded or not, in id order
        s = states[sid]
        facts, moves, rejects, errors = visit(s, rej is not None)
        for msg in errors:
            g._bug(sid, msg)
        if facts is None:
            continue
        broken, wins, terminal = facts
        f = flags[sid] | (TERMINAL if terminal else 0)
        if broken:
            f |= BROKEN
            g.broken[sid] = broken
        if True in wins:
            f |= OPEN
            g.windows[sid] = wins
        if rej is not None:
            for lab, messages in rejects:
                rej.add(sid, lab, messages)
        d = depth[sid]
        at_limit = max_depth is not None and d >= max_depth
        for lab, nxt in moves:
            try:
                nid = index.get(nxt)
            except TypeError:  # the spec left an unhashable value in the state
                for msg in stepper.general(s, lab):
                    g._bug(sid, msg)
                f |= ERROR
                continue
            if nid is None:
                if at_limit or len(states) >= max_states:
                    f |= CUT
                    g.complete = False
                    continue
                nid = _add(g, nxt, len(e_dst), d + 1)
            lab_add(lab)
            dst_add(nid)
        if moves:
            f |= ENABLED
        flags[sid] = f
        if progress is not None and head % PROGRESS_EVERY == 0:
            progress(len(states), d, len(e_dst))
    if progress is not None:
        progress(len(states), depth[-1], len(e_dst))
    return g


def _add(g: StateGraph, state: State, parent: int, depth: int) -> int:
    sid = len(g.states)
    g.states.append(state)
    g.index[state] = sid
    g.parent.arr.append(parent)
    g.depth.append(depth)
    g.flags.append(0)
    return sid

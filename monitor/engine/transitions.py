"""Candidate-state sets as interned nodes of a lazily built transition graph.

``post(S, action, args)`` is the heart of monitoring (DESIGN.md, "Semantics"): every
state reachable from the set ``S`` by at most ``hidden_steps`` hidden actions and then
the observed action, keeping successors that satisfy every invariant. Actions are pure
functions of (state, args), so each distinct set is interned once as a ``Node`` that
memoises its outgoing steps: in steady state an event costs two dict lookups here and
no spec code runs. A node also caches what the engine asks of every set (open
``within`` windows, terminal). Tables are bounded: the intern table is cleared when
full (nodes still held by instances stay valid), and each node's memo is capped.

Transition coverage rides on the memo: an allowed step from a one-state set to a
one-state set is memoised as an ``Edge`` that the engine bumps on every event taking it
(one attribute increment), registered once per distinct (state, action, args, state)
up to ``max_edges``. Steps from or to larger sets stay plain ``Node`` memo entries, and
the engine counts them as ambiguous.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any

from monitor.spec.model import ActionInfo, SpecBug, SpecModel

__all__ = ["INVARIANT", "OK", "SPEC_ERROR", "UNEXPECTED", "Cut", "Edge", "Node", "Post",
           "Transitions"]

State = tuple[Any, ...]
States = tuple[State, ...]

OK, UNEXPECTED, INVARIANT, SPEC_ERROR = 0, 1, 2, 3

#: memoised (action, args) outcomes per node; past this the node's memo is cleared
MOVES_PER_NODE = 4096


class Node:
    """An interned candidate-state set and its memoised outgoing steps."""

    __slots__ = ("states", "moves", "flags", "opens", "terminal", "error")

    def __init__(self, states: States) -> None:
        self.states = states
        self.moves: dict[str, dict[tuple[Any, ...], Any]] = {}
        self.flags: tuple[bool, ...] = ()  # per within: open in every candidate state
        self.opens = False  # any flag set
        self.terminal = False  # every candidate state terminal
        self.error: SpecBug | None = None  # the spec raised while evaluating the above


class Post:
    """A step that did not produce a successor set: a verdict, or a spec error."""

    __slots__ = ("kind", "prop", "message")

    def __init__(self, kind: int, prop: str, message: str) -> None:
        self.kind = kind
        self.prop = prop  # action name (unexpected), invariant name, or where (spec error)
        self.message = message


class Cut:
    """A step whose successor set was cut to ``max_states``: the kept ``node`` and how
    many candidate states were ``dropped`` (counted as overflow on every such event)."""

    __slots__ = ("node", "dropped")

    def __init__(self, node: Node, dropped: int) -> None:
        self.node = node
        self.dropped = dropped


class Edge:
    """A memoised step from a one-state set to a one-state set: the successor ``dst``
    and ``n``, how many events took it. Registered in ``Transitions.edges`` under
    (state, action, args, state), so its count outlives the memo entry; one registered
    edge serves every node holding the same state (the intern table may hold several
    after a clear). ``dst`` is None only for counts restored from a snapshot until the
    step is computed again."""

    __slots__ = ("dst", "n")

    def __init__(self, dst: Node | None, n: int = 0) -> None:
        self.dst = dst
        self.n = n


Result = Node | Post | Cut
Entry = Edge | Node | Post | Cut  # what a node's memo holds
EdgeKey = tuple[State, str, tuple[Any, ...], State]


class Transitions:
    def __init__(self, model: SpecModel, *, hidden_steps: int, max_states: int,
                 memo_size: int, max_edges: int = 10_000) -> None:
        self.model = model
        self.hidden_steps = hidden_steps if model.hidden else 0
        self.max_states = max_states
        self.memo_size = memo_size
        self.max_edges = max_edges
        #: transition coverage: (state, action, args, state) -> its edge, in first-seen
        #: order; never shrinks, at most ``max_edges`` (later ones stay uncounted nodes)
        self.edges: dict[EdgeKey, Edge] = {}
        self._nodes: dict[States, Node] = {}
        self._closure: dict[State, tuple[State, ...]] = {}
        self._facts: dict[State, tuple[tuple[str, ...], tuple[bool, ...], bool]] = {}
        self._flags: dict[tuple[bool, ...], tuple[bool, ...]] = {}

    def node(self, states: States) -> Node:
        hit = self._nodes.get(states)
        if hit is None:
            if len(self._nodes) >= self.memo_size:
                self._nodes.clear()
            hit = self._nodes[states] = Node(states)
            self._describe(hit)
        return hit

    def step(self, node: Node, act: ActionInfo, args: tuple[Any, ...]) -> Result:
        """The memoised step, not counted as coverage (history folds, adoption)."""
        entry = self.move(node, act, args)
        return entry.dst if entry.__class__ is Edge else entry  # type: ignore[union-attr,return-value]

    def move(self, node: Node, act: ActionInfo, args: tuple[Any, ...]) -> Entry:
        """The memo entry for a step; engine hot paths inline the lookup and call this
        on a miss. An ``Edge`` is the caller's to count."""
        moves = node.moves.get(act.name)
        if moves is not None:
            hit = moves.get(args)
            if hit is not None:
                return hit  # type: ignore[no-any-return]
        else:
            moves = node.moves[act.name] = {}
        entry: Entry = self._compute(node.states, act, args)
        if entry.__class__ is Node and len(node.states) == 1 and len(entry.states) == 1:  # type: ignore[union-attr]
            entry = self._edge(node.states[0], act.name, args, entry)  # type: ignore[arg-type]
        if len(moves) >= MOVES_PER_NODE:
            moves.clear()
        moves[args] = entry
        return entry

    def _edge(self, src: State, action: str, args: tuple[Any, ...], dst: Node) -> Edge | Node:
        key = (src, action, args, dst.states[0])
        edge = self.edges.get(key)
        if edge is None:
            if len(self.edges) >= self.max_edges:
                return dst  # table full: the engine counts the step as overflow
            edge = self.edges[key] = Edge(dst)
        elif edge.dst is None:
            edge.dst = dst
        return edge

    def _compute(self, states: States, act: ActionInfo, args: tuple[Any, ...]) -> Result:
        model = self.model
        if len(states) == 1 and not self.hidden_steps:
            # the common miss: one state, no hidden steps, one successor that keeps the
            # invariants. The action's scratch instance is the view for the successor's
            # facts, and its node is built from them directly: about half the work of
            # the general path below, which handles (and reports) everything else
            got = model.successor(states[0], act, args)
            if got is not None:
                succ, view = got
                facts = self._facts.get(succ)
                if facts is None:
                    try:
                        facts = model.facts_in(view)
                    except SpecBug:
                        facts = None  # the general path reports it
                    else:
                        if len(self._facts) >= self.memo_size:
                            self._facts.clear()
                        self._facts[succ] = facts
                if facts is not None and not facts[0]:
                    return self._single((succ,), facts)
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
            return Post(SPEC_ERROR, bug.where, str(bug))
        if errors:
            return Post(SPEC_ERROR, act.qualname, "; ".join(dict.fromkeys(errors)))
        if found:
            succ = tuple(found)
            dropped = len(succ) - self.max_states
            node = self.node(succ[: self.max_states] if dropped > 0 else succ)
            if node.error is not None:
                return Post(SPEC_ERROR, node.error.where, str(node.error))
            return Cut(node, dropped) if dropped > 0 else node
        if stepped:
            names = tuple(broken)
            return Post(INVARIANT, names[0],
                        f"every successor of {act.name}{fmt_args(args)} breaks {', '.join(names)}")
        why = "; ".join(rejects) or "action not enabled"
        return Post(UNEXPECTED, act.name, f"{act.name}{fmt_args(args)} not allowed: {why}")

    def _single(self, states: States, facts: tuple[tuple[str, ...], tuple[bool, ...], bool]) -> Node:
        """``node`` for a one-state set whose state's facts are known (and raised no
        SpecBug)."""
        hit = self._nodes.get(states)
        if hit is None:
            if len(self._nodes) >= self.memo_size:
                self._nodes.clear()
            hit = self._nodes[states] = Node(states)
            flags = facts[1]
            hit.flags = self._flags.setdefault(flags, flags)
            hit.opens = True in flags
            hit.terminal = facts[2]
        return hit

    def _describe(self, node: Node) -> None:
        """Deadlines are conservative: a window counts as open only if it is open in
        every candidate state, so an ambiguous set never raises a false deadline alarm."""
        model = self.model
        n = len(model.withins)
        flags = [True] * n
        terminal = bool(node.states)
        try:
            for s in node.states:
                _bad, f, term = self.facts(s)
                for i in range(n):
                    flags[i] = flags[i] and f[i]
                terminal = terminal and term
        except SpecBug as bug:
            node.error = bug
            return
        ft = tuple(flags)
        node.flags = self._flags.setdefault(ft, ft)  # interned: compared by identity
        node.opens = True in ft
        node.terminal = terminal

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
        return self.facts(state)[0]

    def facts(self, state: State) -> tuple[tuple[str, ...], tuple[bool, ...], bool]:
        """(broken invariants, window flags, terminal) of one state, memoised."""
        hit = self._facts.get(state)
        if hit is None:
            hit = self.model.facts(state)
            if len(self._facts) >= self.memo_size:
                self._facts.clear()
            self._facts[state] = hit
        return hit


def fmt_args(args: tuple[Any, ...]) -> str:
    return "(" + ", ".join(repr(a) for a in args) + ")"

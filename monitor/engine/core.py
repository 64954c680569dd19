"""The monitoring engine: events in, verdicts out.

Per key it holds the set of spec states consistent with the events seen so far and
advances it event by event (DESIGN.md, "Semantics of monitoring"):

1. drop duplicates by event id; count events older than the watermark as ``late``;
2. buffer the rest and release them in event-time order once the watermark
   (max event time seen - ``allowed_lateness``) passes them, firing ``within``
   deadlines that fall strictly before each released event;
3. step the candidate set (``Transitions.post``): allowed -> new set; not allowed ->
   ``unexpected``; only invariant-breaking successors -> ``invariant``; the spec's own
   code raised -> a ``SpecErrorReport``, never a violation;
4. first event of an unknown key: the ``late_join`` policy; after a violation: the
   ``after_violation`` policy; terminal sets are evicted (remembered in a bounded
   table), idle instances expire after ``instance_ttl`` of event time.

Must not do I/O or read a clock: time arrives only as event time (``feed``) or as an
explicit ``advance(time)`` from a streaming driver. Verdicts are values returned from
``feed``/``advance``/``flush``; the same calls serve offline replay and live streams.
"""

from __future__ import annotations

import heapq
import math
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, cast

from monitor.engine.adopt import Adopter
from monitor.engine.config import EngineConfig
from monitor.engine.counters import Counters
from monitor.engine.deadlines import Deadlines
from monitor.engine.events import Event, SpecErrorReport, Violation
from monitor.engine.instance import (
    IGNORED,
    QUARANTINED,
    Instance,
    last_time,
    push_history,
    touch,
)
from monitor.engine.timebuf import Dedup, ReorderBuffer
from monitor.engine.transitions import (
    SPEC_ERROR,
    Cut,
    Edge,
    Node,
    Post,
    Transitions,
)
from monitor.errors import ConfigError
from monitor.spec.model import ActionInfo, SpecModel, model_of

__all__ = ["Engine"]

Report = Violation | SpecErrorReport
State = tuple[Any, ...]


class Engine(Deadlines):
    def __init__(self, spec: type | SpecModel, config: EngineConfig | None = None,
                 *, name: str | None = None) -> None:
        model = spec if isinstance(spec, SpecModel) else model_of(spec)
        cfg = config or EngineConfig()
        self.model = model
        self.name = name or model.name
        self.config = cfg
        self.trans = Transitions(model, hidden_steps=cfg.hidden_steps,
                                 max_states=cfg.max_states, memo_size=cfg.memo_size,
                                 max_edges=cfg.max_transitions)
        self.adopter = Adopter(self.trans, cfg.adopt_max_states)
        self.actions = model.actions
        self.action_list: list[ActionInfo] = list(model.actions.values())
        self.action_index = {a.name: i for i, a in enumerate(self.action_list)}
        #: the actions an event may name (hidden ones only happen between events)
        self._observed = {a.name: a for a in model.observed}
        self.initial_node = self.trans.node((model.initial,))
        longest = max((w.seconds for w in model.withins), default=0.0)
        self.ttl = cfg.instance_ttl if cfg.instance_ttl is not None else max(86400.0, 2 * longest)
        if self.ttl < longest + cfg.allowed_lateness:
            raise ConfigError(
                f"instance_ttl ({self.ttl:g}s) is shorter than the longest deadline of "
                f"{model.name} ({longest:g}s) plus allowed_lateness: deadlines would never "
                "fire. Raise instance_ttl or leave it unset."
            )
        self.lateness = cfg.allowed_lateness
        self.instances: dict[str, Instance] = {}
        self.peak_instances = 0  # most live instances at once (memory reports use it)
        # finished instances, kept whole (final states and history, so a late event's
        # report still shows how the lifecycle ended), in finish order, evicted first-in
        # first-out (an OrderedDict: popping the oldest entry of a plain dict is O(n))
        self.finished: OrderedDict[str, Instance] = OrderedDict()
        self.buffer = ReorderBuffer()
        self.dedup = Dedup(cfg.dedup_window, cfg.max_dedup_ids)
        # hot-path aliases of the dedup table; Dedup.restore refills them in place
        self._seen = self.dedup._seen
        self._dedup_order = self.dedup._order
        self._max_ids = cfg.max_dedup_ids
        self._dedup_window = cfg.dedup_window
        self._dedup_slack = cfg.dedup_window * 1.125
        self._late_apply = cfg.late_events == "apply"
        self._max_buffered = cfg.max_buffered
        self._history = cfg.history
        self._timer_limit = 4096
        # (deadline, key, within index); stale entries deleted lazily
        self.timers: list[tuple[float, str, int]] = []
        self.max_time = -math.inf
        self.floor = -math.inf  # events before this are late (after flush / forced release)
        self.wm = -math.inf  # the watermark: max(max_time - lateness, floor)
        self.next_sweep = -math.inf
        self.positions: dict[str, Any] = {}
        self.counters = Counters()
        self._withins = model.withins
        self._win_secs = [float(w.seconds) for w in model.withins]
        self._nwin = len(model.withins)
        for act in model.observed:
            self.counters.by_violation[("unexpected", act.name)] = 0
        for inv, _fn in model.invariants:
            self.counters.by_violation[("invariant", inv)] = 0
        for w in model.withins:
            self.counters.by_violation[("deadline", w.name)] = 0

    # -- driving ------------------------------------------------------------------

    @property
    def watermark(self) -> float:
        return self.wm

    def feed(self, event: Event) -> list[Report]:
        out: list[Report] = []
        self._feed(event, out)
        return out

    def feed_many(self, events: Iterable[Event]) -> list[Report]:
        out: list[Report] = []
        feed = self._feed
        for ev in events:
            feed(ev, out)
        return out

    def advance(self, time: float) -> list[Report]:
        """Streaming drivers call this when input is idle: treat ``time`` as the max
        event time seen, so deadlines fire without traffic."""
        out: list[Report] = []
        if time > self.max_time:
            self.max_time = time
            self._set_floor(self.floor)
            self._release(self.wm, out)
        return out

    def flush(self) -> list[Report]:
        """End of input: apply everything buffered and fire deadlines before the last
        event time. Events older than that are late from now on."""
        out: list[Report] = []
        buf = self.buffer
        while len(buf):
            ev = buf.pop()
            if self.timers and self.timers[0][0] < ev.time:
                self._fire(ev.time, out)
            self._apply(ev, out)
        self._set_floor(self.max_time)
        self._fire(self.max_time, out)
        return out

    def set_position(self, source: str, position: Any) -> None:
        """Record how far a source has been read; saved with the snapshot."""
        self.positions[source] = position

    def _feed(self, ev: Event, out: list[Report]) -> None:
        """One event in. The in-order case is inlined here (this is the hot path):
        dedup, the late check, the deque fast path of the reorder buffer, release."""
        c = self.counters
        c.events += 1
        t = ev.time
        eid = ev.id
        if eid is not None:
            seen = self._seen
            mt = self.max_time
            now = t if t > mt else mt
            prev = seen.get(eid)
            if prev is not None and prev >= now - self._dedup_window:
                c.duplicate += 1
                return
            seen[eid] = now
            order = self._dedup_order
            order.append((eid, now))
            # expire in batches: ids live between 1 and 1.125 windows, so the common
            # case is one comparison rather than a pop per event
            if order[0][1] < now - self._dedup_slack or len(seen) > self._max_ids:
                self.dedup.expire(now)
        wm = self.wm
        if t < wm:
            c.late += 1
            if self._late_apply:
                c.late_applied += 1
                self._apply(ev, out)
            return
        if t > self.max_time:
            self.max_time = t
            if t - self.lateness > wm:
                self.wm = wm = t - self.lateness
        buf = self.buffer
        run = buf._run
        seq = buf._seq = buf._seq + 1
        if not run or run[-1][0] <= t:
            run.append((t, seq, ev))
        else:
            heapq.heappush(buf._heap, (t, seq, ev))
        if buf._heap or len(run) > self._max_buffered:
            self._release(wm, out)
            return
        timers = self.timers
        while run and run[0][0] <= wm:
            et, _seq, e = run.popleft()
            if timers and timers[0][0] < et:
                self._fire(et, out)
            self._apply(e, out)
        if timers and timers[0][0] < wm:
            self._fire(wm, out)
        if wm >= self.next_sweep:
            self._sweep(wm)

    def _set_floor(self, floor: float) -> None:
        if floor > self.floor:
            self.floor = floor
        self.wm = max(self.max_time - self.lateness, self.floor)

    def _release(self, wm: float, out: list[Report]) -> None:
        buf = self.buffer
        timers = self.timers
        while len(buf) > self._max_buffered:  # full: apply the oldest early, counted
            first = buf.pop()
            self.counters.buffer_overflow += 1
            self._set_floor(first.time)
            wm = self.wm
            if timers and timers[0][0] < first.time:
                self._fire(first.time, out)
            self._apply(first, out)
        # merge the in-order run and the heap of out-of-order events, oldest first
        # (ReorderBuffer.peek_time/pop, inlined: this runs per event on shuffled input)
        run, heap = buf._run, buf._heap
        while True:
            # which side holds the oldest entry is kept as a flag, not found again by
            # identity: a compiled build (mypyc) copies tuples, so ``is`` cannot tell
            if run:
                from_heap = bool(heap) and heap[0] < run[0]
                entry = heap[0] if from_heap else run[0]
            elif heap:
                from_heap = True
                entry = heap[0]
            else:
                break
            nt = entry[0]
            if nt > wm:
                break
            if from_heap:
                heapq.heappop(heap)
            else:
                run.popleft()
            if timers and timers[0][0] < nt:
                self._fire(nt, out)
            self._apply(entry[2], out)
        if timers and timers[0][0] < wm:
            self._fire(wm, out)
        if wm >= self.next_sweep:
            self._sweep(wm)

    # -- one event ----------------------------------------------------------------

    def _apply(self, ev: Event, out: list[Report]) -> None:
        # the event's fields are read once into locals: on a compiled build an Event
        # attribute is a generic lookup (msgspec Struct), a local is a register
        key = ev.key
        t = ev.time
        inst = self.instances.get(key)
        if inst is not None and t - inst.last > self.ttl:
            # idle past the TTL: expired whether or not a sweep has run yet, so expiry
            # does not depend on when sweeps happen (arrival order, batching, advance)
            del self.instances[key]
            self.counters.expired += 1
            inst = None
        if inst is not None:
            if inst.mode:
                self._inactive(inst, ev)
                return
            action = ev.action
            args = ev.args
            node = inst.node
            moves = node.moves.get(action)
            entry = moves.get(args) if moves is not None else None
            if entry is None:
                act = self._observed.get(action)
                if act is None:
                    self.counters.unknown_action += 1
                    return
                entry = self.trans.move(node, act, args)
            cls = type(entry)
            if cls is Edge:  # hot path: one state to one state, counted as coverage
                edge = cast(Edge, entry)
                edge.n += 1
                result = cast(Node, edge.dst)  # never None in a memo (only in snapshots)
            elif cls is Node:  # from or to several states, or past the coverage cap
                result = cast(Node, entry)
                if len(node.states) == 1 and len(result.states) == 1:
                    self.counters.transitions_overflow += 1
                else:
                    self.counters.transitions_ambiguous += 1
            else:
                self._slow(inst, key, ev, entry, out)
                return
            self.counters.applied += 1
            inst.node = result
            push_history(inst, t, self.action_index[action], args, self._history, self)
            if result.terminal:
                self._finish(key, result, t)
            elif result.flags is not node.flags or inst.win is not None or result.opens:
                self._windows(inst, key, result.flags, t)
            return
        self._first(key, ev, out)

    def _inactive(self, inst: Instance, ev: Event) -> None:
        if inst.mode == QUARANTINED:
            self.counters.quarantined += 1
        else:
            self.counters.ignored += 1
        touch(inst, ev.time)

    def _slow(self, inst: Instance, key: str, ev: Event, result: Any, out: list[Report]) -> None:
        act = self.actions[ev.action]
        if type(result) is Cut:
            self.counters.overflow += 1
            self.counters.overflow_states += result.dropped
            self.counters.transitions_ambiguous += 1  # several successors: not one edge
            self._advance(inst, key, ev, act, result.node)
        elif result.kind == SPEC_ERROR:
            self._spec_error(key, ev, act, result.prop, result.message, out)
        else:
            self._violate(inst, key, ev, act, result, out)

    def _first(self, key: str, ev: Event, out: list[Report]) -> None:
        """First event for a key with no live instance: a finished one, or a new one."""
        c = self.counters
        action = ev.action
        act = self._observed.get(action)
        if act is None:  # not an action, or a hidden one: neither can be observed
            c.unknown_action += 1
            return
        fin = self.finished.pop(key, None)
        if fin is not None:
            c.resumed += 1
            # the finished instance itself, with its history; finished instances do not
            # expire by TTL (the table is bounded by count), so it resumes as of now
            touch(fin, ev.time)
            self._admit(key, fin)
            self._apply(ev, out)
            return
        initial = self.initial_node
        args = ev.args
        moves = initial.moves.get(action)  # Transitions.move's lookup, inlined
        entry = moves.get(args) if moves is not None else None
        if entry is None:
            entry = self.trans.move(initial, act, args)
        cls = type(entry)
        if cls is Edge:
            edge = cast(Edge, entry)
            edge.n += 1
            self._advance(self._admit(key, Instance(initial, ev.time)), key, ev, act,
                          cast(Node, edge.dst))
        elif cls is Node:
            inst = self._admit(key, Instance(initial, ev.time))
            self._uncounted(initial, cast(Node, entry))
            self._advance(inst, key, ev, act, cast(Node, entry))
        elif cls is Cut:
            self._slow(self._admit(key, Instance(initial, ev.time)), key, ev, entry, out)
        else:
            post = cast(Post, entry)
            if post.kind == SPEC_ERROR:
                self._spec_error(key, ev, act, post.prop, post.message, out)
            else:
                self._join(key, ev, act, post, out)

    def _join(self, key: str, ev: Event, act: ActionInfo, post: Post, out: list[Report]) -> None:
        policy = self.config.late_join
        c = self.counters
        if policy == "strict":
            inst = self._new_instance(key, self.initial_node, ev.time)
            self._violate(inst, key, ev, act, post, out)
            return
        if policy == "adopt":
            adopted = self.adopter.adopt(act, ev.args)
            if adopted is not None:
                before, result = adopted
                inst = self._new_instance(key, before, ev.time)
                c.adopted += 1
                if type(result) is Cut:
                    self._slow(inst, key, ev, result, out)
                else:
                    self._uncounted(before, cast(Node, result))
                    self._advance(inst, key, ev, act, cast(Node, result))
                return
        # ignore, or nothing reachable allows the step: no false alarm, stop tracking
        inst = self._new_instance(key, self.initial_node, ev.time)
        inst.mode = IGNORED
        c.join_ignored += 1

    def _advance(self, inst: Instance, key: str, ev: Event, act: ActionInfo, node: Node) -> None:
        """An allowed step outside the hot path (first event, overflow)."""
        self.counters.applied += 1
        old = inst.node
        inst.node = node
        t = ev.time
        push_history(inst, t, self.action_index[ev.action], ev.args, self._history, self)
        if node.terminal:
            self._finish(key, node, t)
        elif node.flags is not old.flags or inst.win is not None or node.opens:
            self._windows(inst, key, node.flags, t)

    def _uncounted(self, src: Node, dst: Node) -> None:
        """An allowed step memoised as a plain node: from or to several candidate
        states (ambiguous), or one-to-one past the coverage table's cap (overflow)."""
        if len(src.states) == 1 and len(dst.states) == 1:
            self.counters.transitions_overflow += 1
        else:
            self.counters.transitions_ambiguous += 1

    def transition_counts(self) -> dict[tuple[State, str, tuple[Any, ...], State], int]:
        """Transition coverage: events per (state, action, args, successor state), for
        steps from a one-state candidate set to a one-state set. Steps from or to larger
        sets are counted in ``counters.transitions_ambiguous``; one-to-one steps not
        counted because ``max_transitions`` distinct entries were already held, in
        ``counters.transitions_overflow``. Saved in snapshots."""
        return {k: e.n for k, e in self.trans.edges.items() if e.n}

    def _finish(self, key: str, node: Node, t: float) -> None:
        inst = self.instances.pop(key)
        inst.win = None  # its timers are stale from now on
        self.counters.finished += 1
        fin = self.finished
        fin[key] = inst  # a resumed key was popped when it resumed: this goes last
        if len(fin) > self.config.max_finished:
            fin.popitem(last=False)

    def _fold(self, node: Node, index: int, args: tuple[Any, ...]) -> Node:
        result = self.trans.step(node, self.action_list[index], args)
        if type(result) is Cut:
            return cast(Cut, result).node
        return cast(Node, result) if type(result) is Node else node

    # -- housekeeping ---------------------------------------------------------------

    def _new_instance(self, key: str, node: Node, t: float) -> Instance:
        return self._admit(key, Instance(node, t))

    def _admit(self, key: str, inst: Instance) -> Instance:
        instances = self.instances
        if len(instances) >= self.config.max_instances:
            del instances[next(iter(instances))]
            self.counters.evicted_capacity += 1
        instances[key] = inst
        if len(instances) > self.peak_instances:
            self.peak_instances = len(instances)
        return inst

    def _sweep(self, wm: float) -> None:
        """Forget instances idle for ``ttl`` of event time. O(instances), run every
        ttl/8 of watermark progress, so amortised cost per event is tiny."""
        horizon = wm - self.ttl
        stale = [k for k, inst in self.instances.items() if last_time(inst) < horizon]
        for k in stale:
            del self.instances[k]
        self.counters.expired += len(stale)
        self.next_sweep = wm + self.ttl / 8

    # -- checkpoints ----------------------------------------------------------------

    def snapshot(self) -> bytes:
        from monitor.engine.snapshot import dump

        return dump(self)

    def restore(self, data: bytes) -> None:
        """Load a snapshot into this (fresh) engine."""
        from monitor.engine.snapshot import load

        load(self, data)

    @property
    def live_instances(self) -> int:
        return len(self.instances)

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
from collections.abc import Iterable
from typing import Any

from monitor.engine.adopt import Adopter
from monitor.engine.config import EngineConfig
from monitor.engine.counters import Counters
from monitor.engine.events import Event, SpecErrorReport, Violation
from monitor.engine.instance import ACTIVE, IGNORED, QUARANTINED, Instance, push_history
from monitor.engine.reports import fmt_duration, fmt_time, history_of, states_as_dicts
from monitor.engine.timebuf import Dedup, ReorderBuffer
from monitor.engine.transitions import INVARIANT, OK, SPEC_ERROR, Post, Transitions
from monitor.errors import ConfigError
from monitor.spec.model import ActionInfo, SpecBug, SpecModel, model_of

__all__ = ["Engine"]

Report = Violation | SpecErrorReport
_KIND = {1: "unexpected", 2: "invariant"}


class Engine:
    def __init__(self, spec: type | SpecModel, config: EngineConfig | None = None,
                 *, name: str | None = None) -> None:
        model = spec if isinstance(spec, SpecModel) else model_of(spec)
        cfg = config or EngineConfig()
        self.model = model
        self.name = name or model.name
        self.config = cfg
        self.trans = Transitions(model, hidden_steps=cfg.hidden_steps,
                                 max_states=cfg.max_states, memo_size=cfg.memo_size)
        self.adopter = Adopter(self.trans, cfg.adopt_max_states)
        self.actions = model.actions
        self.action_list: list[ActionInfo] = list(model.actions.values())
        self.action_index = {a.name: i for i, a in enumerate(self.action_list)}
        self.initial_states = self.trans.intern((model.initial,))
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
        self.finished: dict[str, tuple[tuple[Any, ...], float]] = {}
        self.buffer = ReorderBuffer()
        self.dedup = Dedup(cfg.dedup_window, cfg.max_dedup_ids)
        self.timers: list[tuple[float, int, str, int, float]] = []
        self.timer_seq = 0
        self.max_time = -math.inf
        self.floor = -math.inf  # events before this are late (after flush / forced release)
        self.next_sweep = -math.inf
        self.positions: dict[str, Any] = {}
        self.counters = Counters()
        self._withins = model.withins
        for act in model.observed:
            self.counters.by_violation[("unexpected", act.name)] = 0
        for inv, _fn in model.invariants:
            self.counters.by_violation[("invariant", inv)] = 0
        for w in model.withins:
            self.counters.by_violation[("deadline", w.name)] = 0

    # -- driving ------------------------------------------------------------------

    @property
    def watermark(self) -> float:
        return max(self.max_time - self.lateness, self.floor)

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
            self._release(self.watermark, out)
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
        if self.max_time > self.floor:
            self.floor = self.max_time
        self._fire(self.max_time, out)
        return out

    def set_position(self, source: str, position: Any) -> None:
        """Record how far a source has been read; saved with the snapshot."""
        self.positions[source] = position

    def _feed(self, ev: Event, out: list[Report]) -> None:
        c = self.counters
        c.events += 1
        t = ev.time
        if ev.id is not None and self.dedup.seen(ev.id, t, max(t, self.max_time)):
            c.duplicate += 1
            return
        wm = self.max_time - self.lateness
        if t < wm or t < self.floor:
            c.late += 1
            if self.config.late_events == "apply":
                c.late_applied += 1
                self._apply(ev, out)
            return
        if t > self.max_time:
            self.max_time = t
            wm = t - self.lateness
        buf = self.buffer
        buf.push(t, ev)
        if len(buf) > self.config.max_buffered:
            first = buf.pop()
            c.buffer_overflow += 1
            self.floor = max(self.floor, first.time)
            self._fire(first.time, out)
            self._apply(first, out)
        self._release(max(wm, self.floor), out)

    def _release(self, wm: float, out: list[Report]) -> None:
        buf = self.buffer
        timers = self.timers
        while len(buf):
            nt = buf.peek_time()
            if nt is None or nt > wm:
                break
            ev = buf.pop()
            if timers and timers[0][0] < nt:
                self._fire(nt, out)
            self._apply(ev, out)
        if timers and timers[0][0] < wm:
            self._fire(wm, out)
        if wm >= self.next_sweep:
            self._sweep(wm)

    # -- one event ----------------------------------------------------------------

    def _apply(self, ev: Event, out: list[Report]) -> None:
        c = self.counters
        act = self.actions.get(ev.action)
        if act is None or act.hidden:
            c.unknown_action += 1
            return
        key = ev.key
        inst = self.instances.get(key)
        joined = False
        if inst is None:
            fin = self.finished.pop(key, None)
            if fin is not None:
                c.resumed += 1
                inst = self._new_instance(key, fin[0], ev.time)
                states = fin[0]
            else:
                joined = True
                states = self.initial_states
        elif inst.mode:
            if inst.mode == QUARANTINED:
                c.quarantined += 1
            else:
                c.ignored += 1
            if ev.time > inst.last:
                inst.last = ev.time
            return
        else:
            states = inst.states
        post = self.trans.post(states, act, ev.args)
        kind = post.kind
        if kind == OK:
            if inst is None:
                inst = self._new_instance(key, states, ev.time)
            self._advance(inst, key, ev, act, post, out)
        elif kind == SPEC_ERROR:
            self._spec_error(key, ev, act, post.prop, post.message, out)
        elif joined:
            self._join(key, ev, act, post, out)
        else:
            assert inst is not None
            self._violate(inst, key, ev, act, post, out)

    def _join(self, key: str, ev: Event, act: ActionInfo, post: Post, out: list[Report]) -> None:
        policy = self.config.late_join
        c = self.counters
        if policy == "strict":
            inst = self._new_instance(key, self.initial_states, ev.time)
            self._violate(inst, key, ev, act, post, out)
            return
        if policy == "adopt":
            adopted = self.adopter.adopt(act, ev.args)
            if adopted is not None:
                before, apost = adopted
                inst = self._new_instance(key, before, ev.time)
                c.adopted += 1
                self._advance(inst, key, ev, act, apost, out)
                return
        # ignore, or nothing reachable allows the step: no false alarm, stop tracking
        inst = self._new_instance(key, self.initial_states, ev.time)
        inst.mode = IGNORED
        c.join_ignored += 1

    def _advance(self, inst: Instance, key: str, ev: Event, act: ActionInfo, post: Post,
                 out: list[Report]) -> None:
        new = post.states
        try:
            flags, terminal = self.trans.info(new)
        except SpecBug as bug:
            self._spec_error(key, ev, act, bug.where, str(bug), out)
            return
        c = self.counters
        c.applied += 1
        if post.overflow:
            c.overflow += 1
            c.overflow_states += post.overflow
        t = ev.time
        inst.states = new
        if t > inst.last:
            inst.last = t
        push_history(inst, t, self.action_index[act.name], ev.args, self.config.history,
                     self._fold)
        if terminal:
            del self.instances[key]
            c.finished += 1
            fin = self.finished
            fin[key] = (new, t)
            if len(fin) > self.config.max_finished:
                del fin[next(iter(fin))]
            return
        if inst.win is not None or True in flags:
            self._windows(inst, key, flags, t)

    def _fold(self, states: tuple[Any, ...], index: int, args: tuple[Any, ...]) -> Any:
        post = self.trans.post(states, self.action_list[index], args)
        return post.states if post.kind == OK else states

    def _windows(self, inst: Instance, key: str, flags: tuple[bool, ...], t: float) -> None:
        win = list(inst.win) if inst.win is not None else [None] * len(flags)
        for i, is_open in enumerate(flags):
            if is_open:
                if win[i] is None:
                    win[i] = t
                    self.timer_seq += 1
                    heapq.heappush(self.timers,
                                   (t + self._withins[i].seconds, self.timer_seq, key, i, t))
            else:
                win[i] = None
        inst.win = tuple(win) if any(w is not None for w in win) else None
        if len(self.timers) > 2 * len(self._withins) * len(self.instances) + 4096:
            self._compact_timers()

    def _fire(self, limit: float, out: list[Report]) -> None:
        """Deadlines strictly before ``limit`` whose window is still open: violations."""
        timers = self.timers
        while timers and timers[0][0] < limit:
            deadline, _seq, key, i, opened = heapq.heappop(timers)
            inst = self.instances.get(key)
            if inst is None or inst.mode != ACTIVE or inst.win is None or inst.win[i] != opened:
                continue  # closed, evicted or superseded: lazily deleted
            w = self._withins[i]
            win = list(inst.win)
            win[i] = None
            inst.win = tuple(win) if any(x is not None for x in win) else None
            self._count_violation("deadline", w.name)
            out.append(Violation(
                spec=self.name, key=key, kind="deadline", property=w.name,
                message=(f"{w.name}: opened at {fmt_time(opened)} and not ended within "
                         f"{fmt_duration(w.seconds)} (deadline {fmt_time(deadline)})"),
                time=deadline,
                history=history_of(self, inst),
                states_before=states_as_dicts(self.model, inst.states),
            ))
            self._after_violation(inst, key)

    def _violate(self, inst: Instance, key: str, ev: Event, act: ActionInfo, post: Post,
                 out: list[Report]) -> None:
        kind = _KIND[post.kind]
        self._count_violation(kind, post.prop)
        out.append(Violation(
            spec=self.name, key=key, kind=kind, property=post.prop, message=post.message,
            time=ev.time, action=act.name, args=dict(zip(act.params, ev.args)),
            record=ev.record, origin=ev.origin, trace_id=ev.trace_id, span_id=ev.span_id,
            history=history_of(self, inst),
            states_before=states_as_dicts(self.model, inst.states),
        ))
        if ev.time > inst.last:
            inst.last = ev.time
        self._after_violation(inst, key)

    def _count_violation(self, kind: str, prop: str) -> None:
        c = self.counters
        c.violations += 1
        k = (kind, prop)
        c.by_violation[k] = c.by_violation.get(k, 0) + 1

    def _after_violation(self, inst: Instance, key: str) -> None:
        if self.config.after_violation == "restart":
            self.instances.pop(key, None)
        else:
            inst.mode = QUARANTINED
            inst.win = None

    def _spec_error(self, key: str, ev: Event, act: ActionInfo, where: str, message: str,
                    out: list[Report]) -> None:
        self.counters.spec_errors += 1
        out.append(SpecErrorReport(
            spec=self.name, key=key, where=where, message=message, time=ev.time,
            action=act.name, args=dict(zip(act.params, ev.args)), record=ev.record,
            origin=ev.origin,
        ))

    # -- housekeeping ---------------------------------------------------------------

    def _new_instance(self, key: str, states: tuple[Any, ...], t: float) -> Instance:
        instances = self.instances
        if len(instances) >= self.config.max_instances:
            del instances[next(iter(instances))]
            self.counters.evicted_capacity += 1
        inst = instances[key] = Instance(states, t)
        return inst

    def _sweep(self, wm: float) -> None:
        """Forget instances idle for ``ttl`` of event time. O(instances), run every
        ttl/8 of watermark progress, so amortised cost per event is tiny."""
        horizon = wm - self.ttl
        stale = [k for k, inst in self.instances.items() if inst.last < horizon]
        for k in stale:
            del self.instances[k]
        self.counters.expired += len(stale)
        old = [k for k, (_s, t) in self.finished.items() if t < horizon]
        for k in old:
            del self.finished[k]
        self.next_sweep = wm + self.ttl / 8

    def _compact_timers(self) -> None:
        live = []
        for entry in self.timers:
            inst = self.instances.get(entry[2])
            if (inst is not None and inst.mode == ACTIVE and inst.win is not None
                    and inst.win[entry[3]] == entry[4]):
                live.append(entry)
        heapq.heapify(live)
        self.counters.deadline_timers_compacted += len(self.timers) - len(live)
        self.timers = live

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

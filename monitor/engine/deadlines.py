"""``within`` deadlines of the engine: open windows and their timers.

Open windows are kept as their deadlines: ``Instance.win`` is the deadline itself (a
float) for a spec with one ``within``, else a tuple with one deadline or None per
``within``. The timer entry (deadline, key, index) shares that float, so an open
window costs one heap entry and no extra objects. Closed windows leave their timer in
the heap (lazy deletion); stale timers are compacted once they outnumber
the live ones. A mixin of ``Engine``, split out to keep modules small. Pure.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING, Any

from monitor.engine.events import Violation
from monitor.engine.instance import ACTIVE, Instance
from monitor.engine.reports import fmt_duration, fmt_time, history_of, states_as_dicts
from monitor.engine.verdicts import Verdicts

if TYPE_CHECKING:
    from monitor.engine.core import Report

__all__ = ["Deadlines"]


class Deadlines(Verdicts):
    """Needs from the engine: ``instances``, ``timers``, ``_withins``, ``_nwin``,
    ``_timer_limit``, ``counters``, ``model``, ``name``; counts and quarantines its
    violations as ``Verdicts`` does."""

    instances: dict[str, Instance]
    timers: list[tuple[float, str, int]]
    _withins: Any
    _win_secs: list[float]  # each within's duration (read per timer: no attribute lookup)
    _nwin: int
    _timer_limit: int
    counters: Any
    model: Any
    name: str

    def _win(self, inst: Instance, i: int) -> float | None:
        win = inst.win
        if win is None or self._nwin == 1:
            return win  # type: ignore[return-value]
        return win[i]  # type: ignore[index]

    def _set_win(self, inst: Instance, i: int, deadline: float | None) -> None:
        if self._nwin == 1:
            inst.win = deadline  # type: ignore[assignment]
            return
        win = list(inst.win) if inst.win is not None else [None] * self._nwin  # type: ignore[arg-type]
        win[i] = deadline
        inst.win = tuple(win) if any(w is not None for w in win) else None  # type: ignore[assignment]

    def _windows(self, inst: Instance, key: str, flags: tuple[bool, ...], t: float) -> None:
        """Open windows whose ``start`` now holds in every candidate state, close those
        that no longer do. Closed windows leave their timer in the heap (lazy deletion,
        compacted when stale timers outnumber live ones)."""
        if self._nwin == 1:  # the common case, without building lists
            if flags[0]:
                if inst.win is None:
                    inst.win = self._push_timer(key, 0, t)  # type: ignore[assignment]
            else:
                inst.win = None
            return
        for i, is_open in enumerate(flags):
            if is_open:
                if self._win(inst, i) is None:
                    self._set_win(inst, i, self._push_timer(key, i, t))
            elif self._win(inst, i) is not None:
                self._set_win(inst, i, None)

    def _push_timer(self, key: str, index: int, opened: float) -> float:
        deadline = opened + self._win_secs[index]
        heapq.heappush(self.timers, (deadline, key, index))
        if len(self.timers) > self._timer_limit:
            self._compact_timers()
            # stale timers may grow to as many as the live ones before the next pass: a
            # pass costs one read per timer, so this keeps it near one read per push
            # (a quarter cost ~4 per push, 5% of an event) for at most twice the heap
            self._timer_limit = 2 * len(self.timers) + 4096
        return deadline

    def _fire(self, limit: float, out: list[Report]) -> None:
        """Deadlines strictly before ``limit`` whose window is still open: violations."""
        timers = self.timers
        while timers and timers[0][0] < limit:
            deadline, key, i = heapq.heappop(timers)
            inst = self.instances.get(key)
            if inst is None or inst.mode != ACTIVE or self._win(inst, i) != deadline:
                continue  # closed, evicted or superseded: lazily deleted
            w = self._withins[i]
            self._set_win(inst, i, None)
            self._count_violation("deadline", w.name)
            opened = deadline - w.seconds
            out.append(Violation(
                spec=self.name, key=key, kind="deadline", property=w.name,
                message=(f"{w.name}: opened at {fmt_time(opened)} and not ended within "
                         f"{fmt_duration(w.seconds)} (deadline {fmt_time(deadline)})"),
                time=deadline,
                history=history_of(self, inst),
                states_before=states_as_dicts(self.model, inst.node.states),
            ))
            self._after_violation(inst, key)

    def _compact_timers(self) -> None:
        get = self.instances.get
        if self._nwin == 1:  # one comprehension, no call per timer: ~1/3 of the cost
            live = [e for e in self.timers
                    if (inst := get(e[1])) is not None and inst.mode == ACTIVE
                    and inst.win == e[0]]
        else:
            live = [e for e in self.timers
                    if (inst := get(e[1])) is not None and inst.mode == ACTIVE
                    and self._win(inst, e[2]) == e[0]]
        heapq.heapify(live)
        self.counters.deadline_timers_compacted += len(self.timers) - len(live)
        self.timers = live

"""The engine's verdicts as values: a ``Violation`` or a ``SpecErrorReport`` built with
the instance's history, the violation counters, and the ``after_violation`` policy. A
mixin of ``Engine`` (the rare path, kept apart from the per-event code in ``core``).

Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any

from monitor.engine.events import Event, SpecErrorReport, Violation
from monitor.engine.instance import QUARANTINED, Instance, touch
from monitor.engine.reports import history_of, states_as_dicts
from monitor.engine.transitions import INVARIANT, UNEXPECTED, Post
from monitor.spec.model import ActionInfo

__all__ = ["Verdicts"]

Report = Violation | SpecErrorReport

_KIND = {UNEXPECTED: "unexpected", INVARIANT: "invariant"}


class Verdicts:
    """Needs from the engine: ``name``, ``model``, ``config``, ``counters`` and
    ``instances``."""

    name: str
    model: Any
    config: Any
    counters: Any
    instances: dict[str, Instance]

    def _violate(self, inst: Instance, key: str, ev: Event, act: ActionInfo, post: Post,
                 out: list[Report]) -> None:
        kind = _KIND[post.kind]
        self._count_violation(kind, post.prop)
        out.append(Violation(
            spec=self.name, key=key, kind=kind, property=post.prop, message=post.message,
            time=ev.time, action=act.name, args=dict(zip(act.params, ev.args)),
            record=ev.record, origin=ev.origin, trace_id=ev.trace_id, span_id=ev.span_id,
            history=history_of(self, inst),
            states_before=states_as_dicts(self.model, inst.node.states),
        ))
        touch(inst, ev.time)
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

"""Engine counters: plain integers bumped on the hot path, read at scrape time by the
metrics collector (no metric-library calls per event). Pure."""

from __future__ import annotations

from typing import Any

__all__ = ["COUNTER_NAMES", "Counters"]

#: every per-event outcome and housekeeping count the engine keeps
COUNTER_NAMES = (
    "events",  # received by the engine (after mapping)
    "applied",  # steps the spec allowed
    "duplicate",  # dropped: event id seen within the dedup window
    "late",  # older than the watermark (then dropped or applied by policy)
    "late_applied",
    "quarantined",  # events for instances quarantined after a violation
    "ignored",  # events for instances ignored by the late-join policy
    "adopted",  # instances started mid-stream by late_join: adopt
    "join_ignored",  # instances the late-join policy could not place
    "violations",
    "spec_errors",  # the spec's own code raised
    "unknown_action",
    "overflow",  # steps whose successor set was cut to max_states
    "overflow_states",  # candidate states dropped by that cut
    "buffer_overflow",  # events released early because the reorder buffer was full
    "finished",  # instances that reached a terminal state
    "resumed",  # events for finished instances (checked against their final states)
    "expired",  # instances forgotten after instance_ttl without events
    "evicted_capacity",  # instances forgotten because max_instances was reached
    "deadline_timers_compacted",
    "transitions_ambiguous",  # allowed steps from or to several candidate states
    "transitions_overflow",  # one-to-one steps past max_transitions distinct entries
)


class Counters:
    # every name declared with its type: compiled builds (mypyc) turn them into C
    # fields, so the engine's ``c.events += 1`` is one machine add
    events: int
    applied: int
    duplicate: int
    late: int
    late_applied: int
    quarantined: int
    ignored: int
    adopted: int
    join_ignored: int
    violations: int
    spec_errors: int
    unknown_action: int
    overflow: int
    overflow_states: int
    buffer_overflow: int
    finished: int
    resumed: int
    expired: int
    evicted_capacity: int
    deadline_timers_compacted: int
    transitions_ambiguous: int
    transitions_overflow: int
    by_violation: dict[tuple[str, str], int]

    def __init__(self) -> None:
        for name in COUNTER_NAMES:
            setattr(self, name, 0)
        #: (kind, property) -> count; pre-filled with every property the spec can break
        self.by_violation: dict[tuple[str, str], int] = {}

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in COUNTER_NAMES}
        out["by_violation"] = [[k, p, n] for (k, p), n in self.by_violation.items()]
        return out

    def load(self, data: dict[str, Any]) -> None:
        for name in COUNTER_NAMES:
            setattr(self, name, int(data.get(name, 0)))
        for kind, prop, n in data.get("by_violation", []):
            self.by_violation[(kind, prop)] = int(n)


"""Engine settings: one frozen Struct, validated once.

Durations are seconds here; the config/CLI layers accept ``"5s"``/``"7d"`` strings and
convert. Every bound below exists so that memory stays bounded whatever the input.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from monitor.errors import ConfigError

__all__ = ["EngineConfig"]


class EngineConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: events may arrive this much out of event-time order and still be applied in order
    allowed_lateness: float = 5.0
    #: what to do with an event older than the watermark: count it and drop it, or
    #: count it and apply it out of order (may then raise alarms a reorder would not)
    late_events: Literal["drop", "apply"] = "drop"
    #: unobserved (hidden) steps the monitor may insert before an observed one
    hidden_steps: int = 2
    #: cap on the candidate-state set of one instance; overflow is counted
    max_states: int = 64
    #: first event for an unknown key that the initial state does not allow
    late_join: Literal["strict", "adopt", "ignore"] = "adopt"
    #: after a violation: stop checking the instance until it expires, or forget it and
    #: start again from the next event (which then goes through ``late_join``)
    after_violation: Literal["quarantine", "restart"] = "quarantine"
    #: event ids remembered for duplicate detection, in event-time seconds and count
    dedup_window: float = 3600.0
    max_dedup_ids: int = 200_000
    #: an instance with no event for this long (event time) is forgotten; None means
    #: max(24h, 2 x the spec's longest ``within``) so deadlines always fire first
    instance_ttl: float | None = None
    max_instances: int = 1_000_000
    #: finished (terminal) instances remembered, with their history, so a later event
    #: is still checked and its report shows how the lifecycle ended (~200 B each)
    max_finished: int = 50_000
    #: observed steps kept per instance for violation reports
    history: int = 16
    #: events held in the reorder buffer; past this the oldest is applied early (counted)
    max_buffered: int = 200_000
    #: bound on the reachable-state enumeration behind ``late_join: adopt``
    adopt_max_states: int = 100_000
    #: bound on interned state sets with their memoised steps (cleared when full); each
    #: costs a few hundred bytes, and value-rich states (amounts, counters) are rarely
    #: reused, so a large table mostly holds garbage
    memo_size: int = 20_000
    #: distinct (state, action, args, state) transitions counted for coverage
    #: (``Engine.transition_counts``); each costs ~300 B. Past it, steps are counted in
    #: ``transitions_overflow``: amounts and other value-rich arguments are unbounded
    max_transitions: int = 10_000

    def __post_init__(self) -> None:
        # msgspec checks the Literals when decoding a config file, not in __init__: a typo
        # in code (after_violation="restrat") would otherwise silently pick another policy
        for name, allowed in (("late_events", ("drop", "apply")),
                              ("late_join", ("strict", "adopt", "ignore")),
                              ("after_violation", ("quarantine", "restart"))):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"engine.{name} must be one of {', '.join(allowed)}; "
                                  f"got {getattr(self, name)!r}")
        for name in ("allowed_lateness", "dedup_window"):
            if getattr(self, name) < 0:
                raise ConfigError(f"engine.{name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("max_states", "max_instances", "history", "max_buffered", "memo_size",
                     "max_dedup_ids", "max_finished", "adopt_max_states"):
            if getattr(self, name) < 1:
                raise ConfigError(f"engine.{name} must be >= 1, got {getattr(self, name)!r}")
        if self.max_transitions < 0:
            raise ConfigError(f"engine.max_transitions must be >= 0, got {self.max_transitions!r}")
        if self.hidden_steps < 0:
            raise ConfigError(f"engine.hidden_steps must be >= 0, got {self.hidden_steps!r}")
        if self.history > 255:
            raise ConfigError(f"engine.history must be <= 255, got {self.history!r}")
        if self.instance_ttl is not None and self.instance_ttl <= 0:
            raise ConfigError(f"engine.instance_ttl must be > 0, got {self.instance_ttl!r}")

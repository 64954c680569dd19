"""Shorthands for the engine tests."""

from __future__ import annotations

from typing import Any

from monitor.engine import Engine, EngineConfig, Event

DAY = 86400.0


def ev(key: str, t: float, action: str, *args: Any, id: str | None = None, **kw: Any) -> Event:
    return Event(key, float(t), action, tuple(args), id, **kw)


def kinds(reports: list[Any]) -> list[tuple[str, str, str]]:
    return [(r.key, r.kind, r.property) for r in reports]


def verdicts(reports: list[Any]) -> list[tuple[str, str, str, float]]:
    return [(r.key, r.kind, r.property, r.time) for r in reports]


def split_by_snapshot(spec: Any, cfg: EngineConfig, events: list[Event],
                      cut: int) -> tuple[Engine, Engine]:
    """(an engine fed every event, one fed ``events[:cut]``, snapshotted, restored into
    a fresh engine and fed the rest)."""
    whole = Engine(spec, cfg)
    whole.feed_many(events)
    first = Engine(spec, cfg)
    first.feed_many(events[:cut])
    second = Engine(spec, cfg)
    second.restore(first.snapshot())
    second.feed_many(events[cut:])
    return whole, second

"""Shorthands for the engine tests."""

from __future__ import annotations

from typing import Any

from monitor.engine import Event

DAY = 86400.0


def ev(key: str, t: float, action: str, *args: Any, id: str | None = None, **kw: Any) -> Event:
    return Event(key, float(t), action, tuple(args), id, **kw)


def kinds(reports: list[Any]) -> list[tuple[str, str, str]]:
    return [(r.key, r.kind, r.property) for r in reports]


def verdicts(reports: list[Any]) -> list[tuple[str, str, str, float]]:
    return [(r.key, r.kind, r.property, r.time) for r in reports]

"""What crosses the boundary into and out of the engine: ``Event`` in, ``Violation``
and ``SpecErrorReport`` out. Plain msgspec Structs so they encode straight to JSON
lines and msgpack."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["Event", "HistoryEntry", "SpecErrorReport", "Violation"]


class Event(msgspec.Struct, frozen=True, gc=False):
    """One record mapped to a spec action.

    ``time`` is event time in seconds since the epoch. ``id`` is the de-duplication id
    (None: never treated as a duplicate). ``record`` is the source record as the source
    has it (raw JSON bytes, a dict, ...) and ``origin`` where it came from (file/line,
    topic/partition/offset); both are only read when a report is written.
    """

    key: str
    time: float
    action: str
    args: tuple[Any, ...] = ()
    id: str | None = None
    record: Any = None
    origin: Any = None
    trace_id: str | None = None
    span_id: str | None = None


class HistoryEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One observed step of an instance, with the candidate states after it."""

    time: float
    action: str
    args: dict[str, Any]
    states: list[dict[str, Any]]


class Violation(msgspec.Struct, frozen=True, kw_only=True, tag="violation", tag_field="type"):
    """A step (or a passed deadline) the spec does not allow.

    ``kind``: ``unexpected`` (no candidate state enables the action; ``message`` holds the
    failed ``require`` reasons), ``invariant`` (every successor breaks ``property``),
    ``deadline`` (the ``within`` named ``property`` was not met in time).
    """

    spec: str
    key: str
    kind: str
    property: str
    message: str
    time: float
    action: str | None = None
    args: dict[str, Any] | None = None
    record: Any = None
    origin: Any = None
    trace_id: str | None = None
    span_id: str | None = None
    history: list[HistoryEntry] = []
    states_before: list[dict[str, Any]] = []


class SpecErrorReport(msgspec.Struct, frozen=True, kw_only=True, tag="spec_error", tag_field="type"):
    """The spec's own code raised: a bug in the model, reported apart from violations.
    The offending event is skipped; the instance keeps its states."""

    spec: str
    key: str
    where: str
    message: str
    time: float
    action: str | None = None
    args: dict[str, Any] | None = None
    record: Any = None
    origin: Any = None

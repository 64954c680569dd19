"""The shape of ``mapping.yaml``, as typed Structs (unknown fields rejected with a path).

One section per source kind: ``events`` (JSON objects: JSON-lines files, Kafka JSON,
CloudEvents). A new source kind (``spans`` for OTLP) is a new section Struct and one
field on ``MappingFile``; nothing else in the format changes. Pure.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

__all__ = ["Const", "EventRule", "EventsSection", "MappingFile", "PathLike"]

#: a dotted path ``data.amount``, or a list of segments for keys that contain dots
PathLike = str | list[str]


class Const(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A constant instead of a path: ``{const: leader}`` (global specs, fixed args)."""

    const: Any


class EventRule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: path -> value (equality) or list of values (one of); all must hold
    when: dict[str, Any] = {}
    action: str
    #: parameter -> path or {const: value}
    args: dict[str, str | list[str] | Const] = {}
    key: str | list[str | list[str]] | Const | None = None
    time: PathLike | None = None
    id: PathLike | None = None


class EventsSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    key: str | list[str | list[str]] | Const = "subject"
    time: PathLike = "time"
    time_unit: Literal["s", "ms", "us", "ns"] = "s"
    id: PathLike | None = "id"
    trace_id: PathLike | None = None
    rules: list[EventRule]


class MappingFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: which Spec class of spec.py (needed only when it defines several)
    spec: str | None = None
    events: EventsSection | None = None

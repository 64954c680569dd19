"""The shape of ``mapping.yaml`` as typed Structs, decoded with ``msgspec.convert`` so
that a typo or a wrong type fails with its path (``- at `$.events.rules[0]```).

One section per source kind: ``events`` (JSON objects: JSON-lines files, Kafka JSON
values, CloudEvents in structured mode). A new source kind (``spans`` for OTLP) is a
new section Struct in its own module, one field on ``MappingFile`` and one line in
``load_mapping``; nothing else in the format changes.

Only the shape is checked here; what needs the spec (action and parameter names) and
what msgspec cannot express (empty paths, unreachable rules) is checked when the
section compiles. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from monitor.mapping.span_schema import SpansSection

__all__ = ["SCALAR_TYPES", "Const", "EventRule", "EventsSection", "KeySpec", "MappingFile",
           "PathSpec"]

#: a dotted path ``data.amount``, or a list of segments for keys that contain dots
PathSpec = str | list[str]

#: what a ``when`` condition compares with: JSON scalars only
SCALAR_TYPES = (str, int, float, bool, type(None))


class Const(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A constant instead of a path: ``{const: leader}`` (global specs, fixed args)."""

    const: Any


#: the instance key: one path, a list of parts joined with "/" (each a dotted path, a
#: list of segments, or a constant), or a constant for a global spec
KeySpec = str | list[str | list[str] | Const] | Const


class EventRule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One rule: the records it selects, the action they are and its arguments."""

    #: path -> value (equality) or list of values (one of); all must hold; {} = any.
    #: Values are checked when the rule compiles, so that errors can name the path.
    when: dict[str, Any] = {}
    action: str
    #: parameter -> path, or {const: value}
    args: dict[str, PathSpec | Const] = {}
    #: overrides of the section's key/time/id for this rule (UNSET: inherit;
    #: ``id: null`` turns de-duplication off for this rule)
    key: KeySpec | UnsetType = UNSET
    time: PathSpec | UnsetType = UNSET
    id: PathSpec | None | UnsetType = UNSET


class EventsSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``events:`` — JSON objects. The defaults are CloudEvents' attribute names."""

    key: KeySpec = "subject"
    time: PathSpec = "time"
    time_unit: Literal["s", "ms", "us", "ns"] = "s"
    id: PathSpec | None = "id"
    trace_id: PathSpec | None = None
    rules: list[EventRule]


class MappingFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The whole file: the optional Spec class name and one section per source kind."""

    #: which Spec class of spec.py to monitor (needed only when it defines several)
    spec: str | None = None
    events: EventsSection | None = None
    #: OpenTelemetry spans (span_schema.py, docs/mapping.md "Spans")
    spans: SpansSection | None = None

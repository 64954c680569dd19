"""The shape of the ``spans:`` section of ``mapping.yaml`` as typed Structs (see
docs/mapping.md, "Spans"). Decoded with the rest of the file by ``msgspec.convert``,
so a typo (``whne:``) or a wrong type fails with its ``$.spans...`` path.

Span attribute keys contain dots (``payment.id``), so a plain string is one attribute
key, never a path; other places to read from are small objects (``{event: k}``,
``{resource: k}``, ``{field: trace_id}``, ``{const: x}``) decoded as one ``SpanValue``
Struct (msgspec allows only one untagged Struct type in a union) whose fields are
checked for "exactly one" when the section compiles. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

__all__ = ["SpanKey", "SpanRuleSpec", "SpanSource", "SpanValue", "SpanWhen", "SpansSection"]


class SpanValue(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where a value comes from, when it is not a span attribute: exactly one field."""

    #: an attribute of the span event (span event rules only)
    event: str | UnsetType = UNSET
    #: a resource attribute (``service.name``)
    resource: str | UnsetType = UNSET
    #: a span field: name, trace_id, span_id, parent_span_id, kind, status,
    #: status_message, scope, event_name
    field: str | UnsetType = UNSET
    #: a span attribute, spelled out (same as a plain string)
    attribute: str | UnsetType = UNSET
    #: a constant
    const: Any = UNSET


#: a span attribute key (dots included), or one of the other sources
SpanSource = str | SpanValue

#: one source, or a list of them joined with "/"
SpanKey = SpanSource | list[SpanSource]

#: a condition value: a scalar, or a list of scalars meaning "one of"
_Values = Any


class SpanWhen(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The conditions of one rule; all must hold. ``event`` makes it a span event rule."""

    name: str | list[str] | UnsetType = UNSET
    kind: str | list[str] | UnsetType = UNSET
    status: str | list[str] | UnsetType = UNSET
    scope: str | list[str] | UnsetType = UNSET
    resource: dict[str, _Values] = {}
    attributes: dict[str, _Values] = {}
    event: str | list[str] | UnsetType = UNSET
    event_attributes: dict[str, _Values] = {}


class SpanRuleSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    when: SpanWhen = SpanWhen()
    action: str
    #: parameter -> source
    args: dict[str, SpanSource] = {}
    key: SpanKey | UnsetType = UNSET
    time: Literal["end", "start", "event"] | UnsetType = UNSET
    #: UNSET: the span id (``/index`` for span events); None: no ids; else a source
    id: SpanSource | None | UnsetType = UNSET


class SpansSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``spans:`` — OpenTelemetry spans and their span events."""

    key: SpanKey | UnsetType = UNSET
    time: Literal["end", "start"] = "end"
    id: SpanSource | None | UnsetType = UNSET
    rules: list[SpanRuleSpec]

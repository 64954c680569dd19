"""Mapping telemetry to spec actions: ``mapping.yaml`` text -> compiled matchers.

```yaml
spec: Payment                 # optional: the Spec class in spec.py, if it has several
events:                       # JSON objects: JSON lines, Kafka JSON values, CloudEvents
  key: subject                # path, list of paths (joined with "/"), or {const: x}
  time: time                  # RFC 3339 string, or a number in time_unit
  time_unit: s                # s | ms | us | ns (numeric times only)
  id: id                      # de-duplication id; null: no ids
  trace_id: null              # optional: W3C trace id (or traceparent) for reports
  rules:                      # first matching rule wins, in file order
    - when: {type: payment.captured}       # path: value, or path: [one, of]
      action: capture
      args: {amount: data.amount}          # parameter: path, or {const: value}
      # key: / time: / id: here override the section's for this rule
```

Paths are dotted (``data.amount``); a YAML list (``[attributes, "payment.id"]``)
addresses keys that contain dots. Nothing in the file is evaluated as code. Every
error is a ``MappingError`` naming the file and the field path. See docs/mapping.md.

Modules: ``schema`` (the file's typed shape, every section); for ``events:``,
``rules`` (checks against the spec, the dispatch table), ``events`` (``EventMapper``)
and ``builders`` (Event construction, fast and careful); shared by every section,
``paths`` (paths, view Structs) and ``convert`` (keys, times, arguments). A new
source kind (``spans:``) is its own modules plus one field on ``schema.MappingFile``
and on ``Mapping``.

Pure: takes the YAML text (the caller reads the file), no clock, no logging.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import msgspec
import yaml

from monitor.errors import MappingError
from monitor.mapping.events import EventMapper
from monitor.mapping.rules import compile_section
from monitor.mapping.schema import MappingFile
from monitor.mapping.span_rules import compile_spans
from monitor.mapping.spans import SpanBatch, SpanMapper
from monitor.spec.model import SpecModel

__all__ = ["EventMapper", "Mapping", "SpanBatch", "SpanMapper", "load_mapping"]


@dataclass(frozen=True, slots=True)
class Mapping:
    """A loaded ``mapping.yaml``: the Spec class it names, one mapper per section."""

    spec_class: str | None
    events: EventMapper | None
    spans: SpanMapper | None = None


def load_mapping(text: str, *, filename: str, model: SpecModel) -> Mapping:
    """Parse, validate against ``model`` and compile; raises ``MappingError``."""
    doc = _yaml(text, filename)
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise MappingError(f"{filename}: $: expected a mapping with an `events:` or `spans:` section, "
                           f"got {type(doc).__name__}")
    try:
        parsed = msgspec.convert(doc, MappingFile)
    except msgspec.ValidationError as exc:
        raise MappingError(f"{filename}: {exc}") from None
    if parsed.events is None and parsed.spans is None:
        raise MappingError(f"{filename}: no source section; add `events:` (JSON records) "
                           "or `spans:` (OpenTelemetry spans) with rules (see docs/mapping.md)")
    events = (EventMapper(compile_section(parsed.events, model, filename))
              if parsed.events is not None else None)
    spans = (SpanMapper(compile_spans(parsed.spans, model, filename))
             if parsed.spans is not None else None)
    return Mapping(spec_class=parsed.spec, events=events, spans=spans)


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with YAML 1.2 scalars and no duplicate keys.

    - Booleans are only true/false: PyYAML's YAML 1.1 default reads `on`, `off`, `yes`,
      `no` as booleans, which silently turns `args: {on: data.on}` into a boolean key.
    - No timestamps: `when: {day: 2026-11-01}` compares with the JSON string, not a
      ``datetime.date`` that no JSON value equals.
    - A duplicate key is an error: YAML would keep the last one silently (a second
      `args:` replacing the first).
    """


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _mapping_without_duplicates(loader: _Loader, node: yaml.MappingNode) -> Any:
    seen: set[Any] = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node)
        try:
            duplicate = key in seen
            seen.add(key)
        except TypeError:
            continue  # an unhashable key: construct_mapping reports it
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
    return loader.construct_mapping(node)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                        _mapping_without_duplicates)


def _yaml(text: str, filename: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "$"
        problem = getattr(exc, "problem", None) or str(exc)
        raise MappingError(f"{filename}: {where}: not valid YAML: {problem}") from None

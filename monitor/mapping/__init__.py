"""Mapping telemetry to spec actions (pure): ``mapping.yaml`` -> compiled matchers.

```yaml
spec: Payment              # optional: the Spec class in spec.py, if it has several
events:                    # JSON objects (JSON lines, Kafka JSON, CloudEvents)
  key: subject             # path, list of paths (joined with "/"), or {const: x}
  time: time               # RFC 3339 string, or a number in time_unit (s|ms|us|ns)
  id: id                   # de-duplication id; null: none
  trace_id: null           # optional W3C trace id path, carried into reports
  rules:                   # first match wins, in file order
    - when: {type: payment.captured}       # path: value, or path: [one, of]
      action: capture
      args: {amount: data.amount}          # parameter: path, or {const: value}
```

Paths are dotted (``data.amount``); a list (``[attrs, "a.b"]``) addresses keys that
contain dots. No configuration string is ever evaluated as code. Errors name the file
and the field path. See docs/mapping.md.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
import yaml

from monitor.errors import MappingError
from monitor.mapping.events import EventMapper, compile_events
from monitor.mapping.schema import MappingFile
from monitor.spec.model import SpecModel

__all__ = ["EventMapper", "Mapping", "load_mapping"]


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. PyYAML's YAML 1.1 default reads `on`, `off`,
    `yes`, `no` as booleans, which silently turns `args: {on: data.on}` into a
    boolean key."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


class Mapping:
    """A loaded mapping file: one compiled mapper per source section."""

    def __init__(self, spec_class: str | None, events: EventMapper | None) -> None:
        self.spec_class = spec_class
        self.events = events


def load_mapping(text: str, *, filename: str, model: SpecModel) -> Mapping:
    try:
        doc: Any = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise MappingError(f"{filename}:{where}: not valid YAML: {exc}") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise MappingError(f"{filename}: expected a mapping at the top level, got "
                           f"{type(doc).__name__}")
    try:
        parsed = msgspec.convert(doc, MappingFile, str_keys=True)
    except msgspec.ValidationError as exc:
        raise MappingError(f"{filename}: {exc}") from None
    if parsed.events is None:
        raise MappingError(f"{filename}: no source section; add `events:` with rules")
    events = compile_events(parsed.events, model, filename)
    return Mapping(parsed.spec, events)

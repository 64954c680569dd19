"""Transition coverage: how often production took each transition of the spec.

The coverage file (JSON, written by ``specmon replay --coverage-out FILE``) names
states by their field values, not by ids (ids depend on the order of exploration):

```json
{"format": "specmon-coverage/1", "spec": "payment",
 "fields": ["status", "authorized", "captured", "refunded"],
 "uncounted": {"ambiguous": 0, "overflow": 0},
 "transitions": [
   {"from": ["new", 0, 0, 0], "action": "authorize", "args": [100],
    "to": ["authorized", 100, 0, 0], "count": 12}]}
```

``from``/``to`` list the field values in ``fields`` order, ``args`` the arguments in
parameter order (tuples as arrays, as JSON has them). Counts from several files add up.
``uncounted`` (optional): steps the engine could not attribute to one transition.

Pure: values in, values out; the caller reads and writes the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from monitor.errors import ConfigError

__all__ = ["FORMAT", "Coverage", "canonical", "coverage_doc", "engine_coverage", "read_coverage"]

FORMAT = "specmon-coverage/1"

#: (from state, action, args, to state), values made hashable (arrays as tuples)
Transition = tuple[tuple[Any, ...], str, tuple[Any, ...], tuple[Any, ...]]
Coverage = dict[Transition, int]


def canonical(v: Any) -> Any:
    """A value as its JSON round trip gives it back, hashable: arrays (lists, tuples)
    as tuples, sets as tuples sorted by ``repr``; so graph states and states read
    from a file compare equal."""
    if isinstance(v, (list, tuple)):
        return tuple(canonical(x) for x in v)
    if isinstance(v, (set, frozenset)):
        return tuple(sorted((canonical(x) for x in v), key=repr))
    return v


def coverage_doc(spec: str, fields: Iterable[str], counts: Mapping[Transition, int],
                 *, uncounted: Mapping[str, int] | None = None) -> dict[str, Any]:
    """The coverage file's content for ``counts`` (keys with Python values: tuples,
    frozensets); the same transition under two spellings is summed. ``uncounted``: steps
    the engine could not attribute to one transition (``ambiguous``: from or to several
    candidate states; ``overflow``: past its table's bound)."""
    merged: Coverage = {}
    for (src, action, args, dst), n in counts.items():
        k = (canonical(src), action, canonical(args), canonical(dst))
        merged[k] = merged.get(k, 0) + n
    doc: dict[str, Any] = {"format": FORMAT, "spec": spec, "fields": list(fields)}
    if uncounted is not None:
        doc["uncounted"] = dict(uncounted)
    doc["transitions"] = [
        {"from": list(src), "action": action, "args": list(args), "to": list(dst), "count": n}
        for (src, action, args, dst), n in merged.items()]
    return doc


def engine_coverage(engine: Any, spec: str | None = None) -> dict[str, Any]:
    """The coverage document of a running ``monitor.engine.Engine`` (duck-typed): what a
    daemon serves so that coverage can be read from a live sidecar."""
    c = engine.counters
    return coverage_doc(spec or engine.name, engine.model.fields, engine.transition_counts(),
                        uncounted={"ambiguous": c.transitions_ambiguous,
                                   "overflow": c.transitions_overflow})


def read_coverage(doc: Any, fields: Iterable[str], *, where: str = "coverage",
                  into: Coverage | None = None) -> Coverage:
    """Counts from one coverage document, added into ``into``; ``ConfigError`` names the
    file (``where``) and the JSON path of anything malformed."""
    out: Coverage = {} if into is None else into
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ConfigError(f"{where}: $.format: not a specmon coverage file (expected "
                          f"\"format\": \"{FORMAT}\"); write one with `specmon replay "
                          "--coverage-out FILE`")
    want = list(fields)
    if doc.get("fields") != want:
        raise ConfigError(f"{where}: $.fields: {doc.get('fields')!r} are not this spec's "
                          f"fields {want!r}: the file is from another spec or version")
    items = doc.get("transitions")
    if not isinstance(items, list):
        raise ConfigError(f"{where}: $.transitions: expected an array")
    for i, t in enumerate(items):
        try:
            key = (canonical(t["from"]), t["action"], canonical(t["args"]), canonical(t["to"]))
            n = t["count"]
        except (KeyError, TypeError):
            raise ConfigError(f"{where}: $.transitions[{i}]: expected from, action, args, "
                              "to and count") from None
        if type(n) is not int or n < 0 or len(key[0]) != len(want) or len(key[3]) != len(want):
            raise ConfigError(f"{where}: $.transitions[{i}]: bad count or state length")
        out[key] = out.get(key, 0) + n
    return out

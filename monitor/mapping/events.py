"""The ``events:`` section at run time: one JSON object -> one ``Event`` (or None).

``map_bytes`` per record, in the common case:

1. one decode into the view Struct (only the fields the mapping reads; msgspec skips
   the rest in C, and parses RFC 3339 event times into ``datetime`` on the way);
2. one dict lookup on the dispatch field's value -> a prepared function for the
   candidate rules (usually exactly one rule, with no condition left to test);
3. that rule's *fast builder*: one C-level ``attrgetter`` call reads key, time, id,
   trace id and arguments, a few type checks, one ``Event(...)``.

Anything unusual (a wrong shape the view cannot hold, an absent field, a value that
needs converting the long way) leaves the fast path for the *careful* one: decode the
record into dicts and run ``map_obj``, which names the cause and the JSON path. So the
fast path only ever shortcuts a result the careful path gives too.

Pure: no I/O, no clock, no logging.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from operator import attrgetter
from typing import Any

import msgspec

from monitor.engine.events import Event
from monitor.errors import RecordError
from monitor.mapping.builders import Build, careful_builder, fast_builder
from monitor.mapping.convert import BadValue, time_converter, to_key_part
from monitor.mapping.paths import Path, ShapeError, ViewTree, dict_getter
from monitor.mapping.rules import Cond, Rule, Section, norm

__all__ = ["EventMapper"]

Getter = Callable[[Any], Any]
Check = Callable[[Any], bool]

#: what msgspec raises on a document that is not JSON or does not fit the view (a
#: ValidationError is a DecodeError; invalid UTF-8 in a string raises UnicodeDecodeError)
_NOT_JSON = (msgspec.DecodeError, UnicodeDecodeError)

#: the view's type for event-time leaves: msgspec parses RFC 3339 in C
_TIME = datetime | int | float | None


class EventMapper:
    """Maps JSON objects to ``Event``s for one compiled ``events:`` section. Holds no
    per-record state; build it with ``load_mapping``."""

    def __init__(self, section: Section) -> None:
        self._section = section
        self._time = time_converter(section.time_unit)
        # -- dicts: map_obj, and every record the fast path does not handle
        dget = {p: dict_getter(p) for p in section.paths()}
        self._dkey = _dispatch_getter(section, dget[section.dispatch] if section.dispatch
                                      else None)
        careful = {r.index: careful_builder(r, dget, section.trace, self._time)
                   for r in section.rules}
        steps = lambda rules: _steps(rules, dget, careful)  # noqa: E731
        self._dtable = {v: steps(rs) for v, rs in section.table.items()}
        self._ddefault = steps(section.default)
        # -- views: map_bytes
        tree = ViewTree()
        for r in section.rules:
            tree.add(r.time, _TIME)
        tree.add_all(section.paths(times=False))  # a time path read as more than a time: Any
        self._decode = msgspec.json.Decoder(tree.build()).decode
        vget = {p: tree.getter(p) for p in section.paths()}
        d = section.dispatch
        top = tree.attr_path(d) if d is not None and len(d) == 1 else None
        # a top-level dispatch field is one C attribute read; a nested one may be null
        vdispatch = attrgetter(top) if top else vget[d] if d is not None else None
        self._vkey = _dispatch_getter(section, vdispatch)
        fast = {r.index: fast_builder(r, tree, vget, section.trace, self._time, self._map_slow)
                for r in section.rules}
        self._vtable = {v: _picker(rs, vget, fast) for v, rs in section.table.items()}
        self._vdefault = _picker(section.default, vget, fast)
        # -- routing: only the key's paths (per-rule keys need the whole mapping)
        self._route_by_map = any(r.own_key for r in section.rules)
        rtree = ViewTree()
        rtree.add_all(s.path for s in section.key if s.path is not None)
        self._rdecode = msgspec.json.Decoder(rtree.build()).decode
        self._rkey = [(rtree.getter(s.path) if s.path else None, s.const) for s in section.key]
        self._dkeyparts = [(dget[s.path] if s.path else None, s.const) for s in section.key]
        only = section.key[0].path if len(section.key) == 1 else None
        attr = rtree.attr_path(only) if only is not None and len(only) == 1 else None
        self._rone = attrgetter(attr) if attr else None

    # -- the public interface ------------------------------------------------------

    @property
    def section(self) -> Section:
        """The compiled rules (read by tools that invert the mapping: ``generate``)."""
        return self._section

    def map_bytes(self, raw: bytes, origin: Any) -> Event | None:
        """Decode one JSON document and map it: the Event (``record=raw``), None when
        no rule matches, or ``RecordError`` when a matching record is unusable."""
        try:
            view = self._decode(raw)
        except _NOT_JSON:
            return self._map_slow(raw, origin)  # a shape the view cannot hold, or not JSON
        try:
            build = self._vtable.get(self._vkey(view), self._vdefault)
        except (TypeError, ShapeError):  # an unhashable dispatch value: an array or object
            build = self._vdefault
        return build(view, raw, origin)

    def map_obj(self, obj: Any, origin: Any, record: Any = None) -> Event | None:
        """Map an already-decoded JSON object; ``record`` (default ``obj``) is kept in
        the Event for reports. ``obj`` is typed Any on purpose: a compiled build checks
        declared argument types on entry, and anything JSON (a list, a string) must
        reach the check below to be reported as malformed."""
        if type(obj) is not dict:
            raise RecordError("malformed", f"$: expected a JSON object, got {_show(obj)}")
        try:
            steps = self._dtable.get(self._dkey(obj), self._ddefault)
        except (TypeError, ShapeError):
            steps = self._ddefault
        for check, build in steps:
            if check is None or check(obj):
                return build(obj, obj if record is None else record, origin)
        return None

    def route_bytes(self, raw: bytes) -> str | None:
        """Just the key ``map_bytes`` would give (None when there is none), decoding
        only the key's fields, to shard a log by key. With per-rule ``key:`` overrides
        it maps the whole record instead (then unmatched records route to None)."""
        if self._route_by_map:
            try:
                event = self.map_bytes(raw, None)
            except RecordError:
                return None
            return None if event is None else event.key
        try:
            view = self._rdecode(raw)
        except _NOT_JSON:
            try:
                obj = msgspec.json.decode(raw)
            except _NOT_JSON:
                return None
            return _key_or_none(self._dkeyparts, obj) if type(obj) is dict else None
        one = self._rone
        if one is not None:  # a single top-level key field: one attribute read
            v = one(view)
            if type(v) is str:
                return v
        return _key_or_none(self._rkey, view)

    # -- the two paths ---------------------------------------------------------------

    def _map_slow(self, raw: bytes, origin: Any) -> Event | None:
        try:
            obj = msgspec.json.decode(raw)
        except _NOT_JSON as exc:
            raise RecordError("malformed", f"$: not JSON: {exc}") from None
        return self.map_obj(obj, origin, raw)


def _dispatch_getter(section: Section, get: Getter | None) -> Getter:
    if get is None:
        return _no_dispatch
    if all(type(v) is str for v in section.table):
        return get  # only strings to match: booleans cannot collide with them
    return lambda obj: norm(get(obj))


def _no_dispatch(obj: Any) -> None:
    return None


def _check(conds: tuple[Cond, ...], getters: dict[Path, Getter]) -> Check:
    pairs = [(getters[c.path], c.values) for c in conds]

    def check(obj: Any) -> bool:
        try:
            for get, values in pairs:
                if norm(get(obj)) not in values:
                    return False
        except (TypeError, ShapeError):  # unhashable value, or not an object on the way
            return False
        return True

    return check


def _steps(rules: tuple[Rule, ...], getters: dict[Path, Getter],
           builds: dict[int, Build]) -> tuple[tuple[Check | None, Build], ...]:
    """(condition check or None, builder) per candidate, up to the first rule with no
    condition left (the ones after it cannot match)."""
    out = []
    for r in rules:
        out.append((_check(r.conds, getters) if r.conds else None, builds[r.index]))
        if not r.conds:
            break
    return tuple(out)


def _picker(rules: tuple[Rule, ...], getters: dict[Path, Getter],
            builds: dict[int, Build]) -> Build:
    steps = _steps(rules, getters, builds)
    if not steps:
        return _no_rule
    if steps[0][0] is None:
        return steps[0][1]  # the common case: the dispatch value alone picks the rule

    def pick(view: Any, record: Any, origin: Any) -> Event | None:
        for check, build in steps:
            if check is None or check(view):
                return build(view, record, origin)  # type: ignore[no-any-return]
        return None

    return pick


def _no_rule(view: Any, record: Any, origin: Any) -> None:
    return None


def _key_or_none(parts: list[tuple[Getter | None, Any]], obj: Any) -> str | None:
    out = []
    for get, const in parts:
        if get is None:
            out.append(const)
            continue
        try:
            out.append(to_key_part(get(obj)))
        except (BadValue, ShapeError):
            return None
    return out[0] if len(out) == 1 else "/".join(out)


def _show(v: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null",
             int: "a number", float: "a number"}
    return names.get(type(v), type(v).__name__)


"""The ``events:`` section compiled: JSON objects -> ``Event``.

Per record: one decode into a view Struct holding only the fields the mapping reads,
one dict lookup on the dispatch field's value (the field most rules constrain,
normally ``type``) to get the candidate rules in file order, the remaining
conditions, then key/time/id/argument extraction. Never a scan over all rules. Pure.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime, timezone
from operator import attrgetter
from typing import Any

import msgspec

from monitor.engine.events import Event
from monitor.errors import MappingError, RecordError
from monitor.mapping.convert import BadValue, arg_converter, time_converter, to_id, to_key_part
from monitor.mapping.paths import (
    MISSING,
    Path,
    ViewTree,
    getter_for_dict,
    parse_path,
    show_path,
)
from monitor.mapping.schema import Const, EventRule, EventsSection
from monitor.spec.model import SpecModel

__all__ = ["EventMapper", "compile_events"]

Getter = Callable[[Any], Any]


class _Field:
    """A path (or a constant) with its getters for views and dicts."""

    __slots__ = ("path", "const", "view", "dict")

    def __init__(self, path: Path | None, const: Any = MISSING) -> None:
        self.path = path
        self.const = const
        self.view: Getter | None = None
        self.dict: Getter | None = getter_for_dict(path) if path is not None else None

    def where(self) -> str:
        return show_path(self.path) if self.path is not None else "const"


class _Key:
    __slots__ = ("parts",)

    def __init__(self, parts: list[_Field]) -> None:
        self.parts = parts


class _Rule:
    __slots__ = ("index", "action", "conds", "args", "key", "time", "id")

    def __init__(self, index: int, action: str) -> None:
        self.index = index
        self.action = action
        self.conds: list[tuple[_Field, frozenset[Any] | None, Any]] = []
        self.args: list[tuple[str, _Field, str, Callable[[Any], Any]]] = []
        self.key: _Key | None = None
        self.time: _Field | None = None
        self.id: _Field | None = None


def _field(value: Any, where: str, filename: str) -> _Field:
    if isinstance(value, Const):
        return _Field(None, value.const)
    try:
        return _Field(parse_path(value))
    except ValueError as exc:
        raise MappingError(f"{filename}: {where}: {exc}") from None


def _key(value: Any, where: str, filename: str) -> _Key:
    if isinstance(value, list):
        if not value:
            raise MappingError(f"{filename}: {where}: a key needs at least one path")
        return _Key([_field(v, f"{where}[{i}]", filename) for i, v in enumerate(value)])
    return _Key([_field(value, where, filename)])


def compile_events(section: EventsSection, model: SpecModel, filename: str) -> EventMapper:
    base = "$.events"
    if not section.rules:
        raise MappingError(f"{filename}: {base}.rules: no rules; map at least one action")
    rules = []
    for i, r in enumerate(section.rules):
        rules.append(_compile_rule(r, i, model, filename))
    return EventMapper(
        rules=rules,
        key=_key(section.key, f"{base}.key", filename),
        time=_field(section.time, f"{base}.time", filename),
        time_unit=section.time_unit,
        id=_field(section.id, f"{base}.id", filename) if section.id is not None else None,
        trace_id=(_field(section.trace_id, f"{base}.trace_id", filename)
                  if section.trace_id is not None else None),
    )


def _compile_rule(r: EventRule, i: int, model: SpecModel, filename: str) -> _Rule:
    where = f"$.events.rules[{i}]"
    act = model.actions.get(r.action)
    observable = [a.name for a in model.observed]
    if act is None:
        raise MappingError(
            f"{filename}: {where}.action: unknown action {r.action!r}; "
            f"{model.name} has: {', '.join(observable)}"
        )
    if act.hidden:
        raise MappingError(
            f"{filename}: {where}.action: {r.action!r} is a hidden action, which is never "
            f"observed; map one of: {', '.join(observable)}"
        )
    rule = _Rule(i, act.name)
    for path, value in r.when.items():
        f = _field(path, f"{where}.when", filename)
        if isinstance(value, list):
            rule.conds.append((f, frozenset(_hashable(v) for v in value), MISSING))
        else:
            rule.conds.append((f, None, value))
    unknown = [p for p in r.args if p not in act.params]
    if unknown:
        raise MappingError(
            f"{filename}: {where}.args.{unknown[0]}: {act.qualname} has no parameter "
            f"{unknown[0]!r}; its parameters are ({', '.join(act.params)})"
        )
    params = inspect.signature(act.fn).parameters
    for pname, ann in zip(act.params, act.types):
        if pname not in r.args:
            if params[pname].default is inspect.Parameter.empty:
                raise MappingError(
                    f"{filename}: {where}.args: parameter {pname!r} of {act.qualname} is "
                    f"not mapped; add `{pname}: <path>` or `{pname}: {{const: ...}}`"
                )
            continue
        tname, conv = arg_converter(ann)
        rule.args.append((pname, _field(r.args[pname], f"{where}.args.{pname}", filename),
                          tname, conv))
    if len(rule.args) != len(act.params):  # parameters with defaults must still be positional
        rule.args = _with_defaults(rule.args, act.params, params)
    if r.key is not None:
        rule.key = _key(r.key, f"{where}.key", filename)
    if r.time is not None:
        rule.time = _field(r.time, f"{where}.time", filename)
    if r.id is not None:
        rule.id = _field(r.id, f"{where}.id", filename)
    return rule


def _with_defaults(args: list[Any], names: tuple[str, ...], params: Any) -> list[Any]:
    have = {a[0]: a for a in args}
    out = []
    for n in names:
        if n in have:
            out.append(have[n])
        else:
            out.append((n, _Field(None, params[n].default), "any", lambda v: v))
    return out


def _hashable(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


class EventMapper:
    """Maps one JSON object to an ``Event`` (``None``: no rule matched)."""

    def __init__(self, *, rules: list[_Rule], key: _Key, time: _Field, time_unit: str,
                 id: _Field | None, trace_id: _Field | None) -> None:
        self.rules = rules
        self.key = key
        self.time = time
        self.id = id
        self.trace_id = trace_id
        self._time = time_converter(time_unit)
        fields = self._fields()
        tree = ViewTree()
        # event times decode as datetime in C when nothing else reads that field
        time_fields = [time, *(r.time for r in rules if r.time)]
        self._time_paths = {f.path for f in time_fields if f.path is not None}
        for tp in self._time_paths:
            tree.add(tp, datetime | int | float | None)
        tree.add_all(f.path for f in fields
                     if f.path is not None and not any(f is tf for tf in time_fields))
        self._decoder = msgspec.json.Decoder(tree.build())
        for f in fields:
            if f.path is not None:
                f.view = tree.getter(f.path)
        self._fast = {r.index: self._fast_builder(r, tree) for r in rules}
        self._dispatch_on, self._table, self._default = _dispatch(rules)
        # the same table for views, with each rule's fast builder alongside it
        d = self._dispatch_on
        attr = tree.attr_path(d.path) if d is not None and d.path is not None else None
        self._vdispatch = attrgetter(attr) if attr else None
        pair = lambda rs: tuple((r, self._fast[r.index]) for r in rs)  # noqa: E731
        self._vtable = {k: pair(v) for k, v in self._table.items()}
        self._vdefault = pair(self._default)
        # the routing view decodes only the top-level key paths (for sharding)
        rtree = ViewTree()
        rtree.add_all(p.path for p in key.parts if p.path is not None)
        self._route_decoder = msgspec.json.Decoder(rtree.build())
        self._route_getters = [rtree.getter(p.path) if p.path is not None else None
                               for p in key.parts]
        only = key.parts[0].path if len(key.parts) == 1 else None
        self._route_one = self._route_getters[0] if only is not None and len(only) == 1 else None

    def _fields(self) -> list[_Field]:
        out = [*self.key.parts, self.time]
        out += [f for f in (self.id, self.trace_id) if f is not None]
        for r in self.rules:
            out += [c[0] for c in r.conds] + [a[1] for a in r.args]
            if r.key is not None:
                out += r.key.parts
            out += [f for f in (r.time, r.id) if f is not None]
        return out

    # -- mapping ---------------------------------------------------------------------

    def map_bytes(self, raw: bytes, origin: Any) -> Event | None:
        try:
            view = self._decoder.decode(raw)
        except msgspec.ValidationError as exc:
            text = str(exc)
            if any(text.endswith(f"`{show_path(p)}`") for p in self._time_paths):
                raise RecordError("bad_time", f"{text}") from None
            raise RecordError("malformed", f"not a usable JSON object: {exc}") from None
        except msgspec.DecodeError as exc:
            raise RecordError("malformed", f"not JSON: {exc}") from None
        vdispatch = self._vdispatch
        if vdispatch is None:
            return self._map(view, True, raw, origin)
        try:
            candidates = self._vtable.get(vdispatch(view), self._vdefault)
        except TypeError:  # unhashable dispatch value (object/list)
            candidates = self._vdefault
        for rule, fast in candidates:
            if rule.conds and not _matches(rule, view, True):
                continue
            try:
                return fast(view, raw, origin)
            except Exception:  # the careful path names the cause and the path
                return self._event(rule, view, True, raw, origin)
        return None

    def map_obj(self, obj: dict[str, Any], origin: Any, record: Any = None) -> Event | None:
        if type(obj) is not dict:
            raise RecordError("malformed", f"expected a JSON object, got {type(obj).__name__}")
        return self._map(obj, False, obj if record is None else record, origin)

    def route_bytes(self, raw: bytes) -> str | None:
        """Just the key (mapping-level key paths; per-rule key overrides are not seen),
        or None when it cannot be read. Used to shard a log by key hash."""
        try:
            view = self._route_decoder.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None
        one = self._route_one
        if one is not None:  # a single top-level key path: one attribute read
            v = one(view)
            return v if type(v) is str else (str(v) if type(v) is int else None)
        parts = []
        for f, get in zip(self.key.parts, self._route_getters):
            v = f.const if get is None else get(view)
            if v is MISSING or v is None:
                return None
            parts.append(str(v))
        return "/".join(parts)

    def _map(self, obj: Any, is_view: bool, record: Any, origin: Any) -> Event | None:
        dispatch = self._dispatch_on
        if dispatch is not None:
            value = (dispatch.view if is_view else dispatch.dict)(obj)  # type: ignore[misc]
            try:
                candidates = self._table.get(value, self._default)
            except TypeError:  # unhashable value (object/list): only undispatched rules
                candidates = self._default
        else:
            candidates = self._default
        for rule in candidates:
            if rule.conds and not _matches(rule, obj, is_view):
                continue
            if is_view:
                try:
                    return self._fast[rule.index](obj, record, origin)
                except Exception:
                    pass  # the careful path below says exactly what is wrong
            return self._event(rule, obj, is_view, record, origin)
        return None

    def _fast_builder(self, rule: _Rule, tree: ViewTree) -> Callable[[Any, Any, Any], Event]:
        """The happy path of ``_event`` on views, as one closure: a single C-level
        ``attrgetter`` call reads key, time, id and arguments. Anything unexpected
        (a missing field, a null object, a value to convert) raises; the caller then
        runs ``_event``, which names the cause and the path."""
        key = rule.key or self.key
        tf = rule.time or self.time
        idf = rule.id or self.id
        fields = [key.parts[0], tf] if len(key.parts) == 1 else []
        fields += [idf] if idf is not None else []
        fields += [f for _n, f, _t, _c in rule.args]
        attrs = [tree.attr_path(f.path) if f.path is not None else None for f in fields]
        if not fields or None in attrs or self.trace_id is not None:
            def careful(obj: Any, record: Any, origin: Any) -> Event:
                return self._event(rule, obj, True, record, origin)
            return careful
        get_all = attrgetter(*attrs)
        parse = self._time
        has_id = idf is not None
        convs = [conv for _n, _f, _t, conv in rule.args]
        nargs = len(convs)
        conv0 = convs[0] if convs else None
        action = rule.action
        missing = MISSING
        utc = timezone.utc

        def build(obj: Any, record: Any, origin: Any) -> Event:
            vals = get_all(obj)
            k = vals[0]
            if type(k) is not str:
                k = to_key_part(k)
            t = vals[1]
            if type(t) is datetime:
                t = (t if t.tzinfo is not None else t.replace(tzinfo=utc)).timestamp()
            else:
                t = parse(t)
            if has_id:
                eid = vals[2]
                if eid is missing:
                    eid = None
                elif eid is not None and type(eid) is not str:
                    eid = to_id(eid)
                first = 3
            else:
                eid = None
                first = 2
            if nargs == 0:
                args: tuple[Any, ...] = ()
            elif nargs == 1:
                args = (conv0(vals[first]),)  # type: ignore[misc]
            else:
                args = tuple([c(v) for c, v in zip(convs, vals[first:])])
            return Event(k, t, action, args, eid, record, origin)

        return build

    def _event(self, rule: _Rule, obj: Any, is_view: bool, record: Any, origin: Any) -> Event:
        key = _read_key(rule.key or self.key, obj, is_view)
        tf = rule.time or self.time
        t = _read(tf, obj, is_view)
        if t is MISSING or t is None:
            raise RecordError("missing_time", f"{tf.where()}: no event time")
        try:
            if isinstance(t, datetime):
                t = (t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)).timestamp()
            else:
                t = self._time(t)
        except BadValue as exc:
            raise RecordError("bad_time", f"{tf.where()}: {exc}") from None
        args = []
        for pname, f, tname, conv in rule.args:
            v = _read(f, obj, is_view)
            if v is MISSING:
                raise RecordError("missing_arg",
                                  f"{f.where()}: missing ({rule.action}.{pname}, {tname})")
            try:
                args.append(conv(v))
            except BadValue as exc:
                raise RecordError("bad_arg", f"{f.where()}: {exc} ({rule.action}.{pname})") from None
        idf = rule.id or self.id
        eid = None
        if idf is not None:
            v = _read(idf, obj, is_view)
            if v is not MISSING and v is not None:
                try:
                    eid = to_id(v)
                except BadValue as exc:
                    raise RecordError("bad_id", f"{idf.where()}: {exc}") from None
        trace = None
        if self.trace_id is not None:
            v = _read(self.trace_id, obj, is_view)
            trace = v if type(v) is str else None
        return Event(key, t, rule.action, tuple(args), eid, record, origin, trace)


def _read(f: _Field, obj: Any, is_view: bool) -> Any:
    if f.path is None:
        return f.const
    return (f.view if is_view else f.dict)(obj)  # type: ignore[misc]


def _read_key(key: _Key, obj: Any, is_view: bool) -> str:
    parts = []
    for f in key.parts:
        v = _read(f, obj, is_view)
        if v is MISSING or v is None:
            raise RecordError("missing_key", f"{f.where()}: no key")
        try:
            parts.append(to_key_part(v))
        except BadValue as exc:
            raise RecordError("bad_key", f"{f.where()}: {exc}") from None
    return parts[0] if len(parts) == 1 else "/".join(parts)


def _matches(rule: _Rule, obj: Any, is_view: bool) -> bool:
    for f, allowed, value in rule.conds:
        v = _read(f, obj, is_view)
        if allowed is not None:
            try:
                if v not in allowed:
                    return False
            except TypeError:
                return False
        elif v != value or v is MISSING or type(v) is bool and type(value) is not bool:
            return False
    return True


def _dispatch(rules: list[_Rule]) -> tuple[_Field | None, dict[Any, tuple[_Rule, ...]],
                                            tuple[_Rule, ...]]:
    """Pick the path most rules constrain by equality; index rules by its value."""
    counts: dict[Path, int] = {}
    for r in rules:
        for f, _allowed, _v in r.conds:
            if f.path is not None:
                counts[f.path] = counts.get(f.path, 0) + 1
    if not counts:
        return None, {}, tuple(rules)
    best = max(counts, key=lambda p: counts[p])
    table: dict[Any, list[_Rule]] = {}
    default: list[_Rule] = []
    field = None
    for r in rules:
        cond = next((c for c in r.conds if c[0].path == best), None)
        if cond is None:
            default.append(r)
            for lst in table.values():
                lst.append(r)
            continue
        field = field or cond[0]
        values = cond[1] if cond[1] is not None else (cond[2],)
        rest = [c for c in r.conds if c is not cond]
        narrowed = _Rule(r.index, r.action)
        narrowed.conds, narrowed.args = rest, r.args
        narrowed.key, narrowed.time, narrowed.id = r.key, r.time, r.id
        for v in values:
            lst = table.setdefault(v, list(default))
            lst.append(narrowed)
    return field, {k: tuple(v) for k, v in table.items()}, tuple(default)

"""Per rule, the two ways to build an ``Event`` once the rule has matched.

``careful_builder`` works on decoded dicts and raises ``RecordError`` naming the cause
and the JSON path of whatever is wrong. ``fast_builder`` works on views and only knows
the happy case: anything it does not expect raises inside it, and it hands the record
to the careful path (through ``slow``), so both always agree.

Numbers, for the payment CloudEvent of docs/mapping.md on one core: the fast builder
costs about 0.45 us, of which ``datetime.timestamp()`` is 0.17 us, the ``attrgetter``
call 0.1 us and ``Event(...)`` 0.09 us; each extra branch or call costs 10-50 ns, hence
the ``lean`` variant for the common shape. Pure.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from operator import attrgetter
from typing import Any

from monitor.engine.events import Event
from monitor.errors import RecordError
from monitor.mapping.convert import BadValue, parse_trace, to_id, to_key_part
from monitor.mapping.paths import MISSING, Path, ShapeError, ViewTree, show_path
from monitor.mapping.rules import Rule

__all__ = ["Build", "careful_builder", "fast_builder"]

Getter = Callable[[Any], Any]
Build = Callable[[Any, Any, Any], Any]  # (decoded record, record, origin) -> Event | None


def careful_builder(rule: Rule, dget: dict[Path, Getter], trace_path: Path | None,
                    to_time: Callable[[Any], float]) -> Build:
    """Builds the Event from dicts, or raises RecordError naming cause and path."""
    action = rule.action
    keys = [(dget[s.path] if s.path else None, s.const, s.where()) for s in rule.key]
    tget, twhere = dget[rule.time], show_path(rule.time)
    iget = dget[rule.id] if rule.id is not None else None
    iwhere = show_path(rule.id) if rule.id is not None else ""
    args = [(dget[a.source.path] if a.source.path else None, a.source.const, a.conv,
             a.source.where(), f"{action}.{a.name}") for a in rule.args]
    trace = dget[trace_path] if trace_path is not None else None

    def build(obj: Any, record: Any, origin: Any) -> Event:
        parts = []
        for get, const, where in keys:
            if get is None:
                parts.append(const)
                continue
            v = _read(get, obj, where, "the key")
            if v is MISSING or v is None:
                raise RecordError("missing_key", f"{where}: no key (absent or null)")
            try:
                parts.append(to_key_part(v))
            except BadValue as exc:
                raise RecordError("bad_key", f"{where}: {exc}") from None
        t = _read(tget, obj, twhere, "the event time")
        if t is MISSING or t is None:
            raise RecordError("missing_time", f"{twhere}: no event time (absent or null)")
        try:
            t = to_time(t)
        except BadValue as exc:
            raise RecordError("bad_time", f"{twhere}: {exc}") from None
        values = []
        for get, const, conv, where, what in args:
            if get is None:
                values.append(const)
                continue
            v = _read(get, obj, where, what)
            if v is MISSING:
                raise RecordError("missing_arg", f"{where}: missing ({what}: {conv.name})")
            try:
                values.append(conv.fn(v))
            except BadValue as exc:
                raise RecordError("bad_arg", f"{where}: {exc} ({what})") from None
        eid = None
        if iget is not None:
            v = _read(iget, obj, iwhere, "the event id")
            if v is not MISSING and v is not None:
                try:
                    eid = to_id(v)
                except BadValue as exc:
                    raise RecordError("bad_id", f"{iwhere}: {exc}") from None
        trace_id = span_id = None
        if trace is not None:
            try:
                trace_id, span_id = parse_trace(trace(obj))
            except ShapeError:
                pass  # a trace id is a nicety: never a reason to drop a record
        key = parts[0] if len(parts) == 1 else "/".join(parts)
        return Event(key, t, action, tuple(values), eid, record, origin, trace_id, span_id)

    return build


def _read(get: Getter, obj: Any, where: str, what: str) -> Any:
    try:
        return get(obj)
    except ShapeError as exc:
        raise RecordError("malformed", f"{exc} (reading {where} for {what})") from None


def fast_builder(rule: Rule, tree: ViewTree, vget: dict[Path, Getter],
                 trace_path: Path | None, to_time: Callable[[Any], float],
                 slow: Callable[[Any, Any], Any]) -> Build:
    """The careful builder's happy case on views, as one closure."""
    one_key = len(rule.key) == 1 and rule.key[0].path is not None
    paths_only = all(a.source.path is not None for a in rule.args)
    if (one_key and trace_path is None and len(rule.args) <= 1 and paths_only
            and all(tree.attr_path(p) for p in _lean_fields(rule))):
        return _lean(rule, tree, to_time, slow)
    fields: list[Path] = []

    def slot(path: Path | None) -> int:
        if path is None:
            return -1
        fields.append(path)
        return len(fields) - 1

    k_i = slot(rule.key[0].path) if one_key else -1
    kparts = [] if one_key else [(slot(s.path), s.const) for s in rule.key]
    t_i, id_i, tr_i = slot(rule.time), slot(rule.id), slot(trace_path)
    argv = [(slot(a.source.path), a.source.const, a.conv.fn) for a in rule.args]
    const_args = tuple(a.source.const for a in rule.args) if not any(
        a.source.path for a in rule.args) else None
    get_all = _get_all(fields, tree, vget)
    action, key_part, dt, utc, missing = rule.action, to_key_part, datetime, timezone.utc, MISSING

    def build(view: Any, record: Any, origin: Any) -> Event | None:
        try:
            vals = get_all(view)
            if k_i >= 0:
                k = vals[k_i]
                if type(k) is not str:
                    k = key_part(k)
            else:
                k = "/".join([c if i < 0 else key_part(vals[i]) for i, c in kparts])
            t = vals[t_i]
            if type(t) is dt:
                t = (t if t.tzinfo is not None else t.replace(tzinfo=utc)).timestamp()
            else:
                t = to_time(t)
            eid = vals[id_i] if id_i >= 0 else None
            if eid is not None and type(eid) is not str:
                eid = None if eid is missing else to_id(eid)
            if const_args is not None:
                args = const_args
            else:
                args = tuple([c if i < 0 else fn(vals[i]) for i, c, fn in argv])
            trace = parse_trace(vals[tr_i]) if tr_i >= 0 else (None, None)
        except Exception:  # noqa: BLE001 - the careful path names what is wrong
            return slow(record, origin)  # type: ignore[no-any-return]
        return Event(k, t, action, args, eid, record, origin, trace[0], trace[1])

    return build


def _lean_fields(rule: Rule) -> list[Path]:
    """Key, time, then id and the argument, each padded with the key when absent, so
    that one ``attrgetter`` always returns four values to unpack."""
    key = rule.key[0].path
    assert key is not None
    arg = rule.args[0].source.path if rule.args else None
    return [key, rule.time, rule.id or key, arg or key]


def _lean(rule: Rule, tree: ViewTree, to_time: Callable[[Any], float],
          slow: Callable[[Any, Any], Any]) -> Build:
    """``fast_builder`` for the common shape (one key field, at most one argument, no
    trace id) without the general version's branches: about 0.12 us less per record."""
    get_all = attrgetter(*[tree.attr_path(p) for p in _lean_fields(rule)])  # type: ignore[misc,arg-type]
    has_id, has_arg = rule.id is not None, bool(rule.args)
    conv = rule.args[0].conv.fn if has_arg else None
    exact = rule.args[0].conv.exact if has_arg else None
    action, key_part, dt, utc, missing = rule.action, to_key_part, datetime, timezone.utc, MISSING

    def build(view: Any, record: Any, origin: Any) -> Event | None:
        try:
            k, t, eid, a = get_all(view)
            if type(k) is not str:
                k = key_part(k)
            if type(t) is dt:
                t = (t if t.tzinfo is not None else t.replace(tzinfo=utc)).timestamp()
            else:
                t = to_time(t)
            if not has_id:
                eid = None
            elif eid is not None and type(eid) is not str:
                eid = None if eid is missing else to_id(eid)
            args = (a if type(a) is exact else conv(a),) if has_arg else ()  # type: ignore[misc]
        except Exception:  # noqa: BLE001 - the careful path names what is wrong
            return slow(record, origin)  # type: ignore[no-any-return]
        return Event(k, t, action, args, eid, record, origin)

    return build


def _get_all(fields: list[Path], tree: ViewTree, vget: dict[Path, Getter]) -> Getter:
    """One call that reads every field: a C ``attrgetter`` when all are view fields."""
    attrs = [tree.attr_path(p) for p in fields]
    if None in attrs:
        getters = [vget[p] for p in fields]
        return lambda view: [g(view) for g in getters]
    if len(attrs) == 1:
        one = attrgetter(attrs[0])  # type: ignore[arg-type]
        return lambda view: (one(view),)
    return attrgetter(*attrs)  # type: ignore[arg-type]

"""``monitor.check_trace``: the monitor's verdict on every step of one recorded trace,
for tools, tests and agents that hold a trace in memory.

>>> from monitor import Spec, action, require, check_trace
>>> class Light(Spec):
...     on: bool = False
...     @action
...     def switch_on(self):
...         require(not self.on, "already on")
...         self.on = True
...     @action
...     def switch_off(self):
...         require(self.on, "already off")
...         self.on = False
>>> trace = [("switch_on", {}), ("switch_off", {}), ("switch_off", {}), ("switch_on", {})]
>>> for v in check_trace(Light, trace):
...     print(v.index, v.verdict, v.message)
0 ok None
1 ok None
2 unexpected switch_off() not allowed: already off
3 after None

``records`` is one of:

- ``(action, args)`` pairs (``args`` a dict by parameter name), or ``(action, args,
  time)``; the key is ``key`` and the time, if not given, the position + 1 (seconds);
- an ITF trace (a dict with ``states``, e.g. ``quint run --out-itf`` or
  ``specmon generate --itf``): its steps, as ``specmon replay --format itf`` takes them;
- raw JSON records (dicts, or bytes/str holding JSON) with ``mapping``: a
  ``monitor.mapping.Mapping``, its ``EventMapper``, or ``mapping.yaml``'s text.

One ``Verdict`` per record, in order: ``ok`` (the spec allowed it), ``unexpected`` /
``invariant`` (a violation: ``property`` and ``message`` as in reports), ``after``
(the instance was already in violation: quarantined, not checked), ``spec_error``,
``duplicate``, ``late``, ``ignored`` (late join), ``unmatched`` and ``invalid`` (the
mapping did not give an action; ``message`` says why). Then one ``deadline`` verdict per
``within`` that expired (``index`` None: no record caused it). With the default config
(``allowed_lateness=0``, ``late_join="strict"``: a trace starts at the initial state)
every record is applied as it arrives, so the verdicts are exact; with lateness, a
record's outcome is decided when the watermark releases it and is attributed to the
record being fed then, except violations, which always name their own record.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from monitor.engine import Engine, EngineConfig, Event
from monitor.errors import RecordError
from monitor.spec.model import SpecModel, model_of

__all__ = ["Verdict", "check_trace"]


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    index: int | None  # the record's position; None for a deadline
    verdict: str
    key: str | None = None
    action: str | None = None
    args: dict[str, Any] | None = None
    time: float | None = None
    property: str | None = None
    message: str | None = None


_DEFAULT = EngineConfig(allowed_lateness=0.0, late_join="strict")
#: counter -> verdict for records the engine took without a report
_OUTCOMES = (("duplicate", "duplicate"), ("late", "late"), ("quarantined", "after"),
             ("ignored", "ignored"), ("unknown_action", "unmatched"))


def check_trace(spec: type | SpecModel, records: Any, *, mapping: Any = None,
                config: EngineConfig | None = None, key: str = "trace") -> list[Verdict]:
    """Feed ``records`` to a fresh engine; see the module docstring."""
    model = spec if isinstance(spec, SpecModel) else model_of(spec)
    engine = Engine(model, config or _DEFAULT)
    verdicts: list[Verdict] = []
    extra: list[Verdict] = []
    for i, item in enumerate(_events(model, records, mapping, key)):
        if isinstance(item, Verdict):
            verdicts.append(item)
            continue
        before = {name: getattr(engine.counters, name) for name, _ in _OUTCOMES}
        reports = engine.feed(item)
        mine = _split(reports, i, extra)
        verdicts.append(mine or _outcome(engine, before, i, item))
    _split(engine.flush(), None, extra)
    for v in extra:  # violations of records released late (lateness > 0) find their record
        if v.index is not None and v.index < len(verdicts):
            verdicts[v.index] = v
    return verdicts + [v for v in extra if v.index is None]


def _split(reports: list[Any], index: int | None, extra: list[Verdict]) -> Verdict | None:
    mine = None
    for r in reports:
        where = r.origin if type(r.origin) is int else None
        kind = getattr(r, "kind", "spec_error")
        v = Verdict(index=where, verdict=kind, key=r.key, action=r.action, args=r.args,
                    time=r.time, property=getattr(r, "property", getattr(r, "where", None)),
                    message=r.message)
        if where is not None and where == index:
            mine = v
        else:
            extra.append(v)
    return mine


def _outcome(engine: Engine, before: dict[str, int], i: int, ev: Event) -> Verdict:
    verdict = "ok"
    for name, label in _OUTCOMES:
        if getattr(engine.counters, name) != before[name]:
            verdict = label
            break
    act = engine.model.actions.get(ev.action)
    args = dict(zip(act.params, ev.args)) if act is not None else None
    return Verdict(index=i, verdict=verdict, key=ev.key, action=ev.action, args=args,
                   time=ev.time)


def _events(model: SpecModel, records: Any, mapping: Any, key: str
            ) -> Iterable[Event | Verdict]:
    if isinstance(records, dict) and "states" in records:
        from monitor.explore.itf import read_trace
        from monitor.explore.traces import itf_events

        events = itf_events(read_trace(records), model, key=key)
        return [msgspec.structs.replace(e, origin=i) for i, e in enumerate(events)]
    if mapping is not None:
        return _mapped(model, records, mapping)
    return _pairs(model, records, key)


def _pairs(model: SpecModel, records: Iterable[Any], key: str) -> Iterable[Event | Verdict]:
    for i, item in enumerate(records):
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            raise TypeError(f"records[{i}]: expected (action, args) or (action, args, time), "
                            f"got {item!r}; raw JSON records need mapping=")
        name, args = item[0], item[1] or {}
        act = model.actions.get(name)
        if act is None:
            raise ValueError(f"records[{i}]: {name!r} is not an action of {model.name}; "
                             f"it has: {', '.join(model.actions)}")
        unknown = set(args) - set(act.params)
        missing = [p for p in act.params if p not in args]
        if unknown or missing:
            raise ValueError(f"records[{i}]: {act.qualname} takes ({', '.join(act.params)}); "
                             f"got {sorted(args)}")
        t = float(item[2]) if len(item) == 3 else float(i + 1)
        yield Event(key, t, name, tuple(args[p] for p in act.params), origin=i)


def _mapped(model: SpecModel, records: Iterable[Any], mapping: Any
            ) -> Iterable[Event | Verdict]:
    mapper = _mapper(model, mapping)
    for i, rec in enumerate(records):
        try:
            if isinstance(rec, (bytes, str)):
                ev = mapper.map_bytes(rec.encode() if isinstance(rec, str) else rec, i)
            else:
                ev = mapper.map_obj(rec, i)
        except RecordError as exc:
            yield Verdict(index=i, verdict="invalid", property=exc.cause, message=str(exc))
            continue
        if ev is None:
            yield Verdict(index=i, verdict="unmatched", message="no rule matches the record")
        else:
            yield ev


def _mapper(model: SpecModel, mapping: Any) -> Any:
    from monitor.mapping import EventMapper, Mapping, load_mapping

    if isinstance(mapping, str):
        mapping = load_mapping(mapping, filename="<mapping>", model=model)
    if isinstance(mapping, Mapping):
        mapping = mapping.events
    if not isinstance(mapping, EventMapper):
        raise TypeError(f"mapping: expected mapping.yaml text, a Mapping or an EventMapper, "
                        f"got {type(mapping).__name__}")
    return mapping

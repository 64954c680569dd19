"""Snapshot/restore of the whole engine state to bytes (msgpack).

Contents: instances (states, history, windows, mode), finished instances, deadline
timers, the reorder buffer, remembered event ids, watermark, source positions,
counters and transition coverage (at most ``max_transitions`` entries). State sets
are written once each into a table and referenced by index, so a snapshot of many
instances in few distinct states stays small. Memo tables are not saved: they are
caches and refill on demand (coverage counts wait, detached, for their step).

States are decoded with the spec's field annotations (``frozenset[str]`` comes back as
a frozenset, not a list); fields without a usable annotation get lists turned back
into tuples. Pure: bytes in, bytes out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from monitor.engine.events import Event
from monitor.engine.instance import Instance, pack_history, tuplify, unpack_history
from monitor.engine.transitions import Edge
from monitor.errors import SnapshotError
from monitor.spec.model import SpecModel

if TYPE_CHECKING:
    from monitor.engine.core import Engine

__all__ = ["dump", "load"]

VERSION = 1


class _Snap(msgspec.Struct, array_like=True):
    version: int
    spec: str
    fields: list[str]
    max_time: float
    floor: float
    next_sweep: float
    buffer_seq: int
    states: list[list[Any]]
    sets: list[list[int]]
    instances: list[tuple[str, int, bytes, int, int, float | list[float | None] | None, int]]
    finished: list[tuple[str, int, bytes, int, int, float | list[float | None] | None, int]]
    buffer: list[tuple[float, int, Event]]
    dedup: list[tuple[str, float]]
    timers: list[tuple[float, str, int]]
    positions: dict[str, Any]
    counters: dict[str, Any]
    #: when stale timers are next compacted (so a restored engine compacts, and counts
    #: ``deadline_timers_compacted``, exactly as the original would have)
    timer_limit: int = 4096
    #: transition coverage, in first-seen order: (state, action, args, state, events)
    coverage: list[tuple[int, str, list[Any], int, int]] = []


_encoder = msgspec.msgpack.Encoder()


def dump(engine: Engine) -> bytes:
    state_ids: dict[Any, int] = {}
    set_ids: dict[Any, int] = {}
    states: list[Any] = []
    sets: list[list[int]] = []

    def state_id(s: Any) -> int:
        j = state_ids.get(s)
        if j is None:
            j = state_ids[s] = len(states)
            states.append(list(s))
        return j

    def set_id(ss: tuple[Any, ...]) -> int:
        i = set_ids.get(ss)
        if i is None:
            i = set_ids[ss] = len(sets)
            sets.append([state_id(s) for s in ss])
        return i

    def row(k: str, i: Instance) -> tuple[Any, ...]:
        return (k, set_id(i.node.states), pack_history(i), set_id(i.h0.states), i.hn,
                list(i.win) if isinstance(i.win, tuple) else i.win, i.mode)

    instances = [row(k, i) for k, i in engine.instances.items()]
    finished = [row(k, i) for k, i in engine.finished.items()]
    coverage = [(state_id(src), action, list(args), state_id(dst), edge.n)
                for (src, action, args, dst), edge in engine.trans.edges.items()]
    snap = _Snap(
        version=VERSION, spec=engine.model.name, fields=list(engine.model.fields),
        max_time=engine.max_time, floor=engine.floor, next_sweep=engine.next_sweep,
        buffer_seq=engine.buffer.seq,
        states=states, sets=sets, instances=instances, finished=finished,
        buffer=[(t, seq, ev) for t, seq, ev in engine.buffer.entries()],
        dedup=engine.dedup.items(), timers=list(engine.timers),
        positions=dict(engine.positions), counters=engine.counters.as_dict(),
        timer_limit=engine._timer_limit, coverage=coverage,
    )
    return _encoder.encode(snap)


def load(engine: Engine, data: bytes) -> None:
    try:
        snap = msgspec.msgpack.decode(data, type=_Snap)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise SnapshotError(
            f"checkpoint is corrupt or from another version: {exc}. Operator action: "
            "remove the checkpoint to start from empty state."
        ) from None
    model = engine.model
    if snap.version != VERSION or snap.spec != model.name or snap.fields != list(model.fields):
        raise SnapshotError(
            f"checkpoint holds spec {snap.spec} with fields {snap.fields} (format "
            f"v{snap.version}); this engine runs {model.name} with fields "
            f"{list(model.fields)} (v{VERSION}). Operator action: deploy the matching "
            "spec, or remove the checkpoint to start from empty state."
        )
    if engine.instances or engine.counters.events:
        raise SnapshotError("restore() needs a fresh engine")
    thaw = state_codec(model)
    node = engine.trans.node
    table = [thaw(s) for s in snap.states]
    sets = [node(tuple(table[j] for j in refs)) for refs in snap.sets]
    def instance(si: int, hist: bytes, h0: int, hn: int, win: Any, mode: int) -> Instance:
        inst = Instance(sets[si], 0.0)
        unpack_history(inst, hist)
        inst.h0, inst.hn, inst.mode = sets[h0], hn, mode
        inst.win = tuple(win) if isinstance(win, list) else win
        return inst

    for key, *rest in snap.instances:
        engine.instances[key] = instance(*rest)  # type: ignore[arg-type]
    engine.finished.clear()
    engine.finished.update((key, instance(*rest)) for key, *rest in snap.finished)  # type: ignore[arg-type]
    engine.buffer.restore(
        [(t, seq, _thaw_event(ev)) for t, seq, ev in snap.buffer], snap.buffer_seq
    )
    engine.dedup.restore([(i, t) for i, t in snap.dedup])
    engine.timers = [tuple(t) for t in snap.timers]  # type: ignore[misc]
    engine.max_time = snap.max_time
    engine.floor = snap.floor
    engine._set_floor(snap.floor)
    engine.next_sweep = snap.next_sweep
    engine.positions = dict(snap.positions)
    engine.counters.load(snap.counters)
    engine._timer_limit = snap.timer_limit
    # counts without their memo entries: the next computation of a step picks its edge up
    engine.trans.edges.update(
        ((table[src], action, tuplify(args), table[dst]), Edge(None, n))
        for src, action, args, dst, n in snap.coverage
    )


def _thaw_event(ev: Event) -> Event:
    return msgspec.structs.replace(ev, args=tuplify(list(ev.args)))


def state_codec(model: SpecModel) -> Callable[[list[Any]], tuple[Any, ...]]:
    """list (from msgpack) -> state tuple, typed by the spec's field annotations."""
    convs: list[Callable[[Any], Any]] = []
    for ty, default in zip(model.field_types, model.initial):
        conv: Callable[[Any], Any] = tuplify
        if ty is not Any:
            try:
                probe = msgspec.msgpack.decode(_encoder.encode(default))
                if msgspec.convert(probe, ty) == default:
                    conv = _typed(ty)
            except (TypeError, msgspec.ValidationError):
                pass
        convs.append(conv)

    def thaw(values: list[Any]) -> tuple[Any, ...]:
        return tuple(f(v) for f, v in zip(convs, values))

    return thaw


def _typed(ty: Any) -> Callable[[Any], Any]:
    def conv(value: Any) -> Any:
        if isinstance(value, float) and (math.isinf(value) or math.isnan(value)):
            return value
        # msgpack gives nested tuples back as lists, which a bare ``tuple``/``frozenset``
        # annotation keeps as (unhashable) lists: turn them into tuples first
        return msgspec.convert(tuplify(value), ty)

    return conv

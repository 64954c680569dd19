"""One monitored entity and its compact history ring.

Memory matters here (one object per live entity: the benchmark's budget is 300 bytes
all told), so an ``Instance`` holds only: the candidate-state set (a shared, interned
``Node``), the last event time (for the TTL), one ``bytes`` holding the history ring
(msgpack ``(time, action index, args)`` entries, each with a one-byte length prefix),
the state set before the oldest retained entry, open ``within``
windows and a mode. The states of each history step are recomputed from
``h0`` when a report is written: steps are deterministic and memoised, and reports are
rare, while events are not.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import struct
from typing import Any

import msgspec

__all__ = ["ACTIVE", "IGNORED", "QUARANTINED", "Instance", "decode_entries", "last_time",
           "pack_history", "push_history", "touch", "unpack_history"]

ACTIVE, QUARANTINED, IGNORED = 0, 1, 2

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder().decode
_PREFIX = [bytes((n,)) for n in range(256)]

_HEAD = struct.Struct("<d")
_join = b"".join


class Instance:
    __slots__ = ("node", "last", "hist", "h0", "hn", "win", "mode")

    def __init__(self, node: Any, last: float) -> None:
        self.node = node
        # the last event time is its own float (a C double when compiled), not packed
        # into ``hist``: read per event for the TTL, and the ring is appended to
        # without re-packing a head
        self.last = last
        self.hist = b""  # the ring
        self.h0 = node
        self.hn = 0
        self.win: Any = None  # open windows' deadlines (see Engine._windows)
        self.mode = ACTIVE


def last_time(inst: Instance) -> float:
    """Event time of the instance's last event (drives its TTL)."""
    return inst.last


def touch(inst: Instance, time: float) -> None:
    """Record an event that changes no state (quarantined or ignored instances)."""
    if time > inst.last:
        inst.last = time


def pack_history(inst: Instance) -> bytes:
    """Last event time and ring in one ``bytes`` (the snapshot's layout since v1)."""
    return _HEAD.pack(inst.last) + inst.hist


def unpack_history(inst: Instance, data: bytes) -> None:
    inst.last = _HEAD.unpack_from(data)[0]
    inst.hist = data[8:]


def push_history(inst: Instance, time: float, action_index: int, args: tuple[Any, ...],
                 limit: int, engine: Any) -> None:
    """Append a step to the ring (after ``inst.node`` was updated by it) and make
    ``time`` the last event time. When the ring is full the oldest entry is folded into
    ``h0`` with ``engine._fold(h0, index, args)`` (the engine itself is passed, not a
    bound method: building one per event costs an allocation)."""
    inst.last = time
    entry = _encode((time, action_index, args))
    if len(entry) > 255:  # huge arguments: restart the ring at this step, args elided
        entry = _encode((time, action_index, None))
        inst.h0, inst.hn = inst.node, 1
        inst.hist = _PREFIX[len(entry)] + entry
        return
    if inst.hn < limit:  # the common case: one copy of the ring
        inst.hn += 1
        inst.hist = _join((inst.hist, _PREFIX[len(entry)], entry))
        return
    # full: drop the oldest entry, folding it into h0
    body = _join((inst.hist, _PREFIX[len(entry)], entry))
    n0 = body[0]
    _t, idx, old_args = _decode(body[1 : 1 + n0])
    if old_args is not None:  # an elided entry starts the ring: h0 is already after it
        inst.h0 = engine._fold(inst.h0, idx, tuplify(old_args))
    inst.hist = body[1 + n0 :]


def decode_entries(hist: bytes) -> list[tuple[float, int, tuple[Any, ...] | None]]:
    out = []
    pos = 0
    while pos < len(hist):
        n = hist[pos]
        t, idx, args = _decode(hist[pos + 1 : pos + 1 + n])
        out.append((t, idx, tuplify(args) if args is not None else None))
        pos += 1 + n
    return out


def tuplify(value: Any) -> Any:
    """msgpack gives lists back; states and args are tuples (hashable)."""
    if isinstance(value, list):
        return tuple(tuplify(v) for v in value)
    return value

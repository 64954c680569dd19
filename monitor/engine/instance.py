"""One monitored entity and its compact history ring.

Memory matters here (one object per live entity), so an ``Instance`` holds only:
the candidate-state set (a shared, interned ``Node``), the history ring packed into one
``bytes`` (msgpack ``(time, action index, args)`` entries, each with a one-byte length
prefix), the state set before the oldest retained entry, the last event time, open
``within`` windows and a mode. The states of each history step are recomputed from
``h0`` when a report is written: steps are deterministic and memoised, and reports are
rare, while events are not.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["ACTIVE", "IGNORED", "QUARANTINED", "Instance", "decode_entries", "push_history"]

ACTIVE, QUARANTINED, IGNORED = 0, 1, 2

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder().decode
_PREFIX = [bytes((n,)) for n in range(256)]

class Instance:
    __slots__ = ("node", "hist", "h0", "hn", "last", "win", "mode")

    def __init__(self, node: Any, last: float) -> None:
        self.node = node
        self.hist = b""
        self.h0 = node
        self.hn = 0
        self.last = last
        self.win: Any = None  # open windows' deadlines (see Engine._windows)
        self.mode = ACTIVE


def push_history(inst: Instance, time: float, action_index: int, args: tuple[Any, ...],
                 limit: int, advance: Any) -> None:
    """Append a step to the ring (after ``inst.node`` was updated by it). When the ring
    is full the oldest entry is folded into ``h0`` with ``advance(h0, index, args)``."""
    entry = _encode((time, action_index, args))
    if len(entry) > 255:  # huge arguments: restart the history rather than store them
        inst.hist, inst.hn, inst.h0 = b"", 0, inst.node
        return
    hist = inst.hist + _PREFIX[len(entry)] + entry
    if inst.hn >= limit:
        n0 = hist[0]
        _t, idx, old_args = _decode(hist[1 : 1 + n0])
        inst.h0 = advance(inst.h0, idx, tuplify(old_args))
        hist = hist[1 + n0 :]
    else:
        inst.hn += 1
    inst.hist = hist


def decode_entries(hist: bytes) -> list[tuple[float, int, tuple[Any, ...]]]:
    out = []
    pos = 0
    while pos < len(hist):
        n = hist[pos]
        t, idx, args = _decode(hist[pos + 1 : pos + 1 + n])
        out.append((t, idx, tuplify(args)))
        pos += 1 + n
    return out


def tuplify(value: Any) -> Any:
    """msgpack gives lists back; states and args are tuples (hashable)."""
    if isinstance(value, list):
        return tuple(tuplify(v) for v in value)
    return value

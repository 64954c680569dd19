"""Turning an instance's packed history into report entries (the rare path). Pure."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from monitor.engine.events import HistoryEntry
from monitor.engine.instance import Instance, decode_entries
from monitor.spec.model import SpecModel

__all__ = ["fmt_duration", "fmt_time", "history_of", "states_as_dicts"]


def states_as_dicts(model: SpecModel, states: tuple[Any, ...]) -> list[dict[str, Any]]:
    return [model.as_dict(s) for s in states]


def history_of(engine: Any, inst: Instance) -> list[HistoryEntry]:
    """``engine``: an ``Engine`` (or one of its mixins: typed loosely so they need not
    import it). Replay the retained steps from ``inst.h0`` to recover the states after each."""
    out = []
    node = inst.h0
    for t, idx, args in decode_entries(inst.hist):
        act = engine.action_list[idx]
        if args is not None:  # None: arguments too large to keep; h0 is after this step
            node = engine._fold(node, idx, args)
        out.append(HistoryEntry(
            time=t, action=act.name, args=dict(zip(act.params, args or ())),
            states=states_as_dicts(engine.model, node.states),
        ))
    return out


def fmt_time(t: float) -> str:
    """Event time as RFC 3339 UTC (for messages; reports keep the number)."""
    try:
        return datetime.fromtimestamp(t, tz=timezone.utc).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return repr(t)


def fmt_duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"

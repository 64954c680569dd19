"""Durations in specs and configs: ``"7d"``, ``"1h30m"``, ``"250ms"``, numbers (seconds),
or ``datetime.timedelta``. Pure."""

from __future__ import annotations

import math
import re
from datetime import timedelta

__all__ = ["parse_duration"]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(value: object) -> float:
    """Return ``value`` in seconds; raise ``ValueError`` naming the accepted forms."""
    if isinstance(value, bool):
        raise ValueError(f"duration must be a number of seconds or a string like '7d', got {value!r}")
    if isinstance(value, (int, float, timedelta)):
        seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
        if not math.isfinite(seconds):
            raise ValueError(f"duration must be finite, got {value!r}")
        if seconds < 0:
            raise ValueError(f"duration must not be negative, got {value!r}")
        return seconds
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        pos, total = 0, 0.0
        for m in _PART.finditer(text):
            if m.start() != pos:
                break
            total += float(m.group(1)) * _UNITS[m.group(2)]
            pos = m.end()
        if text and pos == len(text):
            return total
    raise ValueError(
        f"invalid duration {value!r}: use seconds (30) or units ms/s/m/h/d/w like '7d' or '1h30m'"
    )

"""Converting record values: keys, event times, ids and action arguments (to the
parameter's annotation). Each converter returns the value or raises ``BadValue`` with
a short reason; the caller adds the path and the record. Pure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

__all__ = ["BadValue", "arg_converter", "to_id", "to_key_part", "time_converter"]

_UNIT = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


class BadValue(Exception):
    pass


def _str_or_int(what: str) -> Callable[[Any], str]:
    def conv(v: Any) -> str:
        if type(v) is str:
            return v
        if type(v) is int:
            return str(v)
        raise BadValue(f"expected a string or integer {what}, got {v!r}")

    return conv


to_key_part = _str_or_int("key")
to_id = _str_or_int("id")


def time_converter(unit: str) -> Callable[[Any], float]:
    scale = _UNIT[unit]

    def conv(v: Any) -> float:
        if type(v) is str:
            try:
                dt = datetime.fromisoformat(v)
            except ValueError:
                raise BadValue(f"expected an RFC 3339 time, got {v!r}") from None
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=timezone.utc)
            return dt.timestamp()
        if type(v) is int or type(v) is float:
            return v * scale
        raise BadValue(f"expected an RFC 3339 string or a number, got {v!r}")

    return conv


def arg_converter(annotation: Any) -> tuple[str, Callable[[Any], Any]]:
    """(type name for messages, converter) for a parameter annotation."""
    if annotation is int:
        return "int", _to_int
    if annotation is float:
        return "float", _to_float
    if annotation is str:
        return "str", _to_str
    if annotation is bool:
        return "bool", _to_bool
    return "any", _to_hashable


def _to_int(v: Any) -> int:
    t = type(v)
    if t is int:
        return v
    if t is float and v.is_integer():
        return int(v)
    if t is str:
        try:
            return int(v.strip())
        except ValueError:
            pass
    raise BadValue(f"expected int, got {v!r}")


def _to_float(v: Any) -> float:
    t = type(v)
    if t is float or t is int:
        return float(v)
    if t is str:
        try:
            return float(v)
        except ValueError:
            pass
    raise BadValue(f"expected float, got {v!r}")


def _to_str(v: Any) -> str:
    t = type(v)
    if t is str:
        return v
    if t is int:
        return str(v)
    raise BadValue(f"expected str, got {v!r}")


def _to_bool(v: Any) -> bool:
    if type(v) is bool:
        return v
    if v in ("true", "false"):
        return v == "true"
    raise BadValue(f"expected bool, got {v!r}")


def _to_hashable(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_to_hashable(x) for x in v)
    if isinstance(v, dict):
        raise BadValue("expected a scalar or list, got an object (arguments must be hashable)")
    return v

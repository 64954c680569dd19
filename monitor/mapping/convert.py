"""Converting record values: keys, ids, event times, trace ids and action arguments
(to the parameter's annotation). A converter returns the value or raises ``BadValue``
with a short reason; the caller adds the JSON path and the cause. Pure.

Arguments become spec state, which must be hashable: lists turn into tuples and
objects are refused. ``bool`` is never taken for a number (``True == 1`` in Python).
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import msgspec

__all__ = ["BadValue", "Converter", "arg_converter", "parse_trace", "time_converter",
           "to_id", "to_key_part"]

#: divisors from a numeric time in ``time_unit`` to seconds (true division rounds once)
UNIT_DIVISOR = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_UTC = timezone.utc
_HEX = frozenset("0123456789abcdefABCDEF")


class BadValue(Exception):
    """A value does not convert; the message says what was expected and what came."""


def _show(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def _str_or_int(what: str) -> Callable[[Any], str]:
    def conv(v: Any) -> str:
        if type(v) is str:
            return v
        if type(v) is int:
            try:
                return str(v)
            except ValueError:  # more digits than int->str allows
                pass
        raise BadValue(f"expected a string or integer {what}, got {_show(v)}")

    return conv


to_key_part = _str_or_int("key")
to_id = _str_or_int("id")


def time_converter(unit: str) -> Callable[[Any], float]:
    """RFC 3339 strings (parsed like the view decoder does, by msgspec: a time without
    an offset is UTC) or numbers in ``unit`` -> float seconds since the epoch."""
    div = UNIT_DIVISOR[unit]
    to_datetime = msgspec.convert

    def conv(v: Any) -> float:
        t = type(v)
        if t is str:
            try:
                v = to_datetime(v, datetime)
            except msgspec.ValidationError:
                raise BadValue(f"expected an RFC 3339 time, got {_show(v)}") from None
            t = datetime
        if t is datetime:
            return (v if v.tzinfo is not None else v.replace(tzinfo=_UTC)).timestamp()
        if t is int or t is float:
            try:
                s = v / div
            except OverflowError:
                s = math.inf
            if math.isfinite(s):
                return s
            raise BadValue(f"expected a finite time in {unit}, got {_show(v)}")
        raise BadValue(f"expected an RFC 3339 string or a number in {unit}, got {_show(v)}")

    return conv


def parse_trace(v: Any) -> tuple[str | None, str | None]:
    """(trace id, span id) from a W3C trace id (32 hex digits) or a ``traceparent``
    (``00-<trace id>-<parent span id>-<flags>``, the CloudEvents tracing extension);
    anything else carries no trace (a bad trace id never makes a record unusable)."""
    if type(v) is not str:
        return None, None
    if len(v) == 32 and _HEX.issuperset(v) and v.strip("0"):
        return v.lower(), None
    if len(v) == 55 and v[2] == v[35] == v[52] == "-" and _HEX.issuperset(v.replace("-", "")):
        trace, span = v[3:35].lower(), v[36:52].lower()
        if trace.strip("0") and span.strip("0"):
            return trace, span
    return None, None


@dataclass(frozen=True, slots=True)
class Converter:
    """``fn`` converts; ``exact`` is the type that needs no conversion (a fast path
    skips the call when ``type(value) is exact``); ``name`` is for messages."""

    name: str
    fn: Callable[[Any], Any]
    exact: type | None


def arg_converter(annotation: Any) -> Converter:
    """The converter for a parameter annotation: int, float, str, bool, ``X | None``
    of those; anything else (or no annotation) takes the value as it is, hashable."""
    if annotation in _BASIC:
        return _BASIC[annotation]
    args = typing.get_args(annotation)
    if (typing.get_origin(annotation) in (typing.Union, types.UnionType)
            and len(args) == 2 and type(None) in args):
        (inner,) = [a for a in args if a is not type(None)]
        if inner in _BASIC:
            base = _BASIC[inner]
            fn = base.fn

            def optional(v: Any) -> Any:
                return None if v is None else fn(v)

            return Converter(f"{base.name} | None", optional, base.exact)
    return Converter("any", _to_any, None)


def _to_int(v: Any) -> int:
    t = type(v)
    if t is int:
        return v
    if t is float and v.is_integer():
        return int(v)
    if t is str:
        digits = v[1:] if v[:1] in ("-", "+") else v
        if digits.isascii() and digits.isdigit():
            try:
                return int(v)
            except ValueError:  # more digits than int() allows
                pass
    raise BadValue(f"expected int, got {_show(v)}")


def _to_float(v: Any) -> float:
    t = type(v)
    if t is float or t is int or t is str:
        try:
            f = float(v)
        except (ValueError, OverflowError):
            pass
        else:
            if math.isfinite(f):
                return f
    raise BadValue(f"expected a finite float, got {_show(v)}")


def _to_str(v: Any) -> str:
    t = type(v)
    if t is str:
        return v
    if t is int:
        try:
            return str(v)
        except ValueError:
            pass
    raise BadValue(f"expected str, got {_show(v)}")


def _to_bool(v: Any) -> bool:
    if type(v) is bool:
        return v
    if v == "true" or v == "false":
        return v == "true"
    raise BadValue(f"expected bool, got {_show(v)}")


def _to_any(v: Any) -> Any:
    try:
        return _to_hashable(v)
    except RecursionError:
        raise BadValue("expected a value, got lists nested too deeply") from None


def _to_hashable(v: Any) -> Any:
    t = type(v)
    if t is str or t is int or t is float or t is bool or v is None:
        return v
    if v is msgspec.UNSET:  # an absent field (the careful path reports it as missing)
        raise BadValue("expected a value, got none")
    if t is list or t is tuple:
        return tuple([_to_hashable(x) for x in v])
    if t is dict:
        raise BadValue(f"expected a scalar or a list, got an object {_show(v)} "
                       "(arguments become state, which must be hashable)")
    try:
        hash(v)
    except TypeError:
        raise BadValue(f"expected a hashable value, got {_show(v)}") from None
    return v


_BASIC: dict[Any, Converter] = {
    int: Converter("int", _to_int, int),
    float: Converter("float", _to_float, float),
    str: Converter("str", _to_str, str),
    bool: Converter("bool", _to_bool, bool),
}

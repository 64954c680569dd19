"""ITF, the Informal Trace Format of Apalache and Quint (Apalache ADR-015), in and out.

A trace is ``{"#meta": {...}, "vars": [names], "states": [{"#meta": {...}, name: value}]}``.
Values (what specmon writes -> what it reads back):

| Python             | ITF                                   | read back as      |
|--------------------|---------------------------------------|-------------------|
| ``bool``, ``str``  | JSON boolean, string                  | same              |
| ``int``            | ``{"#bigint": "123"}`` (always)       | ``int``           |
| ``tuple``          | ``{"#tup": [...]}``                   | ``tuple``         |
| ``list``           | JSON array                            | ``tuple``         |
| ``frozenset/set``  | ``{"#set": [...]}`` (sorted)          | ``frozenset``     |
| ``dict``, str keys | JSON object (a record)                | ``dict``          |
| ``dict``, others   | ``{"#map": [[k, v], ...]}``           | ``dict``          |
| ``None``           | ``{"tag": "None", "value": {"#tup": []}}`` (Quint's ``Option``) | ``None`` |
| ``float``          | ``{"#unserializable": "1.5"}``        | ``float``         |

Integers are always ``#bigint``, as Quint writes them: one form, no 2**53 cliff. Plain
JSON integers are read too. ``{"tag": "Some", "value": v}`` reads as ``v``: Quint's
``Option`` is specmon's ``X | None``.

Model-based testing (Quint's ``--mbt`` convention): every state also has the variables
``mbt::actionTaken`` (the action that led to it; ``"init"`` in state 0) and
``mbt::nondetPicks`` (a record: parameter -> ``{"tag": "Some", "value": v}``, or
``{"tag": "None", "value": {"#tup": []}}`` when the action did not pick it). specmon
adds ``time`` (event seconds) to a state's ``#meta`` when it knows it.

Pure: builds and reads JSON-shaped Python values; the caller reads and writes files.
Errors in a trace raise ``RecordError`` (cause ``malformed``) naming the JSON path.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from monitor.errors import RecordError

__all__ = ["ACTION_VAR", "FORMAT_DESCRIPTION", "PICKS_VAR", "ItfStep", "ItfTrace",
           "decode_value", "encode_value", "make_trace", "none_pick", "read_trace",
           "some_pick"]

ACTION_VAR = "mbt::actionTaken"
PICKS_VAR = "mbt::nondetPicks"
FORMAT_DESCRIPTION = "https://apalache-mc.org/docs/adr/015adr-trace.html"


def encode_value(v: Any) -> Any:
    """A Python value as an ITF expression (table in the module docstring)."""
    if v is None:
        return {"tag": "None", "value": {"#tup": []}}
    t = type(v)
    if t is bool or t is str:
        return v
    if isinstance(v, int):
        return {"#bigint": str(int(v))}
    if isinstance(v, float):
        return {"#unserializable": repr(v)}
    if isinstance(v, tuple):
        return {"#tup": [encode_value(x) for x in v]}
    if isinstance(v, list):
        return [encode_value(x) for x in v]
    if isinstance(v, (set, frozenset)):
        items = [encode_value(x) for x in v]
        items.sort(key=lambda x: json.dumps(x, sort_keys=True))  # a stable order
        return {"#set": items}
    if isinstance(v, dict):
        if all(type(k) is str and not k.startswith("#") for k in v):
            return {k: encode_value(x) for k, x in v.items()}
        return {"#map": [[encode_value(k), encode_value(x)] for k, x in v.items()]}
    raise TypeError(f"no ITF form for {type(v).__name__} value {v!r}")


def some_pick(v: Any) -> dict[str, Any]:
    return {"tag": "Some", "value": encode_value(v)}


def none_pick() -> dict[str, Any]:
    return {"tag": "None", "value": {"#tup": []}}


def decode_value(x: Any, where: str = "$") -> Any:
    """An ITF expression as a Python value; ``RecordError`` names ``where`` if malformed."""
    t = type(x)
    if t is bool or t is str or t is int:
        return x
    if t is float:
        return int(x) if x.is_integer() else x
    if t is list:
        return tuple(decode_value(v, f"{where}[{i}]") for i, v in enumerate(x))
    if t is not dict:
        raise RecordError("malformed", f"{where}: not an ITF value: {x!r}")
    if len(x) == 1:
        ((tag, body),) = x.items()
        if tag == "#bigint":
            if type(body) is not str or not body.lstrip("-").isdigit():
                raise RecordError("malformed", f"{where}.#bigint: expected a decimal string, "
                                  f"got {body!r}")
            return int(body)
        if tag in ("#tup", "#set", "#map") and type(body) is not list:
            raise RecordError("malformed", f"{where}.{tag}: expected an array, got {body!r}")
        if tag == "#tup":
            return tuple(decode_value(v, f"{where}.#tup[{i}]") for i, v in enumerate(body))
        if tag == "#set":
            return frozenset(_hashable(decode_value(v, f"{where}.#set[{i}]"), where)
                             for i, v in enumerate(body))
        if tag == "#map":
            out = {}
            for i, pair in enumerate(body):
                if type(pair) is not list or len(pair) != 2:
                    raise RecordError("malformed", f"{where}.#map[{i}]: expected [key, value]")
                k = _hashable(decode_value(pair[0], f"{where}.#map[{i}][0]"), where)
                out[k] = decode_value(pair[1], f"{where}.#map[{i}][1]")
            return out
        if tag == "#unserializable":
            try:
                return float(body)
            except (TypeError, ValueError):
                return body
    if set(x) == {"tag", "value"} and x["tag"] in ("Some", "None"):
        return None if x["tag"] == "None" else decode_value(x["value"], f"{where}.value")
    return {k: decode_value(v, f"{where}.{k}") for k, v in x.items() if k != "#meta"}


def _hashable(v: Any, where: str) -> Any:
    if isinstance(v, dict):  # a record or map inside a set or as a key: frozen as pairs
        return tuple(sorted(((k, _hashable(x, where)) for k, x in v.items()), key=repr))
    return v


def make_trace(fields: list[str] | tuple[str, ...], states: list[dict[str, Any]],
               actions: list[tuple[str, dict[str, Any]]], *, meta: dict[str, Any],
               state_meta: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An ITF trace with Quint's MBT variables. ``actions[i]`` is the (action, args)
    that led to ``states[i]`` (``("init", {})`` for the first); ``state_meta[i]`` is
    merged into state i's ``#meta`` (which always has ``index``)."""
    out_states = []
    for i, (state, (name, args)) in enumerate(zip(states, actions)):
        s: dict[str, Any] = {"#meta": {"index": i, **(state_meta[i] if state_meta else {})}}
        for f in fields:
            s[f] = encode_value(state[f])
        s[ACTION_VAR] = name
        s[PICKS_VAR] = {k: some_pick(v) for k, v in args.items()}
        out_states.append(s)
    return {
        "#meta": {"format": "ITF", "format-description": FORMAT_DESCRIPTION, **meta},
        "vars": [*fields, ACTION_VAR, PICKS_VAR],
        "states": out_states,
    }


@dataclass(frozen=True, slots=True)
class ItfStep:
    """One state of a trace that names the action leading to it."""

    index: int  # position in ``states``
    action: str
    args: dict[str, Any]  # picks that are ``Some``, decoded
    time: float | None  # ``#meta.time``, else a numeric ``time`` variable, else None
    state: dict[str, Any]  # the decoded variables, without the ``mbt::`` ones


@dataclass
class ItfTrace:
    meta: dict[str, Any]
    vars: list[str]
    states: list[dict[str, Any]]  # decoded variables per state (``mbt::`` ones removed)
    times: list[float | None] = field(default_factory=list)  # per state (see ItfStep.time)
    steps: list[ItfStep] = field(default_factory=list)  # states with an action but "init"
    has_actions: bool = False  # the trace carries ``mbt::actionTaken``


def read_trace(doc: Any) -> ItfTrace:
    """Decode an ITF document; every state after the first whose ``mbt::actionTaken``
    is set (and not empty) becomes an ``ItfStep``. State 0 is the initial state, whatever
    its init action is called (Quint: ``init``, or ``--init``'s name), except in a
    trace whose ``#meta.truncated`` is true (specmon's export of a report whose history
    was cut: there state 0 is the state after the oldest kept step). Raises
    ``RecordError`` naming the JSON path when the document is not ITF."""
    if type(doc) is not dict:
        raise RecordError("malformed", f"$: an ITF trace is a JSON object, got {_kind(doc)}")
    states = doc.get("states")
    if type(states) is not list:
        raise RecordError("malformed", "$.states: missing or not an array")
    names = doc.get("vars", [])
    if type(names) is not list or not all(type(n) is str for n in names):
        raise RecordError("malformed", "$.vars: expected an array of strings")
    meta = doc.get("#meta") or {}
    trace = ItfTrace(meta=meta if type(meta) is dict else {}, vars=list(names), states=[])
    for i, raw in enumerate(states):
        where = f"$.states[{i}]"
        if type(raw) is not dict:
            raise RecordError("malformed", f"{where}: expected an object, got {_kind(raw)}")
        values = {k: decode_value(v, f"{where}.{k}") for k, v in raw.items()
                  if k != "#meta" and not k.startswith("mbt::")}
        trace.states.append(values)
        smeta = raw.get("#meta") if type(raw.get("#meta")) is dict else {}
        trace.times.append(_time(smeta, values, where))
        action = raw.get(ACTION_VAR)
        if action is None:
            continue
        trace.has_actions = True
        if type(action) is not str:
            raise RecordError("malformed", f'{where}["{ACTION_VAR}"]: expected a string, '
                              f"got {action!r}")
        if action == "" or (i == 0 and not trace.meta.get("truncated")):
            continue  # state 0 is the initial state, whatever its init action is named
        trace.steps.append(ItfStep(i, action, _picks(raw.get(PICKS_VAR), where),
                                   trace.times[i], values))
    return trace


def _picks(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    here = f'{where}["{PICKS_VAR}"]'
    if type(raw) is not dict:
        raise RecordError("malformed", f"{here}: expected a record, got {raw!r}")
    out = {}
    for name, pick in raw.items():
        if type(pick) is dict and set(pick) == {"tag", "value"} and pick["tag"] in ("Some",
                                                                                  "None"):
            if pick["tag"] == "Some":
                out[name] = decode_value(pick["value"], f"{here}.{name}.value")
        else:  # a bare value: not Quint's form, but unambiguous
            out[name] = decode_value(pick, f"{here}.{name}")
    return out


def _time(smeta: dict[str, Any], values: dict[str, Any], where: str) -> float | None:
    t = smeta.get("time", values.get("time"))
    if t is None:
        return None
    if type(t) not in (int, float) or not math.isfinite(t):
        raise RecordError("malformed", f"{where}: time {t!r} is not a number of seconds")
    return float(t)


def _kind(v: Any) -> str:
    return "an array" if type(v) is list else type(v).__name__

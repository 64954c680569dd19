"""The ``events:`` section checked against the spec and compiled into plain records:
``Rule`` (conditions, action, argument sources, key/time/id) and the dispatch table.

Dispatch: the path that the most rules constrain (normally ``type``) is looked up once
per record in ``table`` (value -> candidate rules in file order, the dispatch condition
already removed); values not in the table get ``default``, the rules that do not
constrain that path. So matching never scans every rule.

Equality follows JSON, not Python: ``true`` is not ``1`` (values are normalized with
``norm``), ``1`` is ``1.0``, and an absent field equals nothing (not even ``null``).
Every check raises ``MappingError`` naming the file and the field path. Pure.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from msgspec import UNSET

from monitor.errors import MappingError
from monitor.mapping.convert import BadValue, Converter, arg_converter, to_key_part
from monitor.mapping.paths import Path, parse_path, show_path
from monitor.mapping.schema import (
    SCALAR_TYPES,
    Const,
    EventRule,
    EventsSection,
    KeySpec,
    PathSpec,
)
from monitor.spec.model import ActionInfo, SpecModel

__all__ = ["UNMAPPED", "Arg", "Cond", "Fail", "Rule", "Section", "Source", "check_action",
           "check_params", "compile_section", "convert_const", "index_by", "norm"]


class _JsonBool:
    """``true``/``false`` as dict keys that do not collide with ``1``/``0``."""

    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "true" if self.value else "false"


_TRUE, _FALSE = _JsonBool(True), _JsonBool(False)


def norm(v: Any) -> Any:
    """A JSON value as a dict key under JSON equality (booleans are not numbers)."""
    return _TRUE if v is True else _FALSE if v is False else v


@dataclass(frozen=True, slots=True)
class Source:
    """Where a value comes from: a path into the record, or a constant (``path`` None)."""

    path: Path | None
    const: Any = None

    def where(self) -> str:
        return show_path(self.path) if self.path is not None else f"{{const: {self.const!r}}}"


@dataclass(frozen=True, slots=True)
class Arg:
    name: str
    source: Source
    conv: Converter


@dataclass(frozen=True, slots=True)
class Cond:
    """The value at ``path``, normalized, is one of ``values``."""

    path: Path
    values: frozenset[Any]


@dataclass(frozen=True, slots=True)
class Rule:
    index: int
    action: str
    conds: tuple[Cond, ...]
    args: tuple[Arg, ...]  # every parameter, in signature order (defaults as constants)
    key: tuple[Source, ...]  # parts, joined with "/"
    time: Path
    id: Path | None
    own_key: bool  # overrides the section's key (routing then needs the whole rule)


@dataclass(frozen=True, slots=True)
class Section:
    rules: tuple[Rule, ...]
    key: tuple[Source, ...]
    time_unit: str
    trace: Path | None
    dispatch: Path | None  # None: no rule has a condition; every rule is in ``default``
    table: dict[Any, tuple[Rule, ...]]
    default: tuple[Rule, ...]

    def paths(self, *, times: bool = True) -> set[Path]:
        """Every path the section reads (without the event-time paths: ``times=False``,
        though a time path read in another role stays in)."""
        out = {s.path for s in self.key if s.path is not None}
        if self.trace is not None:
            out.add(self.trace)
        for r in self.rules:
            out.update(c.path for c in r.conds)
            out.update(a.source.path for a in r.args if a.source.path is not None)
            out.update(s.path for s in r.key if s.path is not None)
            if times:
                out.add(r.time)
            if r.id is not None:
                out.add(r.id)
        return out


class Fail(Protocol):
    """What the shared checks need: an error naming the file and the field path."""

    def fail(self, where: str, message: str) -> MappingError: ...


class _Checker:
    """Raises ``MappingError`` as ``{filename}: {json path}: {message}``."""

    def __init__(self, filename: str) -> None:
        self.filename = filename

    def fail(self, where: str, message: str) -> MappingError:
        return MappingError(f"{self.filename}: {where}: {message}")

    def path(self, value: PathSpec, where: str) -> Path:
        try:
            return parse_path(value)
        except ValueError as exc:
            raise self.fail(where, str(exc)) from None

    def key(self, value: KeySpec, where: str) -> tuple[Source, ...]:
        if isinstance(value, Const):
            return (self._key_const(value, where),)
        if isinstance(value, str):
            return (Source(self.path(value, where)),)
        if not value:
            raise self.fail(where, "an empty list; give a path, a list of paths, or {const: x}")
        return tuple(self._key_const(v, f"{where}[{i}]") if isinstance(v, Const)
                     else Source(self.path(v, f"{where}[{i}]")) for i, v in enumerate(value))

    def _key_const(self, c: Const, where: str) -> Source:
        try:
            return Source(None, to_key_part(c.const))
        except BadValue as exc:
            raise self.fail(where, f"{exc} in {{const: ...}}") from None


def compile_section(section: EventsSection, model: SpecModel, filename: str) -> Section:
    check = _Checker(filename)
    if not section.rules:
        raise check.fail("$.events.rules", "no rules; map at least one action, e.g. "
                         "`- {when: {type: ...}, action: ..., args: {...}}`")
    key = check.key(section.key, "$.events.key")
    time = check.path(section.time, "$.events.time")
    ident = check.path(section.id, "$.events.id") if section.id is not None else None
    trace = (check.path(section.trace_id, "$.events.trace_id")
             if section.trace_id is not None else None)
    rules = tuple(_rule(r, i, model, check, key, time, ident)
                  for i, r in enumerate(section.rules))
    _check_reachable(rules, check)
    dispatch, table, default = _dispatch(rules)
    return Section(rules, key, section.time_unit, trace, dispatch, table, default)


def _rule(r: EventRule, i: int, model: SpecModel, check: _Checker, key: tuple[Source, ...],
          time: Path, ident: Path | None) -> Rule:
    where = f"$.events.rules[{i}]"
    act = check_action(r.action, model, check, f"{where}.action")
    conds = []
    for path, value in r.when.items():
        values = value if isinstance(value, list) else [value]
        bad = [v for v in values if not isinstance(v, SCALAR_TYPES)]
        if bad:
            raise check.fail(f"{where}.when.{path}", f"expected a JSON scalar (string, number, "
                             f"true/false, null) or a list of them, got {bad[0]!r}")
        if not values:
            raise check.fail(f"{where}.when.{path}", "an empty list matches nothing; "
                             "list the values to match, or remove the condition")
        conds.append(Cond(check.path(path, f"{where}.when"), frozenset(map(norm, values))))
    return Rule(
        index=i,
        action=act.name,
        conds=tuple(conds),
        args=_args(r, act, check, where),
        key=key if r.key is UNSET else check.key(r.key, f"{where}.key"),
        time=time if r.time is UNSET else check.path(r.time, f"{where}.time"),
        id=(ident if r.id is UNSET else
            None if r.id is None else check.path(r.id, f"{where}.id")),
        own_key=r.key is not UNSET,
    )


def check_action(name: str, model: SpecModel, check: Fail, where: str) -> ActionInfo:
    """The observable action ``name`` of ``model`` (``MappingError`` otherwise); shared
    by every section."""
    act = model.actions.get(name)
    observable = ", ".join(a.name for a in model.observed)
    if act is None:
        raise check.fail(where, f"unknown action {name!r}; {model.name} has: {observable}")
    if act.hidden:
        raise check.fail(where, f"{name!r} is a hidden action, which the monitor never "
                         f"observes (it infers it); map one of: {observable}")
    return act


#: a parameter the mapping leaves to its Python default
UNMAPPED = object()


def check_params(given: dict[str, Any], act: ActionInfo, check: Fail, where: str,
                 hint: str) -> list[tuple[str, Converter, Any, Any]]:
    """(name, converter, mapped value or ``UNMAPPED``, Python default) per parameter of
    ``act`` in signature order; a mapped name that is no parameter, or an unmapped
    parameter without a default, is a ``MappingError`` (``hint``: how to map one)."""
    for name in given:
        if name not in act.params:
            raise check.fail(f"{where}.args.{name}", f"{act.qualname} has no parameter "
                             f"{name!r}; its parameters are ({', '.join(act.params)})")
    signature = inspect.signature(act.fn).parameters
    out = []
    for name, annotation in zip(act.params, act.types):
        value = given.get(name, UNMAPPED)
        default = signature[name].default
        if value is UNMAPPED and default is inspect.Parameter.empty:
            raise check.fail(f"{where}.args", f"parameter {name!r} of {act.qualname} is not "
                             f"mapped; add `{name}: <{hint}>` or `{name}: {{const: ...}}`")
        out.append((name, arg_converter(annotation), value, default))
    return out


def convert_const(value: Any, conv: Converter, act: ActionInfo, name: str, check: Fail,
                  where: str) -> Any:
    """A constant argument converted once, when the mapping loads."""
    try:
        return conv.fn(value)
    except BadValue as exc:
        raise check.fail(f"{where}.args.{name}", f"{exc} ({act.qualname}.{name})") from None


def _args(r: EventRule, act: ActionInfo, check: _Checker, where: str) -> tuple[Arg, ...]:
    out = []
    for name, conv, value, default in check_params(r.args, act, check, where, "path"):
        if value is UNMAPPED:
            out.append(Arg(name, Source(None, default), conv))
        elif isinstance(value, Const):
            const = convert_const(value.const, conv, act, name, check, where)
            out.append(Arg(name, Source(None, const), conv))
        else:
            out.append(Arg(name, Source(check.path(value, f"{where}.args.{name}")), conv))
    return tuple(out)


def _implies(later: Rule, earlier: Rule) -> bool:
    """Does every record ``later`` matches also match ``earlier``?"""
    mine = {c.path: c.values for c in later.conds}
    return all(c.path in mine and mine[c.path] <= c.values for c in earlier.conds)


def _check_reachable(rules: tuple[Rule, ...], check: _Checker) -> None:
    for j, later in enumerate(rules):
        for earlier in rules[:j]:
            if _implies(later, earlier):
                raise check.fail(f"$.events.rules[{j}]", f"unreachable: rules[{earlier.index}] "
                                 "comes first and matches every record this rule matches "
                                 "(first match wins); move this rule up or narrow its `when`")


def _dispatch(rules: tuple[Rule, ...]) -> tuple[Path | None, dict[Any, tuple[Rule, ...]],
                                                 tuple[Rule, ...]]:
    """Pick the path most rules constrain (the first such path on a tie) and index the
    rules by its values, keeping file order within every entry."""
    counts: dict[Path, int] = {}
    for r in rules:
        for c in r.conds:
            counts[c.path] = counts.get(c.path, 0) + 1
    if not counts:
        return None, {}, rules
    best = max(counts, key=counts.__getitem__)  # max keeps the first of equal counts
    table, default = index_by(
        rules, lambda r: next(((c, c.values) for c in r.conds if c.path == best), None))
    return best, table, default


def index_by(rules: Any, pick: Callable[[Any], tuple[Any, Any] | None]) -> tuple[
        dict[Any, tuple[Any, ...]], tuple[Any, ...]]:
    """Index rules by the values of the condition ``pick(rule)`` returns (``(condition,
    values)``, or None when the rule has none), keeping file order; the condition is
    removed from the indexed copies. Rules without one are candidates for every value,
    and the default for values not in the table."""
    table: dict[Any, list[Any]] = {}
    default: list[Any] = []
    for r in rules:
        found = pick(r)
        if found is None:
            default.append(r)
            for entry in table.values():
                entry.append(r)
            continue
        cond, values = found
        rest = dataclasses.replace(r, conds=tuple(c for c in r.conds if c is not cond))
        for v in values:
            table.setdefault(v, list(default)).append(rest)
    return {v: tuple(rs) for v, rs in table.items()}, tuple(default)

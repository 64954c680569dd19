"""``SpecModel``: one spec class compiled into plain data and fast callables.

A state is a tuple of field values in declaration order (immutable, hashable). An
action runs on a scratch instance whose ``__dict__`` holds the fields; the result is
frozen back into a tuple. ``choose`` forks are enumerated by re-running the body over
the choice tree, so an action yields a *set* of successors.

All load-time checks live here: a malformed spec raises ``SpecDefinitionError`` naming
``Class.member`` and the fix. Pure: no I/O, no clock.
"""

from __future__ import annotations

import inspect
import itertools
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from monitor.errors import SpecDefinitionError
from monitor.spec.duration import parse_duration
from monitor.spec.language import (
    _ACTION_ATTR,
    _INVARIANT_ATTR,
    MISSED,
    ActionDef,
    NoOptions,
    Rejected,
    Within,
    _Chooser,
    set_chooser,
)

__all__ = ["ActionInfo", "SpecBug", "SpecModel", "Step", "WithinInfo", "model_of"]

State = tuple[Any, ...]


class SpecBug(Exception):
    """A spec's own code raised (not a guard): reported as ``spec_error``, never as a
    violation. ``where`` is ``Class.member``."""

    def __init__(self, where: str, exc: BaseException, message: str | None = None) -> None:
        super().__init__(message or f"{where} raised {type(exc).__name__}: {exc}")
        self.where = where
        self.exc = exc


@dataclass(frozen=True, slots=True)
class ActionInfo:
    name: str
    qualname: str
    params: tuple[str, ...]
    types: tuple[Any, ...]  # annotation per parameter, or None
    domains: tuple[tuple[Any, ...], ...] | None  # None when some parameter has no domain
    hidden: bool
    fn: Callable[..., Any]

    def arg_tuples(self) -> Iterator[tuple[Any, ...]]:
        """Every argument tuple in the declared finite domains."""
        if self.domains is None:
            missing = self.params  # the caller reports which action; params help the fix
            raise SpecDefinitionError(
                f"{self.qualname} has no finite domain for {missing}: declare one, "
                f"e.g. @action({missing[0]}=[...])"
            )
        return itertools.product(*self.domains)


@dataclass(frozen=True, slots=True)
class WithinInfo:
    name: str
    seconds: float
    start: Callable[[Any], bool]
    end: Callable[[Any], bool]


@dataclass(frozen=True, slots=True)
class Step:
    """Outcome of one action from one state: successors in a stable order (choose
    forks), the failed ``require`` messages, and spec bugs."""

    successors: tuple[State, ...]
    rejects: tuple[str, ...]
    errors: tuple[str, ...]


def model_of(spec: type) -> SpecModel:
    model = getattr(spec, "__specmon_model__", None)
    if not isinstance(model, SpecModel) or model.cls is not spec:
        raise SpecDefinitionError(f"{spec!r} is not a subclass of monitor.Spec")
    return model


class SpecModel:
    """Fields, actions, invariants and deadlines of one spec class."""

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.name = cls.__name__
        self.fields, self.initial = _collect_fields(cls)
        self.field_types = _field_types(cls, self.fields)
        self.actions: dict[str, ActionInfo] = _collect_actions(cls, self.fields)
        self.hidden = tuple(a for a in self.actions.values() if a.hidden)
        self.observed = tuple(a for a in self.actions.values() if not a.hidden)
        self.invariants: tuple[tuple[str, Callable[[Any], Any]], ...] = _collect_invariants(cls)
        self.withins: tuple[WithinInfo, ...] = _collect_withins(cls)
        self._n = len(self.fields)
        getter = itemgetter(*self.fields)
        self._freeze: Callable[[dict[str, Any]], State] = (
            getter if self._n > 1 else (lambda d: (getter(d),))
        )
        self._terminal = cls.terminal  # type: ignore[attr-defined]
        self.has_terminal = cls.terminal is not _base_terminal()  # type: ignore[attr-defined]

    # -- running code of the spec -------------------------------------------------

    def view(self, state: State) -> Any:
        """A scratch instance holding ``state``; mutations do not affect ``state``."""
        obj = object.__new__(self.cls)
        obj.__dict__.update(zip(self.fields, state))
        return obj

    def step(self, state: State, act: ActionInfo, args: tuple[Any, ...]) -> Step:
        # Fast path: run once without a chooser (no thread-local writes, no choice
        # bookkeeping). An action that does call choose() raises NoChooser here and
        # takes the enumerating path below.
        obj = object.__new__(self.cls)
        d = obj.__dict__
        d.update(zip(self.fields, state))
        missed = MISSED[0]
        try:
            act.fn(obj, *args)
        except Exception as exc:
            if MISSED[0] != missed:
                return self._enumerate(state, act, args)
            if type(exc) is Rejected:
                return Step((), (exc.reason,), ())
            # a bug in the spec: reported apart from violations
            return Step((), (), (f"{act.qualname}{args!r} raised {type(exc).__name__}: {exc}",))
        if MISSED[0] != missed:  # choose() was called and its error swallowed by the spec
            return self._enumerate(state, act, args)
        try:
            return Step((self._freeze_checked(d, act),), (), ())
        except SpecBug as bug:
            return Step((), (), (str(bug),))

    def successor(self, state: State, act: ActionInfo,
                  args: tuple[Any, ...]) -> tuple[State, Any] | None:
        """The common case of ``step`` without its bookkeeping: a step that runs through
        without ``choose`` and leaves a valid state gives (that state, the scratch
        instance holding it, which serves as the view for ``facts_in``). Anything else
        (rejected, ``choose``, a spec error) gives None: ask ``step`` for the details."""
        obj = object.__new__(self.cls)
        d = obj.__dict__
        d.update(zip(self.fields, state))
        missed = MISSED[0]
        try:
            act.fn(obj, *args)
        except Exception:
            return None
        if MISSED[0] != missed or len(d) != self._n:
            return None
        new = self._freeze(d)
        try:
            hash(new)
        except TypeError:
            return None
        return new, obj

    def _enumerate(self, state: State, act: ActionInfo, args: tuple[Any, ...]) -> Step:
        """Run the action once per path through its ``choose`` calls."""
        successors: dict[State, None] = {}
        rejects: list[str] = []
        errors: list[str] = []
        pending: list[tuple[int, ...]] = [()]
        fn = act.fn
        while pending:
            prefix = pending.pop()
            chooser = _Chooser(prefix)
            obj = object.__new__(self.cls)
            d = obj.__dict__
            d.update(zip(self.fields, state))
            set_chooser(chooser)
            try:
                fn(obj, *args)
            except Rejected as r:
                rejects.append(r.reason)
            except NoOptions:
                pass
            except Exception as exc:  # a bug in the spec: reported apart from violations
                errors.append(f"{act.qualname}{args!r} raised {type(exc).__name__}: {exc}")
            else:
                try:
                    new = self._freeze_checked(d, act)
                except SpecBug as bug:
                    errors.append(str(bug))
                else:
                    successors[new] = None
            finally:
                set_chooser(None)
            made = chooser.made
            for depth in range(len(prefix), len(made)):
                base = tuple(prefix) + tuple(0 for _ in range(depth - len(prefix)))
                for option in range(made[depth] - 1, 0, -1):
                    pending.append(base + (option,))
        return Step(tuple(successors), tuple(rejects), tuple(errors))

    def _freeze_checked(self, d: dict[str, Any], act: ActionInfo) -> State:
        if len(d) != self._n:
            extra = sorted(set(d) - set(self.fields))
            raise SpecBug(
                act.qualname,
                AttributeError(
                    f"set {extra} which are not state fields; declare them as annotated "
                    f"fields with defaults on {self.name}"
                ),
            )
        new = self._freeze(d)
        try:
            hash(new)
        except TypeError:
            bad = [f for f, v in zip(self.fields, new) if not _hashable(v)]
            raise SpecBug(
                act.qualname,
                TypeError(f"left unhashable values in {bad}; use tuple or frozenset, not list/set/dict"),
            ) from None
        return new

    def violated_invariants(self, state: State) -> tuple[str, ...]:
        """Names of the invariants ``state`` breaks; raises ``SpecBug`` if one raises."""
        return self._broken_in(self.view(state)) if self.invariants else ()

    def is_terminal(self, state: State) -> bool:
        return self._terminal_in(self.view(state)) if self.has_terminal else False

    def window_flags(self, state: State) -> tuple[bool, ...]:
        """Per ``within``: is the window open in this state (start holds, end does not)?"""
        return self._flags_in(self.view(state)) if self.withins else ()

    def facts(self, state: State) -> tuple[tuple[str, ...], tuple[bool, ...], bool]:
        """(violated invariants, window flags, terminal) from one scratch view: what the
        monitor asks of every new state, at a third of the cost of asking separately."""
        return self.facts_in(self.view(state))

    def facts_in(self, view: Any) -> tuple[tuple[str, ...], tuple[bool, ...], bool]:
        """``facts`` of the state a scratch instance holds."""
        return self._broken_in(view), self._flags_in(view), self._terminal_in(view)

    def _broken_in(self, view: Any) -> tuple[str, ...]:
        bad = []
        for name, fn in self.invariants:
            try:
                ok = fn(view)
            except Exception as exc:
                raise SpecBug(f"{self.name}.{name}", exc) from exc
            if not ok:
                bad.append(name)
        return tuple(bad)

    def _flags_in(self, view: Any) -> tuple[bool, ...]:
        flags = []
        for w in self.withins:
            try:
                flags.append(bool(w.start(view)) and not bool(w.end(view)))
            except Exception as exc:
                raise SpecBug(f"{self.name}.{w.name}", exc) from exc
        return tuple(flags)

    def _terminal_in(self, view: Any) -> bool:
        if not self.has_terminal:
            return False
        try:
            return bool(self._terminal(view))
        except Exception as exc:
            raise SpecBug(f"{self.name}.terminal", exc) from exc

    def as_dict(self, state: State) -> dict[str, Any]:
        return dict(zip(self.fields, state))

    def hidden_moves(self, state: State) -> Iterator[tuple[ActionInfo, tuple[Any, ...], State]]:
        """Every hidden step from ``state``: (action, args, successor). Raises ``SpecBug``
        if a hidden action's code raised (dropping that branch would turn a bug in the
        spec into a false ``unexpected`` alarm)."""
        for act in self.hidden:
            for args in act.arg_tuples():
                step = self.step(state, act, args)
                if step.errors:
                    raise SpecBug(act.qualname, RuntimeError(step.errors[0]),
                                  "; ".join(step.errors))
                for nxt in step.successors:
                    yield act, args, nxt


def _base_terminal() -> Any:
    from monitor.spec.language import Spec

    return Spec.terminal


def _hashable(v: Any) -> bool:
    try:
        hash(v)
    except TypeError:
        return False
    return True


def _collect_fields(cls: type) -> tuple[tuple[str, ...], State]:
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        for name, ann in vars(klass).get("__annotations__", {}).items():
            if name.startswith("_") or "ClassVar" in str(ann) or name in names:
                continue
            names.append(name)
    values = []
    for name in names:
        if not hasattr(cls, name):
            raise SpecDefinitionError(
                f"{cls.__name__}.{name} has no default: every state field needs an "
                f"initial value, e.g. `{name}: int = 0`"
            )
        value = getattr(cls, name)
        if not _hashable(value):
            raise SpecDefinitionError(
                f"{cls.__name__}.{name} defaults to an unhashable {type(value).__name__}; "
                "states must be hashable: use a tuple or frozenset"
            )
        values.append(value)
    return tuple(names), tuple(values)


def _field_types(cls: type, fields: tuple[str, ...]) -> tuple[Any, ...]:
    try:
        hints = typing.get_type_hints(cls)
    except Exception:
        hints = {}
    return tuple(hints.get(f, Any) for f in fields)


def _collect_actions(cls: type, fields: tuple[str, ...]) -> dict[str, ActionInfo]:
    actions: dict[str, ActionInfo] = {}
    for name in dir(cls):
        fn = inspect.getattr_static(cls, name, None)
        spec: ActionDef | None = getattr(fn, _ACTION_ATTR, None)
        if spec is None:
            continue
        qual = f"{cls.__name__}.{name}"
        if name in fields:
            raise SpecDefinitionError(f"{qual} is both a state field and an @action: rename one")
        if name == "terminal":
            raise SpecDefinitionError(f"{qual}: terminal() is not an action; remove @action")
        if getattr(fn, _INVARIANT_ATTR, None) is not None:
            raise SpecDefinitionError(f"{qual} is marked both @action and @invariant: pick one")
        sig = inspect.signature(fn)
        params = list(sig.parameters.values())[1:]
        for p in params:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                star = "*" if p.kind == p.VAR_POSITIONAL else "**"
                raise SpecDefinitionError(
                    f"{qual} takes {star}{p.name}: actions need named parameters with finite "
                    "domains"
                )
        pnames = tuple(p.name for p in params)
        doms = dict(spec.domains)
        unknown = [k for k in doms if k not in pnames]
        if unknown:
            raise SpecDefinitionError(
                f"{qual} has a domain for {unknown[0]!r}, but its parameters are "
                f"({', '.join(pnames)}): fix the keyword in @action(...)"
            )
        missing = [p for p in pnames if p not in doms]
        if spec.hidden and missing:
            raise SpecDefinitionError(
                f"{qual} is hidden, so the monitor must enumerate its arguments: "
                f"give a finite domain for {missing[0]!r}, e.g. @action(hidden=True, {missing[0]}=[...])"
            )
        try:
            hints = typing.get_type_hints(fn)
        except Exception:
            hints = {}
        actions[name] = ActionInfo(
            name=name,
            qualname=qual,
            params=pnames,
            types=tuple(hints.get(p) for p in pnames),
            domains=None if missing else tuple(doms[p] for p in pnames),
            hidden=spec.hidden,
            fn=fn,
        )
    if not actions:
        raise SpecDefinitionError(
            f"{cls.__name__} has no @action methods: a spec needs at least one step"
        )
    # declaration order, not dir() order: reports and exploration follow the source
    order = {n: i for i, n in enumerate(_definition_order(cls))}
    return dict(sorted(actions.items(), key=lambda kv: order.get(kv[0], len(order))))


def _definition_order(cls: type) -> list[str]:
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        for n in vars(klass):
            if n not in names:
                names.append(n)
    return names


def _collect_invariants(cls: type) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    found = []
    for name in _definition_order(cls):
        fn = inspect.getattr_static(cls, name, None)
        if getattr(fn, _INVARIANT_ATTR, None) is None:
            continue
        params = list(inspect.signature(fn).parameters)
        if len(params) != 1:
            raise SpecDefinitionError(
                f"{cls.__name__}.{name} is an @invariant, so it takes only self; "
                f"it takes ({', '.join(params)})"
            )
        found.append((name, fn))
    return tuple(found)


def _collect_withins(cls: type) -> tuple[WithinInfo, ...]:
    found = []
    for name in _definition_order(cls):
        w = inspect.getattr_static(cls, name, None)
        if not isinstance(w, Within):
            continue
        qual = f"{cls.__name__}.{name}"
        try:
            seconds = parse_duration(w.duration)
        except ValueError as exc:
            raise SpecDefinitionError(f"{qual}: {exc}") from None
        if not callable(w.start) or not callable(w.end):
            raise SpecDefinitionError(
                f"{qual}: within() needs callables, e.g. start=lambda s: s.status == 'open'"
            )
        found.append(WithinInfo(name=name, seconds=seconds, start=w.start, end=w.end))
    return tuple(found)

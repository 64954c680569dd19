"""The spec language: ``Spec``, ``@action``, ``@invariant``, ``require``, ``choose``,
``within``.

Decorators only attach a small frozen record to the function (the habit of
hypothesis' ``@rule``); ``Spec.__init_subclass__`` collects them once into a
``SpecModel`` (see ``model.py``) so that a malformed spec fails when its class is
defined, naming ``Class.method`` and the fix.

Pure: no I/O, no clock, no logging.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from monitor.errors import SpecDefinitionError

__all__ = [
    "ActionDef",
    "Rejected",
    "Spec",
    "Within",
    "action",
    "choose",
    "invariant",
    "require",
    "within",
]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class ActionDef:
    """What ``@action`` attached: finite argument domains and visibility."""

    domains: tuple[tuple[str, tuple[Any, ...]], ...]
    hidden: bool


@dataclass(frozen=True, slots=True)
class InvariantDef:
    """Marker attached by ``@invariant``."""


@dataclass(frozen=True, slots=True)
class Within:
    """Bounded liveness: once ``start(state)`` holds, ``end(state)`` must hold within
    ``duration`` of event time. Created by ``within()``; its class attribute name is
    the property name in reports."""

    duration: object
    start: Callable[[Any], bool]
    end: Callable[[Any], bool]


class Rejected(Exception):
    """Raised by ``require`` when a guard fails; caught by the engine, never by users.

    No ``__init__`` of its own: the reason lives in ``args`` (set in C), which makes a
    failed guard ~25% cheaper to raise. Exploring a spec raises one per disabled
    (state, action) pair, so this is on the hot path."""

    __slots__ = ()

    @property
    def reason(self) -> str:
        return self.args[0]  # type: ignore[no-any-return]


_ACTION_ATTR = "__specmon_action__"
_INVARIANT_ATTR = "__specmon_invariant__"


@overload
def action(fn: F, /) -> F: ...
@overload
def action(*, hidden: bool = False, **domains: Iterable[Any]) -> Callable[[F], F]: ...
def action(fn: Any = None, /, *, hidden: bool = False, **domains: Iterable[Any]) -> Any:
    """Mark a method as a step of the spec.

    ``@action`` or ``@action(amount=[100, 250], hidden=False)``: keyword arguments are the
    finite domains of the parameters, used when exploring the spec (and, for hidden
    actions, when the monitor inserts unobserved steps).
    """

    def mark(f: F) -> F:
        if not callable(f) or not hasattr(f, "__code__"):
            raise SpecDefinitionError(f"@action must decorate a plain method, got {f!r}")
        frozen = tuple((name, _freeze_domain(f, name, values)) for name, values in domains.items())
        setattr(f, _ACTION_ATTR, ActionDef(domains=frozen, hidden=bool(hidden)))
        return f

    if fn is not None:
        return mark(fn)
    return mark


def _freeze_domain(f: Callable[..., Any], name: str, values: Iterable[Any]) -> tuple[Any, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise SpecDefinitionError(
            f"{f.__qualname__}: domain for {name!r} must be a list of values "
            f"like {name}=[1, 2], got {values!r}"
        )
    return tuple(values)


def invariant(fn: F) -> F:
    """Mark a method ``(self) -> bool`` that must hold in every state."""
    setattr(fn, _INVARIANT_ATTR, InvariantDef())
    return fn


def require(cond: object, why: str = "requirement failed") -> None:
    """Guard: if ``cond`` is false the action is not enabled in this state; ``why`` is
    reported when no candidate state allows the observed step."""
    if not cond:
        raise Rejected(why)


def within(
    duration: object, *, start: Callable[[Any], bool], end: Callable[[Any], bool]
) -> Within:
    """Once ``start(state)`` holds, ``end(state)`` must hold within ``duration``."""
    return Within(duration=duration, start=start, end=end)


class _Chooser:
    """Replays a fixed prefix of choices, then takes option 0 and records the fan-out."""

    __slots__ = ("prefix", "made")

    def __init__(self, prefix: tuple[int, ...]) -> None:
        self.prefix = prefix
        self.made: list[int] = []  # number of options at each choice point past the prefix

    def pick(self, options: tuple[Any, ...]) -> Any:
        depth = len(self.made)
        if depth < len(self.prefix):
            index = self.prefix[depth]
        else:
            index = 0
        self.made.append(len(options))
        return options[index]


class NoChooser(RuntimeError):
    """``choose`` ran with no chooser set: outside an action, or inside one that the
    engine ran on its fast path (it then re-runs the action with a chooser)."""


class NoOptions(Exception):
    """``choose([])``: this branch has no successor."""


_local = threading.local()

#: choose() calls made with no chooser set. The engine's fast path runs an action
#: without a chooser and compares this before and after: a change means the action
#: uses choose() and must be enumerated. A module global, not thread-local, because
#: reading it is on the hot path; a spurious change from another thread only costs an
#: unneeded (and still correct) enumeration.
MISSED = [0]


def choose(options: Iterable[Any]) -> Any:
    """Nondeterminism: the engine runs the action once per option (a successor set,
    not a random pick). Only valid inside an action."""
    chooser: _Chooser | None = getattr(_local, "chooser", None)
    if chooser is None:
        MISSED[0] += 1  # seen by the fast path even if the spec swallows the error
        raise NoChooser("choose() may only be called inside an @action")
    opts = tuple(options)
    if not opts:
        raise NoOptions()
    return chooser.pick(opts)


def set_chooser(chooser: _Chooser | None) -> None:
    _local.chooser = chooser


class Spec:
    """Base class of every spec. Annotated fields with defaults are the state of one
    instance; ``@action`` methods are its steps. Override ``terminal()`` to let the
    monitor drop finished instances."""

    def terminal(self) -> bool:
        return False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        from monitor.spec.model import SpecModel  # model imports this module

        cls.__specmon_model__ = SpecModel(cls)  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        fields = type(self).__specmon_model__.fields
        inner = ", ".join(f"{n}={self.__dict__.get(n)!r}" for n in fields)
        return f"{type(self).__name__}({inner})"

"""Paths into JSON records, and the *view* Struct that decodes only what a mapping reads.

A path is a tuple of object keys. Reading one gives the value, ``MISSING`` when a key
is absent or an object on the way is ``null``, or raises ``ShapeError`` when a value on
the way is not an object (``data`` is a string): the record has the wrong shape.

``ViewTree`` collects the paths a mapping reads and builds nested
``msgspec.defstruct`` types for them: leaves are ``Any`` (or a narrower type all uses
agree on, e.g. event times as ``datetime``), objects on the way are nested Structs, and
every absent field defaults to ``MISSING`` (``msgspec.UNSET``), which is distinct from
``null``. msgspec skips every other field in C, which is several times faster than
decoding whole objects into dicts. A record the view cannot hold (a wrong shape) fails
to decode; the caller then maps it the slow way, through dicts. Pure.
"""

from __future__ import annotations

import itertools
import keyword
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import msgspec

__all__ = ["MISSING", "Path", "ShapeError", "ViewTree", "dict_getter", "parse_path",
           "show_path"]

Path = tuple[str, ...]
Getter = Callable[[Any], Any]
MISSING: Any = msgspec.UNSET


class ShapeError(Exception):
    """A value on a path is not an object; ``where`` is that value's path."""

    def __init__(self, where: Path, value: Any) -> None:
        super().__init__(f"{show_path(where)}: expected an object, got {value!r}")
        self.where = where


def parse_path(value: str | list[str]) -> Path:
    """``"data.amount"`` -> ("data", "amount"); a list is taken segment by segment, so
    ``["attributes", "payment.id"]`` reads a key that contains a dot."""
    parts = tuple(value.split(".")) if isinstance(value, str) else tuple(value)
    if not parts or parts == ("",):
        raise ValueError(f"empty path {value!r}; write a path, e.g. data.amount")
    if "" in parts:
        raise ValueError(f"empty path segment in {value!r}; write e.g. data.amount")
    return parts


def show_path(path: Path) -> str:
    """The JSON path for messages: ``$.data.amount``; ``$["a.b"]`` for dotted keys."""
    return "$" + "".join(f"[{seg!r}]" if "." in seg or not seg else f".{seg}" for seg in path)


def dict_getter(path: Path, base: Path = ()) -> Getter:
    """Reads ``path`` from decoded JSON (dicts); ``base`` only prefixes error paths."""
    if len(path) == 1:
        (k,) = path

        def get1(obj: Any) -> Any:
            if type(obj) is dict:
                return obj.get(k, MISSING)
            if obj is None or obj is MISSING:
                return MISSING
            raise ShapeError(base, obj)

        return get1

    def get(obj: Any) -> Any:
        for i, seg in enumerate(path):
            if type(obj) is not dict:
                if obj is None or obj is MISSING:
                    return MISSING
                raise ShapeError(base + path[:i], obj)
            obj = obj.get(seg, MISSING)
        return obj

    return get


class ViewTree:
    """Collects the paths a mapping reads, then builds one view Struct type for them."""

    def __init__(self) -> None:
        self._want: dict[Path, Any] = {}
        self._attrs: dict[Path, tuple[str, ...]] = {}  # field path -> attribute chain

    def add(self, path: Path, typ: Any = Any) -> None:
        """Declare a path read with decode type ``typ``; a path declared with two
        different types is decoded as ``Any``."""
        old = self._want.get(path, typ)
        self._want[path] = typ if old == typ else Any

    def add_all(self, paths: Iterable[Path]) -> None:
        for p in paths:
            self.add(p)

    def build(self) -> Any:
        """The view Struct type. A path that is also the prefix of another path becomes
        one ``Any`` leaf; the longer paths then read into its decoded value."""
        want = self._want
        leaves = {p: t for p, t in want.items()
                  if not any(p[:i] in want for i in range(1, len(p)))}
        tree: dict[str, Any] = {}
        for p, t in leaves.items():
            node = tree
            for seg in p[:-1]:
                node = node.setdefault(seg, {})
            longer = any(q[: len(p)] == p and q != p for q in want)
            node[p[-1]] = Any if longer else t
        return self._make(tree, (), (), itertools.count())

    def _make(self, tree: dict[str, Any], prefix: Path, attrs: tuple[str, ...],
              counter: Iterator[int]) -> Any:
        fields = []
        rename = {}
        taken = {seg for seg in tree if _plain(seg)}
        for i, (seg, sub) in enumerate(tree.items()):
            attr = seg if _plain(seg) else _fresh(i, taken)
            if attr != seg:
                rename[attr] = seg
            path = prefix + (seg,)
            self._attrs[path] = attrs + (attr,)
            if isinstance(sub, dict):  # an object on the way: a nested view, or null
                sub = self._make(sub, path, attrs + (attr,), counter) | None
            fields.append((attr, sub, MISSING))
        name = "View" + "".join(s.title() for s in prefix if s.isidentifier())
        return msgspec.defstruct(f"{name}{next(counter)}", fields, rename=rename or None,
                                 gc=False)

    def attr_path(self, path: Path) -> str | None:
        """Dotted attribute chain for ``operator.attrgetter`` when ``path`` is a field
        of the view (not read through a leaf), else None. The attrgetter raises
        ``AttributeError`` when an object on the way is absent or null."""
        attrs = self._attrs.get(path)
        return ".".join(attrs) if attrs else None

    def getter(self, path: Path) -> Getter:
        """Reads ``path`` from a decoded view: ``MISSING`` when absent or under
        ``null``; below a leaf it reads into the leaf's value like ``dict_getter``."""
        for cut in range(len(path), 0, -1):
            attrs = self._attrs.get(path[:cut])
            if attrs is not None:
                break
        else:
            raise KeyError(path)
        rest = dict_getter(path[cut:], path[:cut]) if cut < len(path) else None
        if rest is None and len(attrs) == 1:
            (a,) = attrs
            return lambda view: getattr(view, a)

        def get(view: Any) -> Any:
            for a in attrs:
                if view is None or view is MISSING:
                    return MISSING
                view = getattr(view, a)
            return rest(view) if rest is not None else view

        return get


def _plain(seg: str) -> bool:
    """Can the JSON key be the Struct attribute itself?"""
    return seg.isidentifier() and not keyword.iskeyword(seg) and not seg.startswith("_")


def _fresh(i: int, taken: set[str]) -> str:
    attr = f"f{i}"
    while attr in taken:
        attr += "_"
    taken.add(attr)
    return attr

"""Paths into JSON records, and *view* decoders that decode only the fields a mapping
reads (msgspec skips the rest, which is much faster than decoding whole objects).

A path is a tuple of segments. ``getter_for_dict`` reads it from decoded dicts;
``ViewTree`` builds nested ``msgspec.defstruct`` types with ``Any`` leaves and gives
getters for the decoded view objects. Absent fields come back as ``MISSING``. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import msgspec

__all__ = ["MISSING", "Path", "ViewTree", "getter_for_dict", "parse_path", "show_path"]

Path = tuple[str, ...]
MISSING: Any = msgspec.UNSET


def parse_path(value: str | list[str]) -> Path:
    """``"data.amount"`` -> ("data", "amount"); a list is taken segment by segment."""
    if isinstance(value, str):
        parts = tuple(value.split("."))
    else:
        parts = tuple(str(v) for v in value)
    if not parts or any(p == "" for p in parts):
        raise ValueError(f"empty path segment in {value!r}")
    return parts


def show_path(path: Path) -> str:
    return "$." + ".".join(path)


def getter_for_dict(path: Path) -> Callable[[Any], Any]:
    if len(path) == 1:
        (k,) = path

        def get1(obj: Any) -> Any:
            return obj.get(k, MISSING) if type(obj) is dict else MISSING

        return get1

    def get(obj: Any) -> Any:
        for seg in path:
            if type(obj) is not dict:
                return MISSING
            obj = obj.get(seg, MISSING)
            if obj is MISSING:
                return MISSING
        return obj

    return get


class ViewTree:
    """Collects the paths a mapping reads, then builds one view Struct type for them."""

    def __init__(self) -> None:
        self._tree: dict[str, Any] = {}
        self._types: dict[Path, Any] = {}
        self._type: Any = None
        self._attrs: dict[tuple[str, ...], tuple[str, ...]] = {}

    def add(self, path: Path, typ: Any = Any) -> None:
        """Declare a path; ``typ`` is the leaf's decode type (``Any`` unless every use
        of the leaf agrees on a narrower one, e.g. event times as datetime)."""
        node = self._tree
        for seg in path[:-1]:
            if seg in node and node[seg] is None:
                return  # a leaf above: the getter reads through its decoded value
            node = node.setdefault(seg, {})
        leaf = path[-1]
        # a leaf replaces a branch, whose paths then read through the decoded value
        if leaf in node and (node[leaf] is not None or self._types.get(path, typ) != typ):
            typ = Any
        node[leaf] = None
        self._types[path] = typ

    def add_all(self, paths: Iterable[Path]) -> None:
        for p in paths:
            self.add(p)

    def build(self) -> Any:
        counter = iter(range(1_000_000))

        def make(tree: dict[str, Any], prefix: tuple[str, ...]) -> Any:
            fields = []
            rename = {}
            for i, (seg, sub) in enumerate(tree.items()):
                attr = f"f{i}"
                rename[attr] = seg
                self._attrs[prefix + (seg,)] = self._attrs.get(prefix, ()) + (attr,)
                path = prefix + (seg,)
                typ = self._types.get(path, Any) if sub is None else make(sub, path) | None
                fields.append((attr, typ, MISSING))
            return msgspec.defstruct(f"View{next(counter)}", fields, rename=rename,
                                     kw_only=True, gc=False)

        self._attrs[()] = ()
        self._type = make(self._tree, ())
        return self._type

    def attr_path(self, path: Path) -> str | None:
        """Dotted attribute path for ``operator.attrgetter`` when ``path`` is a field
        of the view itself (not read through a leaf), else None."""
        attrs = self._attrs.get(path)
        return ".".join(attrs) if attrs else None

    def getter(self, path: Path) -> Callable[[Any], Any]:
        """Getter on decoded views; a path below a leaf reads into the leaf's value."""
        for cut in range(len(path), 0, -1):
            attrs = self._attrs.get(path[:cut])
            if attrs is not None:
                break
        else:
            raise KeyError(path)
        rest = getter_for_dict(path[cut:]) if cut < len(path) else None
        if rest is None and len(attrs) == 1:
            (a,) = attrs

            def get1(obj: Any) -> Any:
                return getattr(obj, a)

            return get1
        if rest is None and len(attrs) == 2:
            a, b = attrs

            def get2(obj: Any) -> Any:
                obj = getattr(obj, a)
                return MISSING if obj is None or obj is MISSING else getattr(obj, b)

            return get2

        def get(obj: Any) -> Any:
            for a in attrs:
                obj = getattr(obj, a, MISSING) if obj is not None else MISSING
                if obj is MISSING:
                    return MISSING
            return rest(obj) if rest is not None else obj

        return get

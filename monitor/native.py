"""Which per-event modules run compiled. ``make native`` (``tools/native.py``) compiles
``NATIVE_MODULES`` with mypyc in place; Python imports an extension module before the
``.py`` beside it, and without the build the same sources run as plain Python. Pure."""

from __future__ import annotations

import importlib

__all__ = ["NATIVE_MODULES", "native_status"]

#: the engine's per-event modules and the JSON-events mapping's hot path
NATIVE_MODULES = (
    "monitor.engine.core",
    "monitor.engine.transitions",
    "monitor.engine.instance",
    "monitor.engine.timebuf",
    "monitor.engine.deadlines",
    "monitor.engine.verdicts",
    "monitor.engine.counters",
    "monitor.engine.adopt",
    "monitor.mapping.events",
    "monitor.mapping.builders",
)


def native_status() -> dict[str, bool]:
    """Per module of ``NATIVE_MODULES``: the compiled extension (True) or the ``.py``
    source (False). Shown by ``specmon --version``."""
    return {name: not str(importlib.import_module(name).__file__).endswith(".py")
            for name in NATIVE_MODULES}

"""The monitoring engine (pure: no I/O, no clock): per-key candidate-state sets,
event time, verdicts, checkpoints."""

from monitor.engine.config import EngineConfig
from monitor.engine.core import Engine
from monitor.engine.counters import COUNTER_NAMES, Counters
from monitor.engine.events import Event, HistoryEntry, SpecErrorReport, Violation

#: the per-event modules ``tools/native.py`` compiles with mypyc (``make native``);
#: the same files run as plain Python when they are not compiled
NATIVE_MODULES = ("core", "transitions", "instance", "timebuf", "deadlines", "verdicts",
                  "counters", "adopt")


def native_status() -> dict[str, bool]:
    """Per module of ``NATIVE_MODULES``: is it the compiled extension (True) or the
    ``.py`` source (False)? Shown by ``specmon version`` and in the startup log."""
    import sys

    return {name: not sys.modules[f"monitor.engine.{name}"].__file__.endswith(".py")  # type: ignore[union-attr]
            for name in NATIVE_MODULES
            if f"monitor.engine.{name}" in sys.modules}

__all__ = [
    "COUNTER_NAMES",
    "Counters",
    "Engine",
    "EngineConfig",
    "Event",
    "HistoryEntry",
    "NATIVE_MODULES",
    "SpecErrorReport",
    "Violation",
    "native_status",
]

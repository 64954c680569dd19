"""The monitoring engine (pure: no I/O, no clock): per-key candidate-state sets,
event time, verdicts, checkpoints."""

from monitor.engine.config import EngineConfig
from monitor.engine.core import Engine
from monitor.engine.counters import COUNTER_NAMES, Counters
from monitor.engine.events import Event, HistoryEntry, SpecErrorReport, Violation

__all__ = [
    "COUNTER_NAMES",
    "Counters",
    "Engine",
    "EngineConfig",
    "Event",
    "HistoryEntry",
    "SpecErrorReport",
    "Violation",
]

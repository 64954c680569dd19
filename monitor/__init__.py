"""specmon: check what a running system does against an executable specification.

Public API only; everything else is internal."""

from monitor.check import check_trace
from monitor.errors import (
    ConfigError,
    MappingError,
    RecordError,
    SnapshotError,
    SpecDefinitionError,
    SpecmonError,
)
from monitor.explore.check import explore
from monitor.spec import Spec, action, choose, invariant, require, within

__all__ = [
    "ConfigError",
    "MappingError",
    "RecordError",
    "SnapshotError",
    "Spec",
    "SpecDefinitionError",
    "SpecmonError",
    "action",
    "check_trace",
    "choose",
    "explore",
    "invariant",
    "require",
    "within",
]


def __dir__() -> list[str]:
    return list(__all__)

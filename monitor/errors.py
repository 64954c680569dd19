"""The one exception hierarchy of specmon.

    SpecmonError                 root: catch this to catch everything specmon raises
    ├── SpecDefinitionError      a spec class is malformed (raised when it loads)
    ├── ConfigError              a mapping, config file or command-line value is wrong
    │   └── MappingError         mapping.yaml is wrong (names the file and field path)
    ├── SnapshotError            a checkpoint cannot be restored into this engine
    └── RecordError              one input record cannot be used (counted and skipped,
                                 never fatal; ``cause`` is the counter label)

Violations are *not* exceptions: the engine returns them as values.
Operator-facing messages say what to do about the problem.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "MappingError",
    "RecordError",
    "SnapshotError",
    "SpecDefinitionError",
    "SpecmonError",
]


class SpecmonError(Exception):
    """Root of every exception specmon raises on purpose."""


class SpecDefinitionError(SpecmonError):
    """A spec class is malformed; the message names ``Class.method`` and the fix."""


class ConfigError(SpecmonError):
    """Configuration (mapping, config file, flags) is invalid; start-up stops."""


class MappingError(ConfigError):
    """``mapping.yaml`` is invalid; the message names the file and the field path."""


class SnapshotError(SpecmonError):
    """A checkpoint does not belong to this spec or is corrupt."""


class RecordError(SpecmonError):
    """One input record is unusable. ``cause`` is a short, bounded label for metrics
    (``malformed``, ``missing_key``, ``missing_time``, ``bad_arg`` ...)."""

    def __init__(self, cause: str, message: str) -> None:
        super().__init__(message)
        self.cause = cause

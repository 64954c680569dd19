"""Recorded logs for replay: JSON lines, plain or gzip (detected by magic bytes, not by
file name). Yields raw lines with their origin; decoding happens in the mapping, which
decodes only the fields it needs."""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator
from typing import IO

import msgspec

from monitor.errors import ConfigError

__all__ = ["FileOrigin", "LineReader", "input_size", "open_input", "read_lines"]


class FileOrigin(msgspec.Struct, frozen=True, gc=False):
    """Where a replayed record came from; shows up as ``origin`` in reports."""

    file: str
    line: int


def open_input(path: str) -> IO[bytes]:
    try:
        raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, closed there
    except OSError as exc:
        raise ConfigError(f"{path}: cannot open input: {exc.strerror}") from None
    if raw.peek(2)[:2] == b"\x1f\x8b":
        raw.close()
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return raw


class LineReader:
    """(line, line number) for every non-blank line of a file, gzip read transparently;
    ``position()`` is how many bytes of the file on disk have been read."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._file = open_input(path)
        self._raw = getattr(self._file, "fileobj", None) or self._file
        #: (line number, reason) when the file could not be read to its end
        self.broken: tuple[int, str] | None = None

    def __iter__(self) -> Iterator[tuple[bytes, int]]:
        lineno = 0
        with self._file as f:
            try:
                for lineno, line in enumerate(f, 1):
                    if not line.isspace():
                        yield line, lineno
            except (EOFError, OSError, zlib.error) as exc:
                # a cut-off or corrupt gzip stream: what came before was read; the
                # caller counts the rest as one malformed record instead of crashing
                self.broken = (lineno + 1, f"{type(exc).__name__}: {exc}")

    def position(self) -> int:
        try:
            return int(self._raw.tell())
        except (OSError, ValueError):
            return 0


def read_lines(path: str) -> Iterator[tuple[bytes, int]]:
    """(line, line number) for every non-blank line; gzip read transparently."""
    return iter(LineReader(path))


def input_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0

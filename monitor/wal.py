"""The daemon's write-ahead log: what the OTLP receivers acknowledged, in the order the
engines apply it, so a restart after SIGKILL replays what the last checkpoint missed.

OTLP is a push protocol with no offsets to rewind: once a request got its 200 the client
forgets it. So a request is answered only after its mapped events are appended here
(``monitor.sources.fanout`` calls ``append`` before queueing). Idle ticks (the watermark
following the wall clock) are logged too: they fire deadlines and make later events
late, so a replay must see them at the same place in the stream.

Files: ``wal-00000001.log``, ``wal-00000002.log`` ... in the checkpoint directory. A
record is ``<u32 length><u32 crc32><payload>`` written with one ``os.write`` on an
unbuffered ``O_APPEND`` descriptor: when ``append`` returns, the bytes are in the OS page
cache, which survives the process being killed (not a power loss: ``fsync: true`` for
that, at a measured cost, docs/daemon.md). A torn last record (killed mid-write, or a
power loss without fsync) fails its length or CRC check and ends its segment's replay;
it was never acknowledged, and every later segment was started by a restart.

The checkpointer rolls to a new segment at each checkpoint and deletes the segments the
checkpoint covers entirely, so the log holds about one checkpoint interval of input.
``max_bytes`` bounds it: past it ``append`` raises ``Overloaded`` (503/UNAVAILABLE, the
client retries) until the next checkpoint frees space.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

from monitor.sources.ingest import Overloaded

__all__ = ["Position", "WriteAheadLog"]

Position = tuple[int, int]  # (segment number, byte offset after a record)
_HEADER = struct.Struct("<II")
_NAME = re.compile(r"^wal-(\d{8})\.log$")
#: a record larger than this is corrupt, not real (the body cap is 20 MiB by default and
#: mapped events are smaller than the spans they come from)
_MAX_RECORD = 1 << 30


class WriteAheadLog:
    def __init__(self, directory: str | Path, *, max_bytes: int = 256 << 20,
                 fsync: bool = False, retry_after_s: float = 1.0) -> None:
        self.dir = Path(directory)
        self.max_bytes = max_bytes
        self.fsync = fsync
        self.retry_after_s = retry_after_s
        self.segment = 0
        self.offset = 0
        self.size = 0  # bytes in every live segment
        self.appends = 0
        self.refused = 0
        self._fd: int | None = None

    def segments(self) -> list[int]:
        """Segment numbers on disk, oldest first."""
        if not self.dir.is_dir():
            return []
        return sorted(int(m.group(1)) for p in self.dir.iterdir()
                      if (m := _NAME.match(p.name)))

    def path(self, segment: int) -> Path:
        return self.dir / f"wal-{segment:08d}.log"

    def open(self) -> None:
        """Start a new segment after every existing one (never append to a segment that
        may end in a torn record)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        existing = self.segments()
        self.size = sum(self.path(s).stat().st_size for s in existing)
        self._open_segment((existing[-1] if existing else 0) + 1)

    def _open_segment(self, segment: int) -> None:
        self.segment, self.offset = segment, 0
        self._fd = os.open(self.path(segment), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        _fsync_dir(self.dir)  # the new name survives a power loss too

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @property
    def position(self) -> Position:
        return (self.segment, self.offset)

    def append(self, payload: bytes) -> Position:
        """Log one record; its end position. ``Overloaded`` when the log is full or
        cannot be written (the client retries; nothing was acknowledged)."""
        n = _HEADER.size + len(payload)
        if self.size + n > self.max_bytes and self.size:
            self.refused += 1
            raise Overloaded(self.retry_after_s, self.size, self.max_bytes)
        assert self._fd is not None, "open() the log first"
        try:
            written = os.write(self._fd, _HEADER.pack(len(payload), zlib.crc32(payload))
                               + payload)
            if self.fsync:
                os.fsync(self._fd)
        except OSError as exc:  # disk full, I/O error: refuse the request, retriable
            self.refused += 1
            raise Overloaded(self.retry_after_s, self.size, self.max_bytes) from exc
        self.offset += written
        self.size += written
        self.appends += 1
        return (self.segment, self.offset)

    def roll(self) -> None:
        """Continue in a new segment (at a checkpoint)."""
        self.close()
        self._open_segment(self.segment + 1)

    def drop_before(self, segment: int) -> None:
        """Delete the segments older than ``segment`` (a checkpoint covers them)."""
        for s in self.segments():
            if s >= segment:
                break
            path = self.path(s)
            self.size -= path.stat().st_size
            path.unlink()

    def replay(self, start: Position | None) -> Iterator[tuple[bytes, Position]]:
        """Every record after ``start`` (None: from the oldest segment), with its end
        position, up to the first torn or corrupt record."""
        for s in self.segments():
            if s == self.segment and self._fd is not None:
                break  # the segment being written now
            if start is not None and s < start[0]:
                continue
            offset = start[1] if start is not None and s == start[0] else 0
            with open(self.path(s), "rb") as f:
                f.seek(offset)
                data = f.read()
            pos = 0
            while pos + _HEADER.size <= len(data):
                length, crc = _HEADER.unpack_from(data, pos)
                end = pos + _HEADER.size + length
                if length > _MAX_RECORD or end > len(data):
                    break  # torn: killed mid-write, so never acknowledged
                payload = data[pos + _HEADER.size:end]
                if zlib.crc32(payload) != crc:
                    break
                pos = end
                yield payload, (s, offset + pos)
            # a torn tail ends its segment only: the next segment was started by the
            # restart that followed, after every acknowledged record of this one


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

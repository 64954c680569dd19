"""Checkpoints and crash recovery for the daemon: a restarted sidecar neither repeats
nor forgets alarms (docs/daemon.md, "Checkpoints").

The pieces, all in the checkpoint directory:

- ``wal-*.log`` (``monitor.wal``): every acknowledged request's mapped events and every
  idle tick, appended before the receiver answers;
- ``checkpoint.msgpack``: every engine's snapshot, the pipelines' and the ingest's
  counters, the WAL position the snapshots cover, and the report file's position.

A checkpoint (every ``interval``, after each report-file rotation, when the WAL is half
full, and on shutdown) is taken by the consumer between two items, so nothing is half
applied:

1. flush the report file to the OS; read its position (inode, offset);
2. snapshot every engine (synchronous: the loop waits, ~1 µs per live instance);
3. roll the WAL to a new segment (new requests keep being logged meanwhile);
4. write ``checkpoint.msgpack.tmp``, fsync, rename over ``checkpoint.msgpack``, fsync
   the directory (in a thread: the receivers keep answering);
5. delete the WAL segments older than the covered position's segment.

A crash between any two steps leaves the previous checkpoint and every segment it needs.

Restart (``restore``, before the receivers open): load the checkpoint into fresh
engines; count the complete report lines written after the checkpointed position (in
that file and the newer ones, if it was rotated since) and drop a torn last line; then
replay the WAL from the covered position. The engines are deterministic, so the replay
produces the same reports in the same order: the first ``skip`` of them are the ones
already in the file and are swallowed; the rest are new. Then checkpoint at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Any

import msgspec

from monitor.engine.events import Event
from monitor.engine.instance import tuplify
from monitor.errors import SnapshotError
from monitor.sinks.logs import log
from monitor.sinks.outputs import KAFKA_LINE_PREFIX
from monitor.sources.fanout import FanoutIngest, _Item, _Tick
from monitor.wal import Position, WriteAheadLog

__all__ = ["Checkpointer"]

_log = logging.getLogger("specmon.checkpoint")
VERSION = 1
FILE = "checkpoint.msgpack"


class SpecState(msgspec.Struct, kw_only=True):
    snapshot: bytes
    records: int
    unmatched: int
    invalid: dict[str, int]


class State(msgspec.Struct, kw_only=True):
    version: int
    time: float
    wal: tuple[int, int] | None
    specs: dict[str, SpecState]
    ingest: dict[str, int]
    #: (inode, offset) of the report file's end, or None without a file sink
    reports: tuple[int, int] | None = None
    reports_emitted: int = 0


# WAL records: a batch of mapped events per spec, or an idle tick
class _BatchRec(msgspec.Struct, array_like=True, tag="b"):
    parts: list[tuple[str, list[Event]]]


class _TickRec(msgspec.Struct, array_like=True, tag="t"):
    time: float


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_BatchRec | _TickRec)
_INGEST_COUNTERS = ("requests", "spans", "accepted_events", "applied_events",
                    "rejected_spans", "unmatched_spans", "overloaded", "reports",
                    "consumer_errors")


class Checkpointer:
    def __init__(self, directory: str | Path, ingest: FanoutIngest, sinks: Any, *,
                 interval: float, max_wal_bytes: int, fsync: bool = False) -> None:
        self.dir = Path(directory)
        self.ingest = ingest
        self.sinks = sinks
        self.interval = interval
        self.wal = WriteAheadLog(self.dir, max_bytes=max_wal_bytes, fsync=fsync)
        self.time: float | None = None  # wall seconds of the last checkpoint
        self.count = 0
        self.seconds = 0.0  # total time spent checkpointing
        self.replayed = 0
        self.failures = 0
        self._names = [t.name for t in ingest.targets]
        self._index = {n: i for i, n in enumerate(self._names)}
        self._due = time.monotonic() + interval
        self._busy = False

    # -- the ingest's hooks -------------------------------------------------------------

    def journal(self, item: _Item | _Tick) -> Position:
        if isinstance(item, _Tick):
            rec: Any = _TickRec(item.time)
        else:
            rec = _BatchRec([(self._names[i], evs) for i, evs in item.parts])
        return self.wal.append(_encoder.encode(rec))

    async def between(self, position: Any) -> None:
        if self._busy:
            return
        if (time.monotonic() >= self._due or self.sinks.rotated
                or self.wal.size * 2 > self.wal.max_bytes):
            try:
                await self.checkpoint()
            except OSError as exc:  # disk full...: keep going; the WAL bounds what piles up
                self.failures += 1
                log(_log, logging.ERROR, "checkpoint failed", error=str(exc),
                    directory=str(self.dir))

    # -- checkpoint -----------------------------------------------------------------------

    async def checkpoint(self, *, in_thread: bool = True) -> None:
        self._busy = True
        started = time.perf_counter()
        try:
            data, covered = self._capture()
            self.wal.roll()
            if in_thread:
                await asyncio.to_thread(self._write, data)
            else:
                self._write(data)
            if covered is not None:
                self.wal.drop_before(covered[0])
            else:
                self.wal.drop_before(self.wal.segment)
        finally:
            self._busy = False
            self._due = time.monotonic() + self.interval
        self.count += 1
        self.seconds += time.perf_counter() - started
        self.time = time.time()

    def _capture(self) -> tuple[bytes, Position | None]:
        sinks = self.sinks
        reports = None
        if sinks.file is not None:
            sinks.rotated = False
            reports = sinks.file.position
        specs = {}
        for t in self.ingest.targets:
            p = t.pipeline
            specs[t.name] = SpecState(snapshot=p.engine.snapshot(), records=p.records,
                                      unmatched=p.unmatched, invalid=dict(p.invalid))
        st = self.ingest.stats
        covered = self.ingest.applied_position
        state = State(version=VERSION, time=time.time(), wal=covered, specs=specs,
                      ingest={k: getattr(st, k) for k in _INGEST_COUNTERS},
                      reports=reports, reports_emitted=sinks.emitted)
        return _encoder.encode(state), covered

    def _write(self, data: bytes) -> None:
        tmp = self.dir / (FILE + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.dir / FILE)
        fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- restart --------------------------------------------------------------------------

    async def restore(self) -> None:
        """Load the checkpoint, replay the WAL after it, checkpoint. Before receivers
        open and before the consumer starts."""
        self.dir.mkdir(parents=True, exist_ok=True)
        state = self._load()
        start: Position | None = None
        if state is not None:
            start = tuple(state.wal) if state.wal is not None else None  # type: ignore[assignment]
            self._restore_engines(state)
            self.sinks.skip = self._reports_written_since(state)
            self.sinks.emitted = state.reports_emitted
        segments = self.wal.segments()
        if state is None and segments:
            log(_log, logging.WARNING, "write-ahead log without a checkpoint: replaying it "
                "from the start", segments=len(segments))
        self.wal.open()
        for payload, pos in self.wal.replay(start):
            self.ingest.apply(self._decode(payload, pos))
            self.replayed += 1
        skipped_left = self.sinks.skip
        self.sinks.skip = 0
        if skipped_left:
            log(_log, logging.WARNING, "the report file holds reports the replay did not "
                "produce again", reports=skipped_left)
        if state is not None or self.replayed:
            log(_log, logging.INFO, "restored", checkpoint=state is not None,
                wal_records=self.replayed, reports_already_written=self.sinks.skipped,
                reports_new=self.sinks.emitted - (state.reports_emitted if state else 0))
        await self.checkpoint(in_thread=False)

    def _load(self) -> State | None:
        path = self.dir / FILE
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            state = msgspec.msgpack.decode(data, type=State)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise SnapshotError(f"{path}: corrupt or from another version ({exc}). Operator "
                                "action: move the checkpoint directory away to start from "
                                "empty state.") from None
        if state.version != VERSION:
            raise SnapshotError(f"{path}: checkpoint format v{state.version}, this specmon "
                                f"reads v{VERSION}. Operator action: move the checkpoint "
                                "directory away to start from empty state.")
        return state

    def _restore_engines(self, state: State) -> None:
        for t in self.ingest.targets:
            saved = state.specs.get(t.name)
            if saved is None:
                log(_log, logging.WARNING, "spec not in the checkpoint: starting empty",
                    spec=t.name)
                continue
            p = t.pipeline
            try:
                p.engine.restore(saved.snapshot)
            except SnapshotError as exc:
                raise SnapshotError(f"{self.dir / FILE}, spec {t.name}: {exc}") from None
            p.records, p.unmatched, p.invalid = saved.records, saved.unmatched, dict(saved.invalid)
        for name in state.specs.keys() - set(self._names):
            log(_log, logging.WARNING, "checkpoint holds a spec no longer configured: "
                "dropped", spec=name)
        st = self.ingest.stats
        for k, v in state.ingest.items():
            if k in _INGEST_COUNTERS:
                setattr(st, k, v)
        self.ingest.applied_position = state.wal

    def _reports_written_since(self, state: State) -> int:
        """Complete report lines after the checkpointed position; truncates a torn last
        line (it is written again by the replay)."""
        file = self.sinks.file
        if file is None or state.reports is None:
            return 0
        inode, offset = state.reports
        files = [p for p in file.files() if p.exists()]
        at = next((i for i, p in enumerate(files) if p.stat().st_ino == inode), None)
        if at is None:
            log(_log, logging.WARNING, "the checkpointed report file is gone: reports "
                "after the checkpoint may be written twice", path=str(file.path))
            return 0
        count = 0
        file.close()  # reopened below: an O_APPEND descriptor's offset is stale after truncate
        for i in range(at, -1, -1):
            lines, torn = _count_lines(files[i], offset if i == at else 0)
            count += lines
            if i == 0 and torn:
                os.truncate(files[i], files[i].stat().st_size - torn)
        file.open()
        return count

    def _decode(self, payload: bytes, pos: Position) -> _Item | _Tick:
        rec = _decoder.decode(payload)
        if isinstance(rec, _TickRec):
            return _Tick(rec.time, pos)
        parts = []
        n = 0
        for name, events in rec.parts:
            i = self._index.get(name)
            if i is None:
                continue  # a spec no longer configured
            evs = [msgspec.structs.replace(e, args=tuplify(list(e.args))) for e in events]
            parts.append((i, evs))
            n += len(evs)
        return _Item(parts, n, time.monotonic(), pos)

    def close(self) -> None:
        self.wal.close()


def _count_lines(path: Path, offset: int) -> tuple[int, int]:
    """Complete OTLP report lines after ``offset``, and the length of a torn last line
    (0: none). Kafka reports (they start with their ``report_id``) are not counted: the
    WAL replay does not produce them again (the Kafka source has its own changelog and
    the sinks skip its ids). Read line by line through the file's buffer (a report file
    may be 100 MiB)."""
    lines = torn = 0
    with open(path, "rb") as f:
        f.seek(offset)
        for line in f:
            if not line.endswith(b"\n"):
                torn = len(line)
            elif not line.startswith(KAFKA_LINE_PREFIX):
                lines += 1
    return lines, torn

"""Where the daemon's violation reports go: a JSON-lines file with size-based rotation,
stdout, an HTTP webhook (``monitor.sinks.webhook``). One line per report, the schema of
``monitor.sinks.reports.encode_report`` (the same as ``specmon replay --report``).

The file is the record of truth for restarts (``monitor.durable``): its position is
checkpointed, and after a crash the reports that the replayed write-ahead log produces
again are recognised by counting the complete lines written since that position. So
the file sink rotates only from the consumer (``emit``) and reports ``rotated`` so the
runner checkpoints right after each rotation.

Kafka reports come with their deterministic ``report_id`` (``monitor.sources.kafka``),
written as the line's first field. A replica that dies between writing a checkpoint and
marking its reports published leaves that batch to be published again (docs/kafka.md):
the sinks skip a report whose id they already wrote. They remember the ids of the last
``RECENT_REPORT_IDS`` reports written and, with ``sources.kafka``, read them back at
start from the report file and as many backups as it takes to find that many, so a
replica restarted on the same file skips too.
"""

from __future__ import annotations

import os
import sys
from collections import deque
from pathlib import Path
from typing import Any

from monitor.config import FileSink, ReportsSection
from monitor.sinks.reports import encode_report

__all__ = ["KAFKA_LINE_PREFIX", "RECENT_REPORT_IDS", "RecentIds", "ReportFile", "ReportSinks",
           "kafka_report_id"]

#: Kafka report ids remembered: a republished batch is one checkpoint's pending reports
#: per partition (``max_pending_reports``, 10,000 by default), so 65,536 covers six
#: partitions at that cap; about 8 MiB (a 24-character id, its set and deque entries)
RECENT_REPORT_IDS = 65_536

#: how a Kafka report line starts (``monitor.sources.kafka.report_line``)
KAFKA_LINE_PREFIX = b'{"report_id":"'


class RecentIds:
    """The last ``limit`` ids added; the oldest is forgotten first."""

    def __init__(self, limit: int = RECENT_REPORT_IDS) -> None:
        self.limit = limit
        self._order: deque[str] = deque()
        self._ids: set[str] = set()

    def __contains__(self, rid: str) -> bool:
        return rid in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, rid: str) -> None:
        if rid in self._ids:
            return
        if len(self._order) >= self.limit:
            self._ids.discard(self._order.popleft())
        self._order.append(rid)
        self._ids.add(rid)

    def read(self, paths: list[Path]) -> None:
        """Add the ids of the Kafka report lines in ``paths`` (newest file first; missing
        ones are skipped), reading files only until ``limit`` ids are found."""
        chunks: list[deque[str]] = []
        found = 0
        for path in paths:
            if found >= self.limit:
                break
            ids: deque[str] = deque(maxlen=self.limit)
            _scan(path, ids)
            chunks.append(ids)
            found += len(ids)
        for ids in reversed(chunks):  # oldest first: the newest are forgotten last
            for rid in ids:
                self.add(rid)


def kafka_report_id(line: bytes) -> str | None:
    """The ``report_id`` a Kafka report line starts with; None for any other line."""
    if line.startswith(KAFKA_LINE_PREFIX):
        n = len(KAFKA_LINE_PREFIX)
        end = line.find(b'"', n)
        if end > n:
            return line[n:end].decode()
    return None


def _scan(path: Path, into: deque[str]) -> None:
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return
    with f:
        for line in f:
            rid = kafka_report_id(line)
            if rid is not None:
                into.append(rid)


class ReportFile:
    """``path`` grows to ``max_bytes``, then becomes ``path.1`` (``.1`` -> ``.2`` ...,
    at most ``backups`` kept). Writes go to the OS at once (``flush`` per report: a
    report must survive the process being killed right after it)."""

    def __init__(self, cfg: FileSink) -> None:
        self.path = Path(cfg.path)
        self.max_bytes = cfg.max_bytes
        self.backups = cfg.backups
        self.rotations = 0
        self.written = 0
        self._f: Any = None

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "ab")  # noqa: SIM115 - held open for the daemon's life

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None

    @property
    def position(self) -> tuple[int, int]:
        """(inode, byte offset) of the end of what was written."""
        assert self._f is not None
        return os.fstat(self._f.fileno()).st_ino, self._f.tell()

    def write(self, line: bytes) -> bool:
        """Append one line; True when the file was rotated after it."""
        f = self._f
        f.write(line)
        f.flush()
        self.written += 1
        if f.tell() >= self.max_bytes:
            self.rotate()
            return True
        return False

    def rotate(self) -> None:
        self.close()
        if self.backups == 0:
            self.path.unlink(missing_ok=True)
        else:
            for i in range(self.backups - 1, 0, -1):
                src = self.files()[i]
                if src.exists():
                    os.replace(src, self.files()[i + 1])
            os.replace(self.path, self.files()[1])
        self.rotations += 1
        self.open()

    def files(self) -> list[Path]:
        """The current file, then its backups newest first."""
        return [self.path] + [self.path.with_name(f"{self.path.name}.{i}")
                              for i in range(1, self.backups + 1)]

    def fsync(self) -> None:
        if self._f is not None:
            self._f.flush()
            os.fsync(self._f.fileno())


class ReportSinks:
    """Every configured sink; ``emit`` from the consumer loop (never blocks: the webhook
    has a bounded queue of its own). ``skip`` reports are swallowed first: after a
    crash, the ones the file already holds (see ``monitor.durable``)."""

    def __init__(self, cfg: ReportsSection) -> None:
        self.cfg = cfg
        self.file = ReportFile(cfg.file) if cfg.file is not None else None
        self.stdout = sys.stdout.buffer if cfg.stdout else None
        self.webhook: Any = None
        if cfg.webhook is not None:
            from monitor.sinks.webhook import Webhook

            self.webhook = Webhook(cfg.webhook)
        self.emitted = 0  # reports emitted (after skipping), all sinks
        self.skipped = 0
        self.skip = 0
        self.recent = RecentIds()
        self.duplicates = 0  # Kafka reports skipped: their id was already written
        self.rotated = False  # set on rotation; the runner checkpoints and clears it

    async def start(self) -> None:
        if self.file is not None:
            self.file.open()
        if self.webhook is not None:
            await self.webhook.start()

    def read_report_ids(self) -> None:
        """Remember the Kafka report ids already in the report file and its backups
        (the Kafka source calls it before start: a restarted replica on the same file)."""
        if self.file is not None:
            self.recent.read(self.file.files())

    def emit(self, report: Any, line: bytes | None = None,
             report_id: str | None = None) -> bool:
        """Write ``report`` everywhere; False when it was skipped (already written).
        Kafka passes its ``report_id`` and the encoded ``line`` that carries it."""
        if report_id is not None:
            if report_id in self.recent:
                self.duplicates += 1
                return False
            self.recent.add(report_id)
        elif self.skip:
            self.skip -= 1
            self.skipped += 1
            return False
        line = (line if line is not None else encode_report(report)) + b"\n"
        if self.file is not None and self.file.write(line):
            self.rotated = True
        if self.stdout is not None:
            self.stdout.write(line)
            self.stdout.flush()
        if self.webhook is not None:
            self.webhook.put(report, line)
        self.emitted += 1
        return True

    async def stop(self) -> None:
        if self.webhook is not None:
            await self.webhook.stop()
        if self.file is not None:
            self.file.close()

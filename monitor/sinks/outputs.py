"""Where the daemon's violation reports go: a JSON-lines file with size-based rotation,
stdout, an HTTP webhook (``monitor.sinks.webhook``). One line per report, the schema of
``monitor.sinks.reports.encode_report`` (the same as ``specmon replay --report``).

The file is the record of truth for restarts (``monitor.durable``): its position is
checkpointed, and after a crash the reports that the replayed write-ahead log produces
again are recognised by counting the complete lines written since that position. So
the file sink rotates only from the consumer (``emit``) and reports ``rotated`` so the
runner checkpoints right after each rotation.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from monitor.config import FileSink, ReportsSection
from monitor.sinks.reports import encode_report

__all__ = ["ReportFile", "ReportSinks"]


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
        self.rotated = False  # set on rotation; the runner checkpoints and clears it

    async def start(self) -> None:
        if self.file is not None:
            self.file.open()
        if self.webhook is not None:
            await self.webhook.start()

    def emit(self, report: Any) -> bool:
        """Write ``report`` everywhere; False when it was skipped (already written)."""
        if self.skip:
            self.skip -= 1
            self.skipped += 1
            return False
        line = encode_report(report) + b"\n"
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

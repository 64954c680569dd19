"""A process that runs only the Kafka source (``python -m monitor.sources.kafka_main``):
what the tests start, SIGKILL and restart, and what ``specmon run`` wraps.

    python -m monitor.sources.kafka_main CONFIG.json --spec specs/payment --reports out.jsonl

CONFIG is the ``sources.kafka`` section as a JSON or YAML file. Reports go to a JSON
lines file opened for appending (several replicas may share it: each batch is one
``write`` to an ``O_APPEND`` descriptor); report ids the file already holds are
skipped. SIGTERM/SIGINT: checkpoint, commit, leave the group, exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

import msgspec
import yaml

from monitor.engine import EngineConfig
from monitor.errors import SpecmonError
from monitor.gc_tuning import tune_gc
from monitor.sinks.outputs import RecentIds, kafka_report_id
from monitor.sources.kafka import KafkaSource, ReportLine
from monitor.sources.kafka_config import load_kafka_config
from monitor.specdir import load_specdir

__all__ = ["FileSink", "main"]


class FileSink:
    """Appends report lines, each report id at most once: ids already in the file
    (this replica's, or another's sharing the file) are skipped, on republish and on
    any other batch alike, as the daemon's sinks do (``ReportSinks.emit``). Why every
    batch: after a rebalance a replica has been seen to report records again that it,
    or the previous owner, had already reported (the scale-out test, under load), with
    the same deterministic ids. The file is followed incrementally: before each batch,
    whatever was appended since the last look (by anyone) is scanned for ids, so the
    cost is one read of each byte, not of the whole file per batch."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.skipped = 0
        self.recent = RecentIds()
        self._scanned = 0  # bytes of the file already scanned for ids (whole lines)

    def _catch_up(self) -> None:
        size = os.fstat(self.fd).st_size
        if size <= self._scanned:
            return
        with open(self.path, "rb") as f:
            f.seek(self._scanned)
            data = f.read(size - self._scanned)
        end = data.rfind(b"\n") + 1  # a line still being written is read next time
        for line in data[:end].splitlines():
            rid = kafka_report_id(line)
            if rid is not None:
                self.recent.add(rid)
        self._scanned += end

    async def __call__(self, lines: list[ReportLine], republish: bool) -> None:
        self._catch_up()
        kept = []
        for rid, line in lines:
            if rid in self.recent:
                self.skipped += 1
                continue
            self.recent.add(rid)
            kept.append(line)
        data = b"".join(line + b"\n" for line in kept)
        while data:
            n = os.write(self.fd, data)
            data = data[n:]
        os.fsync(self.fd)

    def close(self) -> None:
        os.close(self.fd)


async def _run(args: argparse.Namespace) -> int:
    text = Path(args.config).read_text(encoding="utf-8")
    cfg = load_kafka_config(yaml.safe_load(text), where=args.config)
    specs = [load_specdir(s) for s in args.spec]
    engine = EngineConfig(allowed_lateness=args.lateness)
    sink = FileSink(args.reports)
    source = KafkaSource(cfg, specs, engine, sinks=[sink])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await source.start()
    tune_gc()  # a long-running process of its own (monitor.gc_tuning)
    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({waiter, source._task}, return_when=asyncio.FIRST_COMPLETED)  # type: ignore[arg-type]
    waiter.cancel()
    await source.stop()
    sink.close()
    print(msgspec.json.encode(source.stats).decode(), file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m monitor.sources.kafka_main",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("config", help="the sources.kafka section (JSON or YAML file)")
    ap.add_argument("--spec", action="append", required=True, help="spec directory (repeatable)")
    ap.add_argument("--reports", required=True, help="JSON lines file to append reports to")
    ap.add_argument("--lateness", type=float, default=5.0, help="allowed lateness, seconds")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("specmon").setLevel(logging.INFO)
    try:
        return asyncio.run(_run(args))
    except SpecmonError as exc:
        print(f"specmon: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

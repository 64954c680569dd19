"""A process that runs only the Kafka source (``python -m monitor.sources.kafka_main``):
what the tests start, SIGKILL and restart, and what ``specmon run`` wraps.

    python -m monitor.sources.kafka_main CONFIG.json --spec specs/payment --reports out.jsonl

CONFIG is the ``sources.kafka`` section as a JSON or YAML file. Reports go to a JSON
lines file opened for appending (several replicas may share it: each batch is one
``write`` to an ``O_APPEND`` descriptor); a republished batch skips report ids the file
already holds. SIGTERM/SIGINT: checkpoint, commit, leave the group, exit 0.
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
from monitor.sources.kafka import KafkaSource, ReportLine
from monitor.sources.kafka_config import load_kafka_config
from monitor.specdir import load_specdir

__all__ = ["FileSink", "main"]


class _Id(msgspec.Struct):
    report_id: str = ""


class FileSink:
    """Appends report lines; idempotent on republish (skips ids already in the file)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.skipped = 0

    def known_ids(self) -> set[str]:
        dec = msgspec.json.Decoder(_Id)
        with open(self.path, "rb") as f:
            return {dec.decode(line).report_id for line in f if line.strip()}

    async def __call__(self, lines: list[ReportLine], republish: bool) -> None:
        if republish:
            known = self.known_ids()
            kept = [(rid, line) for rid, line in lines if rid not in known]
            self.skipped += len(lines) - len(kept)
            lines = kept
        data = b"".join(line + b"\n" for _rid, line in lines)
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

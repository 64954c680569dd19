"""Helpers of the Kafka tests: producing a log to a key-partitioned topic, replicas of
the Kafka source as subprocesses, conditions to wait on."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[2]
PAYMENT = ROOT / "specs" / "payment"


def partition_of(key: str, n: int) -> int:
    return zlib.crc32(key.encode()) % n


async def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


async def produce(bootstrap: str, topic: str, records: list[tuple[int, bytes | None, bytes, list]]) -> None:
    """records: (partition, key, value, headers)."""
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await p.start()
    try:
        for part, key, value, headers in records:
            await p.send(topic, value, key=key, partition=part, headers=headers or None)
        await p.flush()
    finally:
        await p.stop()


def keyed(lines: list[bytes], partitions: int) -> list[tuple[int, bytes, bytes, list]]:
    out = []
    for line in lines:
        key = json.loads(line)["subject"]
        out.append((partition_of(key, partitions), key.encode(), line, []))
    return out


async def committed(bootstrap: str, group: str, topic: str, partitions: int) -> int:
    """The sum of the group's committed offsets over the topic (0 for none)."""
    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await c.start()
    try:
        total = 0
        for p in range(partitions):
            total += (await c.committed(TopicPartition(topic, p))) or 0
        return total
    finally:
        await c.stop()


def wait_for(cond, timeout: float, what: str, every: float = 0.1):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


def write_config(path: Path, **kw) -> Path:  # type: ignore[no-untyped-def]
    base = {"session_timeout_ms": 1000, "heartbeat_interval_ms": 200,
            "checkpoint_interval": 0.2, "idle_advance": None, "max_poll_records": 500}
    path.write_text(json.dumps({**base, **kw}))
    return path


class Replica:
    """``python -m monitor.sources.kafka_main`` as a subprocess."""

    def __init__(self, config: Path, reports: Path, log: Path, spec: Path = PAYMENT) -> None:
        self.args = [sys.executable, "-m", "monitor.sources.kafka_main", str(config),
                     "--spec", str(spec), "--reports", str(reports)]
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Replica:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.args, cwd=ROOT, stdout=out, stderr=out,
                                         env={**os.environ, "PYTHONPATH": str(ROOT)})
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(30)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def read_reports(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)

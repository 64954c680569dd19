"""Kafka benchmark: events/s of the Kafka source against plain aiokafka consumption of
the same topic, in the same run, on a local Tansu broker (machines here are noisy: only
ratios are meaningful).

  plain consume   aiokafka consumer in a group + msgspec decode of every value to a dict
                  + one commit at the end (the floor for any Kafka consumer in Python)
  specmon x1      the Kafka source in-process: decode, map, engine, checkpoints to the
                  changelog every 5 s, commits
  specmon x1/x2   ``python -m monitor.sources.kafka_main`` as 1 or 2 replicas in one
                  group: wall time from launch to every offset committed (includes
                  start-up and the group join, ~1-2 s)

Rates of the in-process contenders run from the first record to the last one applied.

    python bench/kafka.py [--events 200000] [--partitions 4]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
from aiokafka import AIOKafkaConsumer  # noqa: E402

from monitor.gc_tuning import tune_gc  # noqa: E402
from monitor.sources.kafka import KafkaSource  # noqa: E402
from monitor.sources.kafka_config import KafkaConfig  # noqa: E402
from monitor.specdir import load_specdir  # noqa: E402
from tests.integration.kafka_support import (  # noqa: E402
    Replica,
    committed,
    create_topic,
    keyed,
    produce,
    wait_for,
    write_config,
)
from tests.integration.tansu import running_broker  # noqa: E402

PAYMENT = ROOT / "specs" / "payment"


def payment_log(events: int) -> list[bytes]:
    spec = importlib.util.spec_from_file_location("payment_generate", PAYMENT / "generate.py")
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    lines, _ = mod.generate(events, max(100, events // 100), violations=0.01, duplicates=0.01,
                            shuffle=2, seed=7)
    return lines


async def plain(bootstrap: str, topic: str, total: int) -> float:
    c = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id="plain",
                         enable_auto_commit=False, auto_offset_reset="earliest",
                         session_timeout_ms=1000, heartbeat_interval_ms=200)
    await c.start()
    dec = msgspec.json.Decoder()
    n, t0 = 0, None
    try:
        while n < total:
            batch = await c.getmany(timeout_ms=200, max_records=5000)
            for recs in batch.values():
                if t0 is None and recs:
                    t0 = time.perf_counter()
                for r in recs:
                    dec.decode(r.value)
                n += len(recs)
        await c.commit()
        return n / (time.perf_counter() - t0)  # type: ignore[operator]
    finally:
        await c.stop()


async def inprocess(bootstrap: str, topic: str, total: int) -> tuple[float, int]:
    reports = 0

    async def sink(lines, republish):  # type: ignore[no-untyped-def]
        nonlocal reports
        reports += len(lines)

    cfg = KafkaConfig(bootstrap_servers=bootstrap, topics=[topic], group_id="specmon-x1",
                      session_timeout_ms=1000, heartbeat_interval_ms=200, idle_advance=None)
    src = KafkaSource(cfg, [load_specdir(PAYMENT)], sinks=[sink])
    await src.start()
    tune_gc()  # as kafka_main and `specmon run` do once started (the plain run is done)
    t0 = None
    try:
        while src.counts["records"] < total:
            if t0 is None and src.counts["records"]:
                t0 = time.perf_counter()
            await asyncio.sleep(0.001)
        rate = total / (time.perf_counter() - t0)  # type: ignore[operator]
    finally:
        await src.stop()
    return rate, reports


def replicas(bootstrap: str, topic: str, partitions: int, total: int, n: int, tmp: Path) -> float:
    group = f"specmon-r{n}"
    cfg = write_config(tmp / f"{group}.json", bootstrap_servers=bootstrap, topics=[topic],
                       group_id=group, checkpoint_interval=5.0, max_poll_records=5000)
    t0 = time.perf_counter()
    rs = [Replica(cfg, tmp / f"{group}.jsonl", tmp / f"{group}-{i}.log").start() for i in range(n)]
    try:
        wait_for(lambda: asyncio.run(committed(bootstrap, group, topic, partitions)) >= total,
                 600, f"{n} replica(s) to commit everything", every=0.25)
        return total / (time.perf_counter() - t0)
    finally:
        for r in rs:
            r.terminate()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--partitions", type=int, default=4)
    args = ap.parse_args()
    lines = payment_log(args.events)
    total = len(lines)
    with running_broker() as b, tempfile.TemporaryDirectory() as tmp:
        asyncio.run(create_topic(b.bootstrap, "bench", args.partitions))
        t = time.perf_counter()
        asyncio.run(produce(b.bootstrap, "bench", keyed(lines, args.partitions)))
        print(f"produced {total} events in {time.perf_counter() - t:.1f}s", file=sys.stderr)
        base = asyncio.run(plain(b.bootstrap, "bench", total))
        x1, reports = asyncio.run(inprocess(b.bootstrap, "bench", total))
        r1 = replicas(b.bootstrap, "bench", args.partitions, total, 1, Path(tmp))
        r2 = replicas(b.bootstrap, "bench", args.partitions, total, 2, Path(tmp))
    rows = [("plain aiokafka consume + msgspec decode (floor)", base, "1.00x"),
            ("specmon Kafka source, in-process, 1 replica", x1, f"{x1 / base:.2f}x"),
            ("`kafka_main` 1 replica, launch to last commit", r1, f"{r1 / base:.2f}x"),
            ("`kafka_main` 2 replicas, launch to last commit", r2,
             f"{r2 / base:.2f}x ({r2 / r1:.2f}x one replica)")]
    print(f"{total} events, {args.partitions} partitions, {reports} reports\n")
    print("| contender | events/s | vs plain consume |\n|---|---:|---:|")
    for name, rate, ratio in rows:
        print(f"| {name} | {rate:,.0f} | {ratio} |")
    print(json.dumps({"plain": base, "x1": x1, "r1": r1, "r2": r2}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What durability costs the daemon: the write-ahead log per request and a checkpoint,
against the same work without them, measured in one run (ratios; the machines here are
noisy and shared).

Per 512-span OTLP request (bench/otlp.py's payment batches), CPU time of the process:

  no WAL        submit (map for the spec, queue) + apply (engine): the baseline
  WAL           the same, each request's events appended to the log first (msgpack
                encode + one os.write): what `specmon run` does by default
  WAL + fsync   the same with ``checkpoint.fsync: true`` (wall time: the disk waits)

and a checkpoint of the engine afterwards (snapshot + write + fsync + rename).

    python bench/daemon.py [--batches 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (  # noqa: E402
    ExportTraceServiceRequest,
)
from otlp import make_batches, pipeline  # noqa: E402

from monitor.config import ReportsSection  # noqa: E402
from monitor.durable import Checkpointer  # noqa: E402
from monitor.sinks.outputs import ReportSinks  # noqa: E402
from monitor.sources.fanout import FanoutIngest, Hooks, Target  # noqa: E402


def run(reqs: list, mode: str, tmp: Path) -> tuple[float, float, float, int]:
    """(cpu seconds, wall seconds, checkpoint wall seconds, WAL bytes) for all requests."""
    ingest = FanoutIngest([Target("payment", pipeline())], max_events=1 << 30, tick_s=None)
    ck = None
    if mode != "no WAL":
        ck = Checkpointer(tmp / mode.replace(" ", ""), ingest, ReportSinks(ReportsSection()),
                          interval=3600, max_wal_bytes=1 << 40, fsync=mode == "WAL + fsync")
        ck.dir.mkdir(parents=True, exist_ok=True)
        ck.wal.open()
        ingest.hooks = Hooks(journal=ck.journal)

    async def go() -> float:
        c0, w0 = time.process_time(), time.perf_counter()
        async with ingest:
            for r in reqs:
                ingest.submit(r)
                if ingest.stats.depth > 8 * 512:
                    await ingest.drained()
            await ingest.drained()
        c, w = time.process_time() - c0, time.perf_counter() - w0
        t = time.perf_counter()
        if ck is not None:
            await ck.checkpoint(in_thread=False)
        return c, w, time.perf_counter() - t

    cpu, wall, ckpt = asyncio.run(go())
    size = ck.wal.size if ck is not None else 0
    if ck is not None:
        ck.close()
    return cpu, wall, ckpt, size


def journal_only(reqs: list) -> float:
    """CPU µs per request of ``Checkpointer.journal`` alone, on pre-mapped events."""
    from monitor.sources.fanout import _Item

    p = pipeline()
    items = [_Item([(0, p.spans_mapper().map_request(r).events)], 512, 0.0) for r in reqs]
    with tempfile.TemporaryDirectory() as d:
        ingest = FanoutIngest([Target("payment", p)], tick_s=None)
        ck = Checkpointer(d, ingest, ReportSinks(ReportsSection()), interval=3600,
                          max_wal_bytes=1 << 40)
        ck.wal.open()
        c0 = time.process_time()
        for it in items:
            ck.journal(it)
        cpu = time.process_time() - c0
        ck.close()
    return cpu / len(items) * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batches", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    bodies, _ = make_batches(args.batches)
    reqs = [ExportTraceServiceRequest.FromString(b) for b in bodies]
    modes = ["no WAL", "WAL", "WAL + fsync"]
    best: dict[str, tuple[float, float, float, int]] = {}
    with tempfile.TemporaryDirectory() as d:
        for rep in range(args.repeat):
            for mode in modes:
                r = run(reqs, mode, Path(d) / str(rep))
                if mode not in best or r[0] < best[mode][0]:
                    best[mode] = r
    base = best["no WAL"]
    n = len(reqs)
    print(f"{n} requests x 512 spans (payment), best of {args.repeat}\n")
    print("| mode | CPU µs / request | vs no WAL | wall µs / request | WAL bytes / request |")
    print("|---|---|---|---|---|")
    for mode in modes:
        cpu, wall, _, size = best[mode]
        print(f"| {mode} | {cpu / n * 1e6:,.0f} | {cpu / base[0]:.2f}x | "
              f"{wall / n * 1e6:,.0f} | {size / n:,.0f} |")
    print(f"\nthe append alone (encode + os.write, no fsync): {journal_only(reqs):,.0f} µs "
          "CPU / request")
    print(f"checkpoint after {n * 512:,} spans: {best['WAL'][2] * 1e3:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""OTLP receiver benchmark: spans/s through the OTLP/HTTP (and gRPC) receiver into the
engine, against baselines measured in the same run on the same pre-encoded batches
(machines here are noisy, so only ratios are meaningful):

  parse        ``ExportTraceServiceRequest.FromString`` of every batch (the floor)
  map          parse + ``SpanMapper.map_request`` (no engine)
  in-process   parse + map + engine (what a receiver could reach with free I/O)
  otlp/http    an aiohttp client in another process POSTs the batches (protobuf,
               ``--inflight`` requests at a time) to the receiver on 127.0.0.1; timed
               from the client's first send until the engine has applied every event
  otlp/grpc    the same through the gRPC receiver (grpc.aio client, raw bytes)

Spans: ``--batches`` batches of 512 spans (the SDK's default batch size), each span with
10 attributes, for the payment spec of ``tests/specdirs/payspans`` (authorize then
capture or void; 1% of captures exceed the authorization: violations).

    python bench/otlp.py [--batches 200] [--inflight 8] [--repeat 1] [--no-grpc]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import time
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.engine import EngineConfig  # noqa: E402
from monitor.pipeline import Pipeline  # noqa: E402
from monitor.sources.ingest import SpanIngest  # noqa: E402
from monitor.sources.otlp_grpc import OtlpGrpcReceiver  # noqa: E402
from monitor.sources.otlp_http import OtlpHttpReceiver  # noqa: E402
from monitor.specdir import load_specdir  # noqa: E402

SPEC = ROOT / "tests" / "specdirs" / "payspans"
BATCH = 512
T0 = 1_764_000_000 * 10**9

CLIENT = """
import asyncio, sys, time, pickle
import aiohttp
batches = pickle.load(sys.stdin.buffer)
url, inflight = sys.argv[1], int(sys.argv[2])
async def main():
    queue = list(reversed(batches)); retries = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=inflight)) as s:
        async def worker():
            nonlocal retries
            while queue:
                body = queue.pop()
                while True:
                    async with s.post(url, data=body, headers={
                            'Content-Type': 'application/x-protobuf'}) as r:
                        await r.read()
                        if r.status == 200:
                            break
                        retries += 1
                        await asyncio.sleep(float(r.headers.get('Retry-After', '1')))
        t0 = time.time()
        await asyncio.gather(*(worker() for _ in range(inflight)))
        print(t0, time.time(), retries)
asyncio.run(main())
"""

GRPC_CLIENT = """
import asyncio, sys, time, pickle
import grpc
batches = pickle.load(sys.stdin.buffer)
target, inflight = sys.argv[1], int(sys.argv[2])
async def main():
    queue = list(reversed(batches)); retries = 0
    async with grpc.aio.insecure_channel(target) as ch:
        call = ch.unary_unary('/opentelemetry.proto.collector.trace.v1.TraceService/Export')
        async def worker():
            nonlocal retries
            while queue:
                body = queue.pop()
                while True:
                    try:
                        await call(body); break
                    except grpc.aio.AioRpcError as e:
                        if e.code() != grpc.StatusCode.UNAVAILABLE: raise
                        retries += 1; await asyncio.sleep(1)
        t0 = time.time()
        await asyncio.gather(*(worker() for _ in range(inflight)))
        print(t0, time.time(), retries)
asyncio.run(main())
"""


def _kv(key: str, value: object) -> KeyValue:
    if isinstance(value, str):
        return KeyValue(key=key, value=AnyValue(string_value=value))
    return KeyValue(key=key, value=AnyValue(int_value=int(value)))  # type: ignore[call-overload]


def make_batches(n: int, seed: int = 7) -> tuple[list[bytes], int]:
    """Pre-encoded requests; each payment's spans come in order, payments interleaved.
    Returns the batches and how many captures exceed their authorization."""
    rng = random.Random(seed)
    steps: list[tuple[str, str, int]] = []
    bad = 0
    pid = 0
    while len(steps) < n * BATCH:
        pid += 1
        amount = rng.choice((100, 250))
        steps.append(("payment.authorize", f"p-{pid}", amount))
        if rng.random() < 0.1:
            steps.append(("payment.void", f"p-{pid}", 0))
        elif rng.random() < 0.01:
            steps.append(("payment.capture", f"p-{pid}", amount + 50))
            bad += 1
        else:
            steps.append(("payment.capture", f"p-{pid}", rng.choice((50, 100))))
    steps = steps[: n * BATCH]
    out = []
    for b in range(n):
        spans = []
        for i, (name, payment, amount) in enumerate(steps[b * BATCH:(b + 1) * BATCH]):
            t = T0 + (b * BATCH + i) * 1_000_000
            attrs = [_kv("payment.id", payment), _kv("payment.amount", amount),
                     _kv("http.method", "POST"), _kv("http.route", "/payments/{id}"),
                     _kv("http.status_code", 200), _kv("net.peer.name", "10.1.2.3"),
                     _kv("customer.tier", "gold"), _kv("region", "eu-west-1"),
                     _kv("retry", 0), _kv("app.version", "1.4.2")]
            spans.append(Span(trace_id=rng.randbytes(16), span_id=rng.randbytes(8), name=name,
                              kind=Span.SPAN_KIND_SERVER, start_time_unix_nano=t,
                              end_time_unix_nano=t + 500_000, attributes=attrs))
        req = ExportTraceServiceRequest(resource_spans=[ResourceSpans(
            resource={"attributes": [_kv("service.name", "payments")]},
            scope_spans=[ScopeSpans(scope={"name": "payments-lib"}, spans=spans)])])
        out.append(req.SerializeToString())
    # a capture past the last batch boundary still counts: bad is an upper bound only
    # when the cut removed its authorize, which the generator never does (pairs are whole)
    return out, bad


def pipeline() -> Pipeline:
    return Pipeline(load_specdir(SPEC), EngineConfig())


def in_process(batches: list[bytes], stage: str) -> tuple[float, int]:
    """(spans/s, violations) of parse / map / in-process on the same batches."""
    pipe = pipeline()
    mapper = pipe.spans_mapper()
    parse = ExportTraceServiceRequest.FromString
    found = 0
    t0 = time.perf_counter()
    for body in batches:
        req = parse(body)
        if stage == "parse":
            continue
        batch = mapper.map_request(req, None)
        if stage == "map":
            continue
        found += len(pipe.apply(batch.events))
    if stage == "in-process":
        found += len(pipe.engine.flush())
    return len(batches) * BATCH / (time.perf_counter() - t0), found


async def through(batches: list[bytes], transport: str, inflight: int) -> tuple[float, int, int]:
    """(spans/s, violations, client retries) through a real receiver on loopback."""
    import pickle

    pipe = pipeline()
    found: list[object] = []
    ingest = SpanIngest(pipe, on_report=found.append, tick_s=None)
    receiver = (OtlpHttpReceiver(ingest, port=0) if transport == "http"
                else OtlpGrpcReceiver(ingest, port=0))
    await ingest.start()
    await receiver.start()
    target = receiver.endpoint
    code = CLIENT if transport == "http" else GRPC_CLIENT
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, target, str(inflight),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out, _ = await proc.communicate(pickle.dumps(batches))
    await ingest.drained()
    done = time.time()
    await receiver.stop()
    await ingest.stop()
    t_start, _t_sent, retries = out.split()
    found.extend(pipe.engine.flush())
    return len(batches) * BATCH / (done - float(t_start)), len(found), int(retries)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batches", type=int, default=200)
    ap.add_argument("--inflight", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=1, help="best of N runs per contender")
    ap.add_argument("--no-grpc", action="store_true")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args()

    batches, bad = make_batches(args.batches)
    contenders = ["parse", "map", "in-process", "otlp/http"] + ([] if args.no_grpc else
                                                                 ["otlp/grpc"])
    best: dict[str, dict[str, float]] = {}
    for _ in range(args.repeat):
        for name in contenders:
            if name.startswith("otlp/"):
                rate, found, retries = asyncio.run(through(batches, name[5:], args.inflight))
            else:
                (rate, found), retries = in_process(batches, name), 0
            if name not in best or rate > best[name]["rate"]:
                best[name] = {"rate": rate, "violations": found, "retries": retries}
    if args.json:
        print(json.dumps(best))
        return 0
    base = best["parse"]["rate"]
    print(f"\n{args.batches} batches x {BATCH} spans (10 attributes each), {args.inflight} "
          f"requests in flight; {bad} captures over their authorization\n")
    print("| contender | spans/s | vs parse-only | violations | client retries |")
    print("|---|---:|---:|---:|---:|")
    for name in contenders:
        r = best[name]
        v = "" if name in ("parse", "map") else int(r["violations"])
        print(f"| {name} | {r['rate']:,.0f} | {r['rate'] / base:.2f}x | {v} | "
              f"{int(r['retries'])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

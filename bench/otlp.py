"""OTLP receiver benchmark: spans/s through the OTLP/HTTP (and gRPC) receiver into the
engine, against baselines measured in the same run on the same pre-encoded batches
(machines here are noisy, so only ratios are meaningful):

  parse        ``ExportTraceServiceRequest.FromString`` of every batch (the floor)
  map          parse + ``SpanMapper.map_request`` (no engine)
  in-process   parse + map + engine (what a receiver could reach with free I/O)

The main figure is spans per CPU-second of the monitor's process (all its threads;
the client's CPU is not counted): on a shared machine it measures the monitor's cost,
where wall-clock rates also measure the neighbours. Wall-clock spans/s are shown too.
  otlp/http (no rule matches)  the receiver's own cost: the same traffic with a
               mapping that selects none of the spans (HTTP, parse, a dict lookup a span)
  otlp/http    an aiohttp client in another process POSTs the batches (protobuf,
               ``--inflight`` requests at a time) to the receiver on 127.0.0.1; timed
               from the client's first send until the engine has applied every event
  otlp/http (JSON bodies)  the same batches as OTLP JSON (hex ids, ~2.5x the bytes)
  otlp/grpc    the same through the gRPC receiver (grpc.aio client, raw bytes)

Spans: ``--batches`` batches of 512 spans (the SDK's default batch size), each span with
10 attributes, for the payment spec's ``spans:`` section (``specs/payment``) (authorize then
capture or void; 1% of captures exceed the authorization: violations).

    python bench/otlp.py [--batches 200] [--inflight 8] [--repeat 1] [--no-grpc]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import pickle
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from google.protobuf import json_format
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

SPEC = ROOT / "specs" / "payment"
BATCH = 512
T0 = 1_764_000_000 * 10**9

CLIENT = """
import asyncio, sys, time, pickle
import aiohttp
url, inflight = sys.argv[1], int(sys.argv[2])
batches = pickle.load(open(sys.argv[3], 'rb'))
async def main():
    queue = list(reversed(batches)); retries = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=inflight)) as s:
        async def worker():
            nonlocal retries
            while queue:
                body = queue.pop()
                while True:
                    async with s.post(url, data=body, headers={
                            'Content-Type': sys.argv[4]}) as r:
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
target, inflight = sys.argv[1], int(sys.argv[2])
batches = pickle.load(open(sys.argv[3], 'rb'))
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
    """Pre-encoded requests; each payment's spans in order, payments interleaved.
    Returns the batches and how many captures in them exceed their authorization."""
    rng = random.Random(seed)
    steps: list[tuple[str, str, int, bool]] = []  # (span name, payment, amount, violates)
    pid = 0
    while len(steps) < n * BATCH:
        pid += 1
        amount = rng.choice((100, 250))
        steps.append(("payment.authorize", f"p-{pid}", amount, False))
        if rng.random() < 0.1:
            steps.append(("payment.void", f"p-{pid}", 0, False))
        elif rng.random() < 0.01:
            steps.append(("payment.capture", f"p-{pid}", amount + 50, True))
        else:
            steps.append(("payment.capture", f"p-{pid}", rng.choice((50, 100)), False))
    steps = steps[: n * BATCH]
    out = []
    for b in range(n):
        spans = []
        for i, (name, payment, amount, _) in enumerate(steps[b * BATCH:(b + 1) * BATCH]):
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
    return out, sum(bad for *_, bad in steps)


def to_otlp_json(body: bytes) -> bytes:
    """OTLP JSON of a protobuf request: hex ids (protobuf's own JSON would write base64),
    lowerCamelCase keys, int64 as strings, enums as integers."""
    doc = json_format.MessageToDict(ExportTraceServiceRequest.FromString(body),
                                    use_integers_for_enums=True)
    for rs in doc.get("resourceSpans", ()):
        for ss in rs.get("scopeSpans", ()):
            for span in ss.get("spans", ()):
                for k in ("traceId", "spanId", "parentSpanId"):
                    if k in span:
                        span[k] = base64.b64decode(span[k]).hex()
    return json.dumps(doc).encode()


def pipeline(spec: Path = SPEC) -> Pipeline:
    return Pipeline(load_specdir(spec), EngineConfig())


def no_match_spec(tmp: Path) -> Path:
    """The payment spec with a mapping that selects none of the spans."""
    (tmp / "spec.py").write_text((SPEC / "spec.py").read_text())
    (tmp / "mapping.yaml").write_text("spans:\n  key: payment.id\n  rules:\n"
                                      "    - when: {name: never.seen}\n      action: void\n")
    return tmp


class Result(NamedTuple):
    cpu_rate: float    # spans per CPU-second of the monitor's process (all its threads)
    wall_rate: float   # spans per wall-clock second
    violations: int
    retries: int       # client retries after 503 / UNAVAILABLE


def in_process(batches: list[bytes], stage: str) -> Result:
    """parse / map / in-process on the same batches, in this process."""
    pipe = pipeline()
    mapper = pipe.spans_mapper()
    parse = ExportTraceServiceRequest.FromString
    found = 0
    t0, c0 = time.perf_counter(), time.process_time()
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
    n = len(batches) * BATCH
    return Result(n / (time.process_time() - c0), n / (time.perf_counter() - t0), found, 0)


async def through(batches_file: Path, n: int, transport: str, inflight: int,
                  spec: Path = SPEC) -> Result:
    """Through a real receiver on loopback, the client in another process. Wall time
    runs from the client's first send until the engine has applied every event; CPU
    time is this process's own."""
    pipe = pipeline(spec)
    found: list[object] = []
    ingest = SpanIngest(pipe, on_report=found.append, tick_s=None)
    receiver = (OtlpHttpReceiver(ingest, port=0) if transport == "http"
                else OtlpGrpcReceiver(ingest, port=0))
    await ingest.start()
    await receiver.start()
    code = CLIENT if transport == "http" else GRPC_CLIENT
    ctype = "application/json" if batches_file.suffix == ".json" else "application/x-protobuf"
    c0 = time.process_time()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, receiver.endpoint, str(inflight), str(batches_file), ctype,
        stdout=subprocess.PIPE)
    out, _ = await proc.communicate()
    await ingest.drained()
    done, cpu = time.time(), time.process_time() - c0
    await receiver.stop()
    await ingest.stop()
    if proc.returncode:
        raise RuntimeError(f"the {transport} client failed with exit code {proc.returncode}")
    t_start, _t_sent, retries = out.split()
    found.extend(pipe.engine.flush())
    return Result(n * BATCH / cpu, n * BATCH / (done - float(t_start)), len(found), int(retries))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batches", type=int, default=200)
    ap.add_argument("--inflight", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=1, help="best of N runs per contender")
    ap.add_argument("--no-grpc", action="store_true")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args()

    batches, bad = make_batches(args.batches)
    contenders = ["parse", "map", "in-process", "otlp/http (no rule matches)", "otlp/http",
                  "otlp/http (JSON bodies)"]
    contenders += [] if args.no_grpc else ["otlp/grpc"]
    best: dict[str, Result] = {}
    tmp = Path(tempfile.mkdtemp(prefix="specmon-bench-"))
    batches_file = tmp / "batches.pickle"
    batches_file.write_bytes(pickle.dumps(batches))
    json_file = tmp / "batches.json"  # the same batches as OTLP JSON (a pickled list)
    json_file.write_bytes(pickle.dumps([to_otlp_json(b) for b in batches]))
    for _ in range(args.repeat):
        for name in contenders:
            if name.startswith("otlp/"):
                transport, _, variant = name[5:].partition(" ")
                spec = no_match_spec(tmp) if "no rule" in variant else SPEC
                source = json_file if "JSON" in variant else batches_file
                r = asyncio.run(through(source, len(batches), transport, args.inflight, spec))
            else:
                r = in_process(batches, name)
            if name not in best or r.cpu_rate > best[name].cpu_rate:
                best[name] = r
    if args.json:
        print(json.dumps({k: v._asdict() for k, v in best.items()}))
        return 0
    base = best["parse"].cpu_rate
    print(f"\n{args.batches} batches x {BATCH} spans (10 attributes each), {args.inflight} "
          f"requests in flight; {bad} captures over their authorization\n")
    print("| contender | spans per CPU-second | vs parse-only | spans/s (wall) | violations "
          "| client retries |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in contenders:
        r = best[name]
        v = "" if name in ("parse", "map") or "no rule" in name else r.violations
        print(f"| {name} | {r.cpu_rate:,.0f} | {r.cpu_rate / base:.2f}x | {r.wall_rate:,.0f} "
              f"| {v} | {r.retries} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

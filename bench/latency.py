"""Event-to-violation-metric latency of ``specmon run`` under sustained load.

A client process sends pre-encoded OTLP/HTTP requests (512 spans each, the SDK's batch
size; payments of ``specs/payment``'s ``spans:`` section, every one legal) over one
keep-alive connection on 127.0.0.1, paced to a fixed rate (open loop: each request is
due at ``start + k * 512 / rate``). Every 10th request also carries a *probe*: a payment
authorized for 100 and captured for 250, one ``unexpected capture`` violation. A scraper
polls the daemon's ``/metrics`` every 50 ms; a probe's latency is from the moment its
request was *due* (so a client that falls behind counts against the monitor) until the
first scrape whose ``specmon_violations_total{property="capture"}`` counts it.

Baseline, same run, same client, same rate: a no-op OTLP/HTTP server (aiohttp, reads the
body, answers 200): its request round trip is the floor of the transport.

Reported per rate: probe latency p50/p99 (resolution: the 50 ms scrape interval), the
request round trip p50/p99 against the no-op server's, the rate achieved, requests
refused (503), the daemon's CPU (cores used over the run; spans per CPU-second, the
figure a shared machine does not distort) and peak RSS, and the daemon's
own ``specmon_event_to_verdict_seconds`` p50/p99 (queue + engine, bucket bounds).

The engine runs with ``allowed_lateness: 0`` so the figure is the pipeline's own latency:
with a reorder window, a verdict waits that long in event time by design. Event times
run one hour ahead of the wall clock so idle ticks never move the watermark past them.

    python bench/latency.py [--rates 20000 50000] [--seconds 15]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.stack import (  # noqa: E402
    admin_url,
    free_port,
    get,
    start_daemon,
    wait_for,
)

BATCH = 512
PROBE_EVERY = 10
SCRAPE_S = 0.05
PROBE_SERIES = re.compile(
    rb'^specmon_violations_total\{kind="unexpected",property="capture",spec="payment"\} (\S+)',
    re.M)

CLIENT = r"""
import http.client, pickle, sys, time
port, rate, path = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
batches = pickle.load(open(path, 'rb'))
conn = http.client.HTTPConnection('127.0.0.1', port)
headers = {'Content-Type': 'application/x-protobuf'}
interval = 512 / rate
out = []  # (due, sent, answered, status)
start = time.time() + 0.2
for k, body in enumerate(batches):
    due = start + k * interval
    pause = due - time.time()
    if pause > 0:
        time.sleep(pause)
    while True:
        sent = time.time()
        conn.request('POST', '/v1/traces', body, headers)
        resp = conn.getresponse(); resp.read()
        if resp.status != 503:
            break
        out.append((due, sent, time.time(), 503))
        time.sleep(float(resp.getheader('Retry-After', '1')))
    out.append((due, sent, time.time(), resp.status))
print(repr(out))
"""

NOOP = r"""
import sys
from aiohttp import web
async def traces(request):
    await request.read()
    return web.Response(body=b'', content_type='application/x-protobuf')
app = web.Application(client_max_size=64 << 20)
app.router.add_post('/v1/traces', traces)
web.run_app(app, host='127.0.0.1', port=int(sys.argv[1]), print=None, access_log=None)
"""


def _kv(key: str, value: object) -> KeyValue:
    if isinstance(value, str):
        return KeyValue(key=key, value=AnyValue(string_value=value))
    return KeyValue(key=key, value=AnyValue(int_value=int(value)))  # type: ignore[call-overload]


def make_batches(n: int, seed: int = 11) -> list[bytes]:
    """``n`` requests of 512 legal payment spans; every PROBE_EVERY-th one ends with a
    violating probe pair. Event times 1 ms apart, starting one hour from now."""
    rng = random.Random(seed)
    t0 = (int(time.time()) + 3600) * 10**9
    out, pid, t = [], 0, t0
    for b in range(n):
        steps: list[tuple[str, str, int]] = []
        probe = b % PROBE_EVERY == PROBE_EVERY - 1
        while len(steps) < BATCH - (2 if probe else 0):
            pid += 1
            amount = rng.choice((100, 250))
            steps.append(("payment.authorize", f"p-{pid}", amount))
            steps.append(("payment.capture", f"p-{pid}", rng.choice((50, 100))))
        steps = steps[:BATCH - (2 if probe else 0)]
        if probe:
            steps += [("payment.authorize", f"probe-{b}", 100),
                      ("payment.capture", f"probe-{b}", 250)]
        spans = []
        for name, payment, amount in steps:
            t += 1_000_000
            spans.append(Span(trace_id=rng.randbytes(16), span_id=rng.randbytes(8), name=name,
                              kind=Span.SPAN_KIND_SERVER, start_time_unix_nano=t - 500_000,
                              end_time_unix_nano=t, attributes=[
                                  _kv("payment.id", payment), _kv("payment.amount", amount),
                                  _kv("http.route", "/payments/{id}"), _kv("region", "eu")]))
        out.append(ExportTraceServiceRequest(resource_spans=[ResourceSpans(
            resource={"attributes": [_kv("service.name", "payments")]},
            scope_spans=[ScopeSpans(spans=spans)])]).SerializeToString())
    return out


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks


def peak_rss_mb(pid: int) -> float:
    m = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(m.group(1)) / 1024 if m else float("nan")


def run_client(port: int, rate: float, batches_file: str) -> list[tuple]:
    done = subprocess.run([sys.executable, "-c", CLIENT, str(port), str(rate), batches_file],
                          capture_output=True, text=True, check=True)
    return eval(done.stdout)  # noqa: S307 - our own client's repr of a list of tuples


def scrape_loop(admin: str, stop: threading.Event, samples: list) -> None:
    while not stop.is_set():
        t = time.time()
        m = PROBE_SERIES.search(get(f"{admin}/metrics"))
        samples.append((time.time(), float(m.group(1)) if m else 0.0))
        stop.wait(max(0.0, SCRAPE_S - (time.time() - t)))


def verdict_quantiles(admin: str) -> tuple[float, float]:
    text = get(f"{admin}/metrics").decode()
    buckets = [(float(le), float(v)) for le, v in re.findall(
        r'^specmon_event_to_verdict_seconds_bucket\{le="([^"]+)"\} (\S+)', text, re.M)]
    total = buckets[-1][1]

    def q(x: float) -> float:
        return next(le for le, v in buckets if v >= x * total)
    return q(0.5), q(0.99)


def bench_specmon(rate: float, batches_file: str, n: int, workdir: Path) -> dict:
    daemon = start_daemon(workdir, ROOT / "specs" / "payment",
                          env={"SPECMON_ENGINE_LATENESS": "0s"})
    admin = admin_url(daemon)
    try:
        pid = daemon.proc.pid
        stop, samples = threading.Event(), []
        scraper = threading.Thread(target=scrape_loop, args=(admin, stop, samples))
        cpu0, t0 = cpu_seconds(pid), time.time()
        scraper.start()
        reqs = run_client(daemon.http_port, rate, batches_file)
        probes = n // PROBE_EVERY
        wait_for(lambda: samples and samples[-1][1] >= probes, 30, "every probe counted")
        stop.set()
        scraper.join()
        cpu, wall = cpu_seconds(pid) - cpu0, time.time() - t0
        rss = peak_rss_mb(pid)
        v50, v99 = verdict_quantiles(admin)
    finally:
        daemon.terminate()
        daemon.close()
    ok = [r for r in reqs if r[3] == 200]
    dues = [r[0] for r in ok][PROBE_EVERY - 1::PROBE_EVERY]
    latencies = []
    for j, due in enumerate(dues, start=1):
        seen = next(t for t, v in samples if v >= j)
        latencies.append(seen - due)
    span = ok[-1][2] - ok[0][1]
    return {"rate": rate, "achieved": len(ok) * BATCH / span, "refused": len(reqs) - len(ok),
            "probe_p50": pct(latencies, 0.5), "probe_p99": pct(latencies, 0.99),
            "rtt_p50": pct([r[2] - r[1] for r in ok], 0.5),
            "rtt_p99": pct([r[2] - r[1] for r in ok], 0.99),
            "behind_max": max(r[1] - r[0] for r in ok),
            "cpu_cores": cpu / wall, "per_cpu_s": len(ok) * BATCH / cpu, "rss_mb": rss, "verdict_p50": v50, "verdict_p99": v99,
            "probes": len(latencies)}


def bench_noop(rate: float, batches_file: str) -> dict:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", NOOP, str(port)])
    try:
        _wait_port(port)
        reqs = run_client(port, rate, batches_file)
    finally:
        server.terminate()
        server.wait()
    rtts = [r[2] - r[1] for r in reqs]
    return {"rtt_p50": pct(rtts, 0.5), "rtt_p99": pct(rtts, 0.99)}


def _wait_port(port: int) -> None:
    import socket

    def up() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0
    wait_for(up, 10, "no-op server")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rates", type=float, nargs="+", default=[20_000, 50_000])
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--json", action="store_true", help="results as JSON")
    args = ap.parse_args()
    rows = []
    for rate in args.rates:
        n = max(PROBE_EVERY, int(rate * args.seconds / BATCH))
        with tempfile.TemporaryDirectory() as tmp:
            batches = Path(tmp) / "batches.pickle"
            batches.write_bytes(pickle.dumps(make_batches(n)))
            base = bench_noop(rate, str(batches))
            row = bench_specmon(rate, str(batches), n, Path(tmp) / "daemon")
        row["noop_rtt_p50"], row["noop_rtt_p99"] = base["rtt_p50"], base["rtt_p99"]
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"load average at the end: {' '.join(load)} on {os.cpu_count()} cores\n")
    print("| events/s (target) | achieved | event-to-violation-metric p50 / p99 | "
          "request round trip p50 / p99 | no-op server round trip p50 / p99 | "
          "in-daemon queue+engine p50 / p99 | daemon CPU (cores) | spans per daemon CPU-second | "
          "peak RSS |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['rate']:,.0f} | {r['achieved']:,.0f} | "
              f"{r['probe_p50'] * 1e3:,.0f} / {r['probe_p99'] * 1e3:,.0f} ms | "
              f"{r['rtt_p50'] * 1e3:.1f} / {r['rtt_p99'] * 1e3:.1f} ms | "
              f"{r['noop_rtt_p50'] * 1e3:.1f} / {r['noop_rtt_p99'] * 1e3:.1f} ms | "
              f"≤{r['verdict_p50'] * 1e3:g} / ≤{r['verdict_p99'] * 1e3:g} ms | "
              f"{r['cpu_cores']:.2f} | {r['per_cpu_s']:,.0f} | {r['rss_mb']:,.0f} MB |")


if __name__ == "__main__":
    main()

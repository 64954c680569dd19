"""A real monitor for the tests: SpanIngest + the OTLP/HTTP and OTLP/gRPC receivers on
127.0.0.1 (ephemeral ports) in an asyncio loop on a thread of its own, so the tests can
drive it with blocking clients (the SDK exporters, http.client, a grpc channel)."""

from __future__ import annotations

import asyncio
import http.client
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.engine import EngineConfig
from monitor.pipeline import Pipeline
from monitor.sources.ingest import SpanIngest
from monitor.sources.otlp_grpc import OtlpGrpcReceiver
from monitor.sources.otlp_http import OtlpHttpReceiver
from monitor.specdir import load_specdir

ORDERS = Path(__file__).parent / "orders"
#: verdicts right away: no reorder window, a spec that starts with `place`
STRICT = EngineConfig(allowed_lateness=0.0, late_join="strict")


class RunningMonitor:
    def __init__(self, specdir: Path = ORDERS, *, config: EngineConfig = STRICT,
                 max_events: int = 10_000, max_body: int = 1 << 20, consume: bool = True,
                 overload_status: int = 503, retry_after_s: float = 1.0,
                 max_reading: int = 8) -> None:
        self.pipeline = Pipeline(load_specdir(specdir), config)
        self.reports: list[Any] = []
        self.ingest = SpanIngest(self.pipeline, max_events=max_events, tick_s=None,
                                 retry_after_s=retry_after_s, on_report=self.reports.append)
        self.http = OtlpHttpReceiver(self.ingest, port=0, max_body=max_body,
                                     overload_status=overload_status, max_reading=max_reading)
        self.grpc = OtlpGrpcReceiver(self.ingest, port=0, max_body=max_body)
        self.consume = consume
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> RunningMonitor:
        self._thread.start()
        self.run(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.run(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()

    async def _start(self) -> None:
        if self.consume:
            await self.ingest.start()
        await self.http.start()
        await self.grpc.start()

    async def _stop(self) -> None:
        await self.grpc.stop(grace=None)
        await self.http.stop()
        await self.ingest.stop()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 20) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the monitor's loop (the engine is single-threaded)."""
        async def go() -> Any:
            return fn()
        return self.run(go())

    def start_consumer(self) -> None:
        self.run(self.ingest.start())

    def drained(self) -> None:
        """Every event accepted so far has been applied to the engine."""
        self.run(self.ingest.drained())

    def wait_until(self, cond: Callable[[], bool], timeout: float = 20) -> None:
        """Wait for ``cond`` (read on the monitor's loop) to hold; fail at the deadline."""
        async def poll() -> None:
            async with asyncio.timeout(timeout):
                while not cond():
                    await asyncio.sleep(0.005)
        self.run(poll(), timeout + 1)

    def export_after_refusal(self, exporter: Any, spans: list[Any],
                             refused: Callable[[], bool]) -> Any:
        """With the consumer stopped and the queue full: export on another thread, wait
        until the receiver has refused it (``refused``), start the consumer, and return
        the exporter's result once its retries are over."""
        results: list[Any] = []
        sender = threading.Thread(target=lambda: results.append(exporter.export(spans)))
        sender.start()
        self.wait_until(refused)
        self.start_consumer()
        sender.join(30)
        exporter.shutdown()
        self.drained()
        return results[0] if results else None

    def post(self, body: bytes, content_type: str = "application/x-protobuf", *,
             method: str = "POST", path: str = "/v1/traces",
             headers: dict[str, str] | None = None) -> Answer:
        conn = http.client.HTTPConnection("127.0.0.1", self.http.port, timeout=20)
        try:
            conn.request(method, path, body=body,
                         headers={"Content-Type": content_type, **(headers or {})})
            resp = conn.getresponse()
            return Answer(resp.status, dict(resp.getheaders()), resp.read())
        finally:
            conn.close()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

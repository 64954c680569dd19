"""Violation reports POSTed to an HTTP webhook (aiohttp client), one report per request.

``put`` never blocks the consumer: reports wait in a bounded queue (``queue``, default
1000; when full the oldest is dropped and counted in ``stats["dropped"]``) and one
sender task posts them in order. A failed post (connection error, timeout, 5xx, 429) is
retried ``retries`` times with exponential backoff (0.5 s, 1 s, 2 s ... capped at 30 s);
then the report is dropped and counted. 4xx other than 429 is not retried.

With ``alertmanager: true`` the body is Alertmanager's ``POST /api/v2/alerts`` payload::

    [{"labels": {"alertname": "SpecViolation", "spec": ..., "kind": ..., "property": ...,
                 "key": ...},
      "annotations": {"summary": ..., "description": ..., "trace_id": ...},
      "startsAt": "2026-11-25T17:02:03.412Z"}]

so specmon can alert without Prometheus in between (Alertmanager groups and dedups
by labels, which also absorbs the repeats of an at-least-once delivery).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Any

import msgspec

from monitor.config import WebhookSink
from monitor.sinks.logs import log
from monitor.sources.ingest import cancel_and_wait

__all__ = ["Webhook", "alertmanager_payload"]

_log = logging.getLogger("specmon.webhook")
_MAX_BACKOFF = 30.0


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


def alertmanager_payload(report: Any) -> bytes:
    kind = getattr(report, "kind", "spec_error")
    prop = getattr(report, "property", None) or getattr(report, "where", "")
    annotations = {"summary": f"{report.spec}: {kind} {prop} for key {report.key}",
                   "description": report.message}
    trace_id = getattr(report, "trace_id", None)
    if trace_id:
        annotations["trace_id"] = trace_id
    labels = {"alertname": "SpecViolation", "spec": report.spec, "kind": kind,
              "property": prop, "key": report.key}
    return msgspec.json.encode([{"labels": labels, "annotations": annotations,
                                 "startsAt": _iso(report.time)}])


class Webhook:
    def __init__(self, cfg: WebhookSink, *, backoff_s: float = 0.5) -> None:
        self.cfg = cfg
        self.backoff_s = backoff_s
        self.stats = {"sent": 0, "failed_attempts": 0, "dropped": 0, "queued": 0}
        self._queue: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: Any = None
        self._drained = asyncio.Event()  # set: nothing queued or being sent
        self._drained.set()

    async def start(self) -> None:
        import aiohttp

        headers = {"Content-Type": "application/json", **self.cfg.headers}
        self._session = aiohttp.ClientSession(
            headers=headers, timeout=aiohttp.ClientTimeout(total=self.cfg.timeout))
        self._task = asyncio.get_running_loop().create_task(self._send_loop(),
                                                            name="specmon-webhook")

    def put(self, report: Any, line: bytes) -> None:
        if len(self._queue) >= self.cfg.queue:
            self._queue.popleft()
            self.stats["dropped"] += 1
        self._queue.append(alertmanager_payload(report) if self.cfg.alertmanager else line)
        self.stats["queued"] = len(self._queue)
        self._drained.clear()
        self._wake.set()

    async def stop(self, timeout: float = 5.0) -> None:
        """Send what is queued (at most ``timeout`` seconds), then close."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained.wait(), timeout)
        await cancel_and_wait(self._task)
        self._task = None
        self.stats["dropped"] += len(self._queue)
        self._queue.clear()
        await self._session.close()

    async def _send_loop(self) -> None:
        while True:
            if not self._queue:
                self._drained.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            body = self._queue.popleft()
            self.stats["queued"] = len(self._queue)
            await self._deliver(body)

    async def _deliver(self, body: bytes) -> None:
        import aiohttp

        delay = self.backoff_s
        for attempt in range(self.cfg.retries + 1):
            try:
                async with self._session.post(self.cfg.url, data=body) as resp:
                    if resp.status < 300:
                        self.stats["sent"] += 1
                        return
                    retriable = resp.status == 429 or resp.status >= 500
                    error = f"HTTP {resp.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                retriable, error = True, f"{type(exc).__name__}: {exc}"
            self.stats["failed_attempts"] += 1
            if not retriable or attempt == self.cfg.retries:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_BACKOFF)
        self.stats["dropped"] += 1
        log(_log, logging.WARNING, "webhook delivery failed", url=self.cfg.url, error=error,
            attempts=attempt + 1)

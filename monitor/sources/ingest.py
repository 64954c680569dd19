"""Between the OTLP receivers and the engine: map each request at once, queue its
events (bounded), apply them to the pipeline from one consumer task.

    receivers (HTTP, gRPC) --submit(req)--> map --> bounded queue --consumer--> Pipeline
                                   |                     |                         |
                      SpanBatch (partial_success)   Overloaded when full      on_report(r)

Why map synchronously: the OTLP response carries ``partial_success.rejected_spans``, so the
receiver must know which spans failed mapping before it answers. Why queue afterwards: the
engine step is the expensive part, and a bounded queue in front of it is where
backpressure comes from (the OTLP clients retry 429/503/UNAVAILABLE after Retry-After).

The queue is bounded in *events*: a request is admitted only when its events fit under
``max_events``; otherwise nothing of it is queued and ``Overloaded`` is raised, so the
client retries the whole request. One exception keeps the monitor live: a single
request larger than the whole limit is admitted into an *empty* queue (its memory is
already bounded by the receiver's body cap). So ``depth <= max(max_events, largest
request)`` always, and ``depth <= max_events`` whenever requests are smaller than it.

Everything runs in one asyncio loop (the engine is single-threaded): ``submit`` is called
from the receivers' handlers, the consumer is a task of the same loop. When input is
idle the consumer advances the engine's watermark with the wall clock every
``tick_s`` so ``within`` deadlines fire without traffic (DESIGN.md, semantics 8).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import msgspec

from monitor.errors import SpecmonError
from monitor.pipeline import Pipeline, Report

__all__ = ["IngestStats", "OtlpOrigin", "Overloaded", "Service", "SpanIngest", "cancel_and_wait"]

#: default queue limit in events: 128 OTLP batches of 512 spans (the SDK's batch size);
#: a mapped span event costs ~615 B queued (measured: key, ids, trace id, record), so
#: ~40 MB at the limit
DEFAULT_MAX_EVENTS = 65_536


class OtlpOrigin(msgspec.Struct, frozen=True, gc=False):
    """Where a span arrived from; shows up as ``origin`` in violation reports."""

    transport: str  # otlp_http | otlp_grpc | sdk
    peer: str | None = None


class Overloaded(SpecmonError):
    """The ingest queue is full: nothing of the request was queued. Retriable: the
    client should send the same request again after ``retry_after_s``."""

    retriable = True

    def __init__(self, retry_after_s: float, depth: int, limit: int) -> None:
        super().__init__(f"span queue full ({depth} of {limit} events queued); "
                         f"retry after {retry_after_s:g}s")
        self.retry_after_s = retry_after_s

    @property
    def retry_after_header(self) -> str:
        """Retry-After takes whole seconds (RFC 9110 delay-seconds)."""
        return str(max(1, math.ceil(self.retry_after_s)))


class IngestStats(msgspec.Struct, kw_only=True):
    """Counters of one ``SpanIngest``, readable at any time (metrics read them)."""

    requests: int = 0          # requests admitted
    spans: int = 0             # spans in admitted requests
    accepted_events: int = 0   # mapped events queued for the engine
    applied_events: int = 0    # events handed to the engine so far
    rejected_spans: int = 0    # spans that failed mapping (partial_success)
    unmatched_spans: int = 0   # spans matching no rule (not an error)
    overloaded: int = 0        # requests refused with Overloaded
    depth: int = 0             # events queued now
    max_depth: int = 0         # highest depth seen
    limit: int = 0             # the queue's bound in events
    reports: int = 0           # violations and spec errors produced
    consumer_errors: int = 0   # exceptions from the engine or on_report (logged, skipped)

    def queued(self, n: int) -> None:
        """``n`` events went into the queue: its depth and highest depth."""
        self.accepted_events += n
        self.depth += n
        if self.depth > self.max_depth:
            self.max_depth = self.depth


OnReport = Callable[[Report], None]


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait until it has ended (its cancellation is not an error)."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class Service:
    """``await start()`` / ``await stop()``, or ``async with`` for both (the receivers and
    the ingest consumer; a daemon starts them in one asyncio loop)."""

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Any:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class SpanIngest(Service):
    def __init__(self, pipeline: Pipeline, *, max_events: int = DEFAULT_MAX_EVENTS,
                 retry_after_s: float = 1.0, on_report: OnReport | None = None,
                 tick_s: float | None = 1.0, clock: Callable[[], float] = time.time,
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        if max_events < 1:
            raise ValueError(f"max_events must be >= 1, got {max_events!r}")
        self.pipeline = pipeline
        self._map = pipeline.spans_mapper().map_request  # MappingError without `spans:`
        self.limit = max_events
        self.retry_after_s = retry_after_s
        self.on_report = on_report
        self.on_error = on_error
        self.tick_s = tick_s
        self.clock = clock
        self.stats = IngestStats(limit=max_events)
        self._queue: deque[list[Any]] = deque()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._idle: asyncio.Event | None = None

    # -- the receivers' side ---------------------------------------------------------

    def submit(self, req: Any, origin: Any = None) -> Any:
        """Map ``req`` (an ``ExportTraceServiceRequest``) and queue its events. Returns
        the ``SpanBatch`` (for partial_success); raises ``Overloaded`` when full."""
        st = self.stats
        if st.depth >= self.limit:  # the common overload case: refuse before mapping
            st.overloaded += 1
            raise Overloaded(self.retry_after_s, st.depth, self.limit)
        batch = self._map(req, origin)
        n = len(batch.events)
        if st.depth and st.depth + n > self.limit:
            st.overloaded += 1  # not counted by the pipeline: the client resends it
            raise Overloaded(self.retry_after_s, st.depth, self.limit)
        self.pipeline.count_spans(batch, origin)
        st.requests += 1
        st.spans += batch.spans
        st.rejected_spans += batch.rejected
        st.unmatched_spans += batch.unmatched
        if n:
            self._queue.append(batch.events)
            st.queued(n)
            if self._wake is not None:
                self._wake.set()
        return batch

    # -- the consumer ----------------------------------------------------------------

    async def start(self) -> None:
        if self._task is not None:
            return
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._consume(),
                                                            name="specmon-span-ingest")

    async def stop(self) -> None:
        """Apply what is queued, then stop the consumer."""
        if self._task is None:
            return
        await self.drained()
        await cancel_and_wait(self._task)
        self._task = None

    async def drained(self) -> None:
        """Return once every event queued so far has been applied."""
        while self._queue or self.stats.depth:
            assert self._idle is not None and self._wake is not None
            self._idle.clear()
            self._wake.set()
            await self._idle.wait()

    async def _consume(self) -> None:
        assert self._wake is not None and self._idle is not None
        wake, idle, queue, st = self._wake, self._idle, self._queue, self.stats
        while True:
            while queue:
                events = queue.popleft()
                self._run(self.pipeline.apply, events)
                st.depth -= len(events)
                st.applied_events += len(events)
                await asyncio.sleep(0)  # let the receivers answer between batches
            idle.set()
            wake.clear()
            try:
                # asyncio.timeout, not wait_for: 3.11's wait_for swallows a cancellation
                # that arrives as the event is set, and stop() then never returns
                async with asyncio.timeout(self.tick_s):
                    await wake.wait()
            except TimeoutError:
                # idle: the watermark follows the wall clock, so deadlines fire
                self._run(self.pipeline.engine.advance, self.clock())

    def _run(self, step: Callable[[Any], list[Report]], arg: Any) -> None:
        try:
            reports = step(arg)
            self.stats.reports += len(reports)
            if self.on_report is not None:
                for r in reports:
                    self.on_report(r)
        except Exception as exc:  # a bug must not stop ingestion: count, tell, go on
            self.stats.consumer_errors += 1
            if self.on_error is not None:
                self.on_error(exc)

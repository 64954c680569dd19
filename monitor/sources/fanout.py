"""One span stream, several specs: the daemon's ingest queue in front of every pipeline
whose mapping has a ``spans:`` section (``SpanIngest`` serves one pipeline; this serves
many, with the same ``submit`` the OTLP receivers call).

    receivers --submit(req)--> map for every spec --> journal (WAL) --> bounded queue
                                                                           |
                                   consumer task: apply per spec, on_report, ticks

Answers, per request:

- ``partial_success.rejected_spans`` is the sum of the specs' rejections, capped at the
  request's span count (a span two specs both reject is one rejected span to the client,
  but we cannot tell which spans overlap, so the cap is the honest bound); the error
  message is the first spec's.
- A full queue refuses the *whole* request (503/UNAVAILABLE, retried by the client): the
  queue is shared, so the request is either in every spec or in none. Admitting it for
  some specs and refusing it for others would make the client's retry a duplicate for
  the specs that had it (dedup by event id would hide most, but not events without an
  id), and would let the specs' states drift apart.

Every admitted request and every idle tick is first handed to ``journal`` (the runner's
write-ahead log, ``monitor.wal``), so a restart replays exactly what was acknowledged,
in the order it was applied: a tick moves the watermark, so its place in the log
matters as much as the events'. ``journal`` may refuse (``Overloaded``) when the log is
full; the request is then not admitted.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from monitor.engine.events import Event
from monitor.pipeline import Pipeline, Report
from monitor.sources.ingest import IngestStats, Overloaded, Service

__all__ = ["Batch", "FanoutIngest", "Target"]


@dataclass(slots=True)
class Target:
    """One spec fed by the stream."""

    name: str
    pipeline: Pipeline


@dataclass(slots=True)
class Batch:
    """The answer to one request (what the receivers read for ``partial_success``)."""

    spans: int = 0
    rejected: int = 0
    error: str | None = None
    events: int = 0


@dataclass(slots=True)
class _Item:
    parts: list[tuple[int, list[Event]]]  # (target index, events)
    n: int
    accepted: float  # monotonic seconds at admission (latency)
    position: Any = None  # the journal's position after this item


@dataclass(slots=True)
class _Tick:
    time: float
    position: Any = None


Journal = Callable[[Any], Any]  # (_Item | _Tick) -> position; may raise Overloaded
OnReport = Callable[[Target, Report], None]


@dataclass(slots=True)
class Hooks:
    """What the runner plugs into the consumer loop (all optional)."""

    journal: Journal | None = None
    on_report: OnReport | None = None
    on_applied: Callable[[float, int], None] | None = None  # (seconds since accepted, events)
    on_error: Callable[[BaseException], None] | None = None
    #: awaited between items with the last applied position (checkpoints happen here)
    between: Callable[[Any], Awaitable[None]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class FanoutIngest(Service):
    def __init__(self, targets: list[Target], *, max_events: int = 65_536,
                 retry_after_s: float = 1.0, tick_s: float | None = 1.0,
                 clock: Callable[[], float] = time.time, hooks: Hooks | None = None) -> None:
        if max_events < 1:
            raise ValueError(f"max_events must be >= 1, got {max_events!r}")
        self.targets = targets
        self._maps = [t.pipeline.spans_mapper().map_request for t in targets]
        self.limit = max_events
        self.retry_after_s = retry_after_s
        self.tick_s = tick_s
        self.clock = clock
        self.hooks = hooks or Hooks()
        self.stats = IngestStats(limit=max_events)
        #: monotonic seconds of the last applied item or idle tick (liveness)
        self.last_progress = time.monotonic()
        #: the journal position of the last applied item or tick
        self.applied_position: Any = None
        self.accepting = True
        self._stopping = False
        self._queue: deque[_Item] = deque()
        self._wake: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    # -- the receivers' side ---------------------------------------------------------

    def submit(self, req: Any, origin: Any = None) -> Batch:
        st = self.stats
        if not self.accepting or st.depth >= self.limit:
            st.overloaded += 1
            raise Overloaded(self.retry_after_s, st.depth, self.limit)
        mapped = [m(req, origin) for m in self._maps]
        n = sum(len(b.events) for b in mapped)
        if st.depth and st.depth + n > self.limit:
            st.overloaded += 1  # not counted by the pipelines: the client resends it
            raise Overloaded(self.retry_after_s, st.depth, self.limit)
        item = _Item([(i, b.events) for i, b in enumerate(mapped) if b.events], n,
                     time.monotonic())
        if n and self.hooks.journal is not None:
            item.position = self.hooks.journal(item)  # Overloaded when the log is full
        out = Batch(events=n)
        for target, b in zip(self.targets, mapped):
            target.pipeline.count_spans(b, origin)
            out.spans = max(out.spans, b.spans)
            out.rejected += b.rejected
            if out.error is None and b.error:
                out.error = b.error
        out.rejected = min(out.rejected, out.spans)
        st.requests += 1
        st.spans += out.spans
        st.rejected_spans += out.rejected
        st.unmatched_spans += min(b.unmatched for b in mapped) if mapped else 0
        if n:
            self._queue.append(item)
            st.queued(n)
            if self._wake is not None:
                self._wake.set()
        return out

    # -- the consumer ----------------------------------------------------------------

    async def start(self) -> None:
        if self._task is not None:
            return
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._stopping = False
        self.last_progress = time.monotonic()
        self._task = asyncio.get_running_loop().create_task(self._consume(),
                                                            name="specmon-fanout")

    async def stop(self) -> None:
        """Apply what is queued, then stop the consumer (it finishes the item or the
        checkpoint it is in: never cancelled halfway)."""
        if self._task is None:
            return
        assert self._wake is not None
        self._stopping = True
        self._wake.set()
        try:
            await self._task
        finally:
            self._task = None

    async def drained(self) -> None:
        """Return once every event queued so far has been applied."""
        while self._queue or self.stats.depth:
            assert self._idle is not None and self._wake is not None
            if self._task is None or self._task.done():
                raise RuntimeError("the ingest consumer is not running")
            self._idle.clear()
            self._wake.set()
            await self._idle.wait()

    async def _consume(self) -> None:
        assert self._wake is not None and self._idle is not None
        wake, idle, queue, st, hooks = self._wake, self._idle, self._queue, self.stats, self.hooks
        while True:
            while queue:
                item = queue.popleft()
                self.apply(item)
                st.depth -= item.n
                st.applied_events += item.n
                if hooks.on_applied is not None:
                    hooks.on_applied(time.monotonic() - item.accepted, item.n)
                if hooks.between is not None:
                    await hooks.between(self.applied_position)
                await asyncio.sleep(0)  # let the receivers answer between batches
            idle.set()
            if self._stopping:
                return
            wake.clear()
            try:
                # asyncio.timeout, not wait_for: 3.11's wait_for swallows a cancellation
                # that arrives as the event is set, and the task then never ends
                async with asyncio.timeout(self.tick_s):
                    await wake.wait()
            except TimeoutError:
                self.tick(self.clock())
                if hooks.between is not None:
                    await hooks.between(self.applied_position)

    def tick(self, now: float) -> None:
        """Idle: the watermark follows the wall clock, so deadlines fire (journaled
        first: a replay must move the watermark at the same place in the stream)."""
        tick = _Tick(now)
        if self.hooks.journal is not None:
            try:
                tick.position = self.hooks.journal(tick)
            except Overloaded:
                return  # log full: skip this tick; the next checkpoint frees the log
        self.apply(tick)

    def apply(self, item: _Item | _Tick) -> None:
        """Apply one journaled item (live, or replayed from the log at start-up)."""
        if isinstance(item, _Tick):
            for i, t in enumerate(self.targets):
                self._run(i, t.pipeline.engine.advance, item.time)
        else:
            for i, events in item.parts:
                self._run(i, self.targets[i].pipeline.apply, events)
        if item.position is not None:
            self.applied_position = item.position
        self.last_progress = time.monotonic()

    def _run(self, i: int, step: Callable[[Any], list[Report]], arg: Any) -> None:
        target = self.targets[i]
        try:
            reports = step(arg)
            self.stats.reports += len(reports)
            if self.hooks.on_report is not None:
                for r in reports:
                    self.hooks.on_report(target, r)
        except Exception as exc:  # a bug must not stop ingestion: count, tell, go on
            self.stats.consumer_errors += 1
            if self.hooks.on_error is not None:
                self.hooks.on_error(exc)

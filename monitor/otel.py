"""In-process monitoring for apps that embed specmon: an OpenTelemetry SDK ``SpanProcessor``.

```python
from opentelemetry.sdk.trace import TracerProvider
from monitor.otel import SpecMonitorProcessor

monitor = SpecMonitorProcessor("specs/order", on_violation=lambda v: log.error(v.message))
provider = TracerProvider()
provider.add_span_processor(monitor)
```

Contract (the SDK's, for ``on_end``: it runs on the thread that ends the span): ``on_end``
never blocks on the monitor and never raises. It only puts the span into a bounded queue
(``max_queue`` spans); when the queue is full the span is dropped and counted in
``dropped``. A daemon worker thread drains the queue in batches, maps each batch through views of the SDK spans with the
OTLP field names (``monitor.otel_spans``: one mapping code path for SDK, HTTP, gRPC and
Kafka spans, without the SDK's OTLP encoder, which costs 20x the mapping), feeds the
engine and calls ``on_violation`` on that thread.

Only sampled spans reach a processor: monitored flows need sampling that keeps whole
entities (always-on, or parent-based with the entity's root sampled).

This module imports the SDK; ``import monitor`` does not import it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from monitor.engine import EngineConfig
from monitor.otel_spans import sdk_request
from monitor.pipeline import Pipeline, Report
from monitor.sources.ingest import OtlpOrigin
from monitor.specdir import load_specdir

__all__ = ["SpecMonitorProcessor"]

_log = logging.getLogger("specmon.otel")
_ORIGIN = OtlpOrigin("sdk")
_STOP: Any = object()  # queued by shutdown() to wake the worker


class SpecMonitorProcessor(SpanProcessor):
    """Checks ended spans against a spec, off the app's threads.

    ``spec``: a spec directory (``spec.py`` + ``mapping.yaml`` with a ``spans:`` section)
    or a ready ``Pipeline``. ``violations`` keeps the last ``max_violations`` reports.
    Counters: ``enqueued``, ``dropped`` (queue full or after shutdown), ``processed``
    (spans handed to the mapping), ``errors`` (exceptions in mapping, engine or
    ``on_violation``, logged and skipped).
    """

    def __init__(self, spec: str | Path | Pipeline, *, max_queue: int = 8192,
                 max_batch: int = 512, on_violation: Callable[[Report], None] | None = None,
                 config: EngineConfig | None = None, max_violations: int = 1000,
                 tick_s: float = 1.0, clock: Callable[[], float] = time.time) -> None:
        if max_queue < 1 or max_batch < 1:
            raise ValueError(f"max_queue and max_batch must be >= 1, got {max_queue}, {max_batch}")
        self.pipeline = spec if isinstance(spec, Pipeline) else Pipeline(load_specdir(spec), config)
        self.pipeline.spans_mapper()  # MappingError now, not per batch, without `spans:`
        self.on_violation = on_violation
        self.max_batch = max_batch
        self.tick_s = tick_s
        self.clock = clock
        self.enqueued = self.dropped = self.processed = self.errors = 0
        self._violations: deque[Report] = deque(maxlen=max_violations)
        self._queue: queue.Queue[ReadableSpan] = queue.Queue(max_queue)
        # guards the counters (``+=`` from many threads is not atomic) and signals progress
        # to force_flush; held only for a few bytecodes, never while waiting on the worker
        self._cond = threading.Condition()
        self._stopping = False
        self._worker = threading.Thread(target=self._run, name="specmon-span-processor",
                                        daemon=True)
        self._worker.start()

    # -- SpanProcessor -----------------------------------------------------------

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        try:
            if not self._stopping:
                self._queue.put_nowait(span)
                with self._cond:
                    self.enqueued += 1
                return
        except queue.Full:
            pass
        except Exception:  # never raise into the app's thread
            _log.exception("specmon: on_end failed; span dropped")
        with self._cond:
            self.dropped += 1

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Wait until every span enqueued before the call has been applied."""
        deadline = time.monotonic() + timeout_millis / 1000
        with self._cond:
            target = self.enqueued
            while self.processed < target:
                left = deadline - time.monotonic()
                if left <= 0 or not self._worker.is_alive():
                    return False
                self._cond.wait(left)
        return True

    def shutdown(self) -> None:
        """Apply what is queued, end the input (buffered events are applied, due deadlines
        fire) and stop the worker. Spans ended afterwards are counted as dropped."""
        if self._stopping:
            return
        self._stopping = True
        try:
            self._queue.put_nowait(_STOP)  # wake the worker now, not at its next tick
        except queue.Full:
            pass  # the worker is busy and sees _stopping once the queue is empty
        self._worker.join()

    # -- reading results ---------------------------------------------------------

    @property
    def violations(self) -> list[Report]:
        return list(self._violations)

    # -- the worker ----------------------------------------------------------------

    def _run(self) -> None:
        q = self._queue
        while not (self._stopping and q.empty()):
            try:
                batch = [q.get(timeout=self.tick_s)]
            except queue.Empty:
                self._step(self.pipeline.engine.advance, self.clock())  # idle: deadlines fire
                continue
            while len(batch) < self.max_batch:
                try:
                    batch.append(q.get_nowait())
                except queue.Empty:
                    break
            spans = [s for s in batch if s is not _STOP]
            if spans:
                self._apply(spans)
        self._step(lambda _: self.pipeline.engine.flush(), None)

    def _apply(self, spans: list[ReadableSpan]) -> None:
        try:
            mapped = self.pipeline.map_spans(sdk_request(spans), _ORIGIN)
        except Exception:
            _log.exception("specmon: mapping %d spans failed; skipped", len(spans))
            mapped = None
            with self._cond:
                self.errors += 1
        if mapped is not None and mapped.events:
            self._step(self.pipeline.apply, mapped.events)
        with self._cond:
            self.processed += len(spans)
            self._cond.notify_all()

    def _step(self, step: Callable[[Any], list[Report]], arg: Any) -> None:
        try:
            reports = step(arg)
        except Exception:
            _log.exception("specmon: the engine failed on a batch; skipped")
            with self._cond:
                self.errors += 1
            return
        for r in reports:
            self._violations.append(r)
            if self.on_violation is not None:
                try:
                    self.on_violation(r)
                except Exception:
                    _log.exception("specmon: on_violation raised")
                    with self._cond:
                        self.errors += 1

"""The daemon (``specmon run``): wires specs, sources, sinks, checkpoints and the admin
endpoints together in one asyncio loop.

    OTLP/HTTP, OTLP/gRPC --> FanoutIngest --(WAL)--> one Pipeline per spec --> report sinks
                                  |                                              |
                      admin: /metrics /healthz /readyz            checkpoint every N seconds

Start-up: load every spec (a bad spec or config stops here with a ``ConfigError``),
restore the checkpoint and replay the write-ahead log's tail (``monitor.durable``), then
open the receivers; ``ready`` turns true last. Shutdown (``stop``, on SIGTERM/SIGINT in
``serve``): refuse new requests, stop the receivers, apply what is queued, checkpoint,
flush the sinks; all within ``grace_period``.

What the metrics and health code reads (the contract in BRIEF.md): ``specs`` (name ->
``SpecRuntime``), ``sources``, ``last_progress``, ``checkpoint_time``, ``latency``,
``ready``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass, field
from typing import Any

from monitor.config import Config
from monitor.durable import Checkpointer
from monitor.errors import ConfigError
from monitor.gc_tuning import tune_gc
from monitor.pipeline import Pipeline, Report
from monitor.sinks.latency import LatencyHistogram
from monitor.sinks.logs import log
from monitor.sinks.outputs import ReportSinks
from monitor.sources.fanout import FanoutIngest, Hooks, Target
from monitor.sources.ingest import Overloaded

__all__ = ["Runner", "SpecRuntime", "run"]

_log = logging.getLogger("specmon.run")
_INFO, _WARN, _ERROR = logging.INFO, logging.WARNING, logging.ERROR


@dataclass(slots=True)
class SpecRuntime:
    name: str
    pipeline: Pipeline
    #: the last violating trace id per (kind, property): exemplars on the metrics
    last_trace_ids: dict[tuple[str, str], str] = field(default_factory=dict)


class OtlpSource:
    """A receiver as the metrics see it: ``name``, ``kind``, ``connected``, ``stats``.
    The receiver submits through it (``submit``), so spans admitted and requests refused
    are counted per source, once per request, before the queue the receivers share."""

    kind = "otlp"

    def __init__(self, name: str, ingest: FanoutIngest) -> None:
        self.name = name
        self.ingest = ingest
        self.receiver: Any = None
        self.connected = False
        self.received = 0  # spans in admitted requests
        self.refused = 0  # requests refused with Overloaded (the client retries)

    def submit(self, req: Any, origin: Any = None) -> Any:
        try:
            batch = self.ingest.submit(req, origin)
        except Overloaded:
            self.refused += 1
            raise
        self.received += batch.spans
        return batch

    @property
    def stats(self) -> dict[str, int | float]:
        q = self.ingest.stats
        out: dict[str, int | float] = {
            f"responses_{k}": v for k, v in self.receiver.responses.items()}
        out.update(received=self.received, refused=self.refused, queue_depth=q.depth,
                   queue_limit=self.ingest.limit)
        return out

    async def start(self) -> None:
        await self.receiver.start()
        self.connected = True

    async def stop(self) -> None:
        self.connected = False
        await self.receiver.stop()


class Runner:
    def __init__(self, config: Config) -> None:
        from monitor.specdir import load_specdir

        if not config.specs:
            raise ConfigError("no spec to monitor: list them under `specs:` in the config, "
                              "pass --spec DIR, or set SPECMON_SPECS")
        self.config = config
        self.specs: dict[str, SpecRuntime] = {}
        for entry in config.specs:
            specdir = load_specdir(entry.path)
            name = entry.name or specdir.name
            if name in self.specs:
                raise ConfigError(f"two specs are named {name!r} ({entry.path}); give one a "
                                  "`name:` of its own")
            pipeline = Pipeline(specdir, config.engine_for(entry).engine_config(),
                                on_bad=self._bad_record(name))
            self.specs[name] = SpecRuntime(name, pipeline)
        self.sources: list[Any] = []
        self.ready = False
        self.latency = LatencyHistogram()
        self.sinks = ReportSinks(config.reports)
        otlp = config.sources.otlp
        targets = [Target(n, s.pipeline) for n, s in self.specs.items()
                   if s.pipeline.span_mapper is not None]
        _check_sources(config, self.specs)
        hooks = Hooks(on_report=self._on_report, on_applied=self.latency.observe,
                      on_error=self._consumer_error)
        self.ingest = FanoutIngest(targets, max_events=otlp.queue_events, hooks=hooks)
        self.durable: Checkpointer | None = None
        ck = config.checkpoint
        if ck.enabled:
            self.durable = Checkpointer(ck.path, self.ingest, self.sinks, interval=ck.interval,
                                        max_wal_bytes=ck.wal_max_bytes, fsync=ck.fsync)
            hooks.journal, hooks.between = self.durable.journal, self.durable.between
        if targets:
            from monitor.sources.otlp_grpc import OtlpGrpcReceiver
            from monitor.sources.otlp_http import OtlpHttpReceiver

            if otlp.http.enabled:
                src = OtlpSource("otlp_http", self.ingest)
                src.receiver = OtlpHttpReceiver(
                    src, host=otlp.http.host, port=otlp.http.port,  # type: ignore[arg-type]
                    max_body=otlp.max_body_bytes, overload_status=otlp.overload_status)
                self.sources.append(src)
            if otlp.grpc.enabled:
                src = OtlpSource("otlp_grpc", self.ingest)
                src.receiver = OtlpGrpcReceiver(src, host=otlp.grpc.host,  # type: ignore[arg-type]
                                                port=otlp.grpc.port, max_body=otlp.max_body_bytes)
                self.sources.append(src)
        self.admin_port: int | None = None
        self._admin: Any = None
        self._started = False
        from monitor.sources.kafka_runner import attach

        self.kafka = attach(self)  # sources.kafka: a consumer group member (docs/kafka.md)
        self._restored = False

    @property
    def checkpoint_time(self) -> float | None:
        """Wall seconds of the last checkpoint (None: none yet, or checkpoints off)."""
        return self.durable.time if self.durable is not None else None

    @property
    def last_progress(self) -> float:
        """Monotonic seconds of the last applied batch or idle tick of the consumer (with
        Kafka: the older of that and the Kafka loop's last poll or checkpoint)."""
        if self.kafka is not None:
            return min(self.ingest.last_progress, self.kafka.last_progress)
        return self.ingest.last_progress

    @property
    def stats(self) -> dict[str, int | float]:
        """The daemon's own counters (checkpoints, WAL, sinks), for the metrics."""
        out: dict[str, int | float] = {"reports_emitted": self.sinks.emitted,
                                       "reports_duplicate": self.sinks.duplicates}
        d = self.durable
        if d is not None:
            out.update(checkpoints=d.count, checkpoint_failures=d.failures,
                       checkpoint_seconds=d.seconds, wal_bytes=d.wal.size,
                       wal_max_bytes=d.wal.max_bytes, wal_refused=d.wal.refused,
                       wal_replayed=d.replayed)
        if self.sinks.file is not None:
            out["report_file_rotations"] = self.sinks.file.rotations
        if self.sinks.webhook is not None:
            out.update({f"webhook_{k}": v for k, v in self.sinks.webhook.stats.items()})
        return out

    def source(self, name: str) -> Any:
        return next(s for s in self.sources if s.name == name)

    def add_source(self, source: Any) -> None:
        """Plug in another source (the Kafka source): ``name``, ``kind``, ``connected``,
        ``stats`` for the metrics, ``async start()`` (called after the checkpoint is
        restored) and ``async stop()`` (called before the queue is drained). Before
        ``start()`` only."""
        if self._started:
            raise RuntimeError("add_source() after start()")
        self.sources.append(source)

    # -- life cycle ----------------------------------------------------------------

    async def start(self) -> None:
        self._started = True
        try:
            await self.sinks.start()
            if self.durable is not None:
                await self.durable.restore()
                self._restored = True  # from now on stop() may overwrite the checkpoint
            await self.ingest.start()
            for src in self.sources:
                await src.start()
            await self._start_admin()
        except BaseException:
            await self.stop()
            raise
        self.ready = True
        log(_log, _INFO, "started", specs=list(self.specs),
            sources={s.name: getattr(getattr(s, "receiver", None), "endpoint", None)
                     for s in self.sources},
            admin=self.admin_port)

    async def stop(self) -> None:
        """Stop accepting, drain, checkpoint, flush the sinks. Idempotent."""
        if not self._started:
            return
        self._started = False
        self.ready = False
        self.ingest.accepting = False
        for src in reversed(self.sources):
            with contextlib.suppress(Exception):
                await src.stop()
        await self.ingest.stop()
        if self.durable is not None and self._restored:
            try:
                await self.durable.checkpoint()
            except OSError as exc:
                log(_log, _ERROR, "final checkpoint failed", error=str(exc))
            self.durable.close()
        await self.sinks.stop()
        await self._stop_admin()
        log(_log, _INFO, "stopped", queued=self.ingest.stats.depth,
            checkpoint=self.checkpoint_time)

    async def serve(self) -> int:
        """Run until SIGTERM/SIGINT; 0 when shutdown finished within the grace period.
        The process's garbage collector is tuned once started (``monitor.gc_tuning``):
        this is the daemon's main, not for embedding."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await self.start()
            tune_gc()
            await stop.wait()
            log(_log, _INFO, "stopping", grace_period=self.config.grace_period)
            try:
                await asyncio.wait_for(self.stop(), self.config.grace_period)
            except TimeoutError:
                log(_log, _ERROR, "shutdown exceeded the grace period",
                    grace_period=self.config.grace_period)
                return 1
            return 0
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    # -- admin endpoints -----------------------------------------------------------

    async def _start_admin(self) -> None:
        cfg = self.config.admin
        if not cfg.enabled:
            return
        from monitor.sinks.admin import AdminServer

        admin = AdminServer(self, host=cfg.host, port=cfg.port)
        await admin.start()  # ConfigError naming admin.port when it cannot listen
        self._admin = admin
        self.admin_port = admin.port

    async def _stop_admin(self) -> None:
        if self._admin is not None:
            await self._admin.stop()
            self._admin = None

    # -- callbacks from the consumer -----------------------------------------------

    def _on_report(self, target: Target, report: Report) -> None:
        rt = self.specs[target.name]
        kind = getattr(report, "kind", "spec_error")
        prop = getattr(report, "property", None) or getattr(report, "where", "")
        trace_id = getattr(report, "trace_id", None)
        if trace_id:
            rt.last_trace_ids[(kind, prop)] = trace_id
        if not self.sinks.emit(report):
            return  # replayed after a crash, and already reported before it
        log(_log, _WARN, "violation" if kind != "spec_error" else "spec error",
            spec=target.name, key=report.key, kind=kind, property=prop,
            trace_id=trace_id, message=report.message)

    def _consumer_error(self, exc: BaseException) -> None:
        _log.error("consumer step failed", exc_info=exc,
                   extra={"fields": {"error": f"{type(exc).__name__}: {exc}"}})

    def _bad_record(self, spec: str) -> Any:
        def on_bad(cause: str, origin: Any, message: str) -> None:
            log(_log, _WARN, "bad record", spec=spec, cause=cause,
                origin=repr(origin) if origin is not None else None, message=message)
        return on_bad


def _check_sources(config: Config, specs: dict[str, SpecRuntime]) -> None:
    """Every spec must have a source that can feed it: OTLP for a ``spans:`` mapping,
    Kafka (``sources.kafka``) for ``events:`` (it reads spans too)."""
    otlp = config.sources.otlp.http.enabled or config.sources.otlp.grpc.enabled
    if config.sources.kafka is not None:
        return
    for name, rt in specs.items():
        p = rt.pipeline
        if p.span_mapper is None:
            raise ConfigError(
                f"spec {name} ({p.specdir.path}) maps only JSON events (`events:`), and no "
                "event source is configured: add `sources.kafka`, or a `spans:` section to "
                "its mapping.yaml for the OTLP receivers")
        if not otlp:
            raise ConfigError(f"no source is enabled for spec {name}: enable "
                              "sources.otlp.http or sources.otlp.grpc, or add sources.kafka")


def run(config: Config) -> int:
    """Run the daemon in a new event loop (uvloop when installed)."""
    async def main() -> int:
        return await Runner(config).serve()

    try:
        import uvloop  # type: ignore[import-not-found]
    except ImportError:
        return asyncio.run(main())
    return uvloop.run(main())  # type: ignore[no-any-return]


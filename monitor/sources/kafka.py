"""The Kafka source: a consumer group member that checks records per partition and
moves each partition's state with the partition.

Every assigned partition has its own pipelines (one engine per spec), so a partition
can move to another replica with exactly its instances, timers and watermark. The
commit protocol (``checkpoint``), per interval or when reports pile up:

1. snapshot every changed partition: engines + next offset + the reports produced
   since the last checkpoint (``pending``), written to the changelog topic and
   acknowledged by the broker;
2. publish the pending reports (``on_reports`` sinks, the violations topic);
3. write a ``published`` marker per partition to the changelog;
4. commit the next offsets (``enable_auto_commit=False``).

Reports are released only from checkpointed state, so after a crash the new owner
restores the last checkpoint, seeks to its offset, re-applies the records after it,
and produces their reports again *once*: the ones already published were published
from a checkpoint it restored past. A crash between steps 1 and 3 leaves the restored
checkpoint unconfirmed: its pending reports are published again through the sinks'
``republish`` (idempotent by report id: the file sink skips ids it already holds).

Rebalances (``kafka_rebalance``): on revoke, checkpoint + commit everything owned; on
assign, restore each new partition from the changelog (or keep the in-memory state of
a partition this replica still owns at the same offset) and seek. ``stop()`` commits
explicitly (aiokafka does not call the listener on stop). The listener and the loop
share a lock around checkpoints only, never around ``getmany`` (aiokafka #335).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from monitor.engine import EngineConfig
from monitor.errors import ConfigError
from monitor.pipeline import Pipeline, Report
from monitor.sinks.reports import encode_report
from monitor.sources.kafka_config import KafkaConfig
from monitor.sources.kafka_decode import Decoder
from monitor.sources.kafka_rebalance import Listener, Part, Rebalancing
from monitor.sources.kafka_state import Changelog, PartitionState
from monitor.sources.kafka_tally import KafkaTally
from monitor.specdir import SpecDir

__all__ = ["KafkaSource", "ReportLine", "report_id"]

log = logging.getLogger("specmon.kafka")

#: (report id, JSON line without newline): what sinks receive
ReportLine = tuple[str, bytes]
Sink = Callable[[list[ReportLine], bool], Awaitable[None]]  # (reports, republish)

_ids = msgspec.json.Encoder()


def report_id(r: Report) -> str:
    """Deterministic: the same record (or passed deadline) gives the same id in every
    replay, on every replica."""
    kind = getattr(r, "kind", "spec_error")
    prop = getattr(r, "property", None) or getattr(r, "where", "")
    span = getattr(r, "span_id", None)
    blob = _ids.encode([r.spec, r.key, kind, prop, r.time, r.action, r.origin, span])
    return hashlib.blake2b(blob, digest_size=12).hexdigest()


def report_line(r: Report) -> ReportLine:
    rid = report_id(r)
    body = encode_report(r)
    return rid, b'{"report_id":"' + rid.encode() + b'",' + body[1:]


class KafkaSource(Rebalancing):
    name = "kafka"
    kind = "kafka"

    def __init__(self, config: KafkaConfig, specs: list[SpecDir],
                 engine: EngineConfig | dict[str, EngineConfig] | None = None, *, sinks: list[Sink] = (),  # type: ignore[assignment]
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.specs = specs
        self.engine_config = engine
        self.sinks = list(sinks)
        self.clock = clock
        client = config.client_kwargs()
        self.client = client
        self.decoder = Decoder(config.encoding_of, config.event_time == "record")
        self.changelog = Changelog(config.changelog, client, chunk_bytes=config.changelog_chunk_bytes)
        self.parts: dict[TopicPartition, Part] = {}
        self._parked: dict[TopicPartition, Part] = {}
        self._shared: dict[str, Any] = {}  # spec name -> the engine whose memo is shared
        self.tally = KafkaTally()  # per-spec monotonic counts for the metrics
        self._lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self.connected = False
        self.last_progress = time.monotonic()
        self.checkpoint_time: float | None = None
        self._failing = False  # the last checkpoint failed: no progress until one succeeds
        self.counts = {"records": 0, "reports": 0, "checkpoints": 0, "commits": 0,
                       "rebalances": 0, "restored": 0, "republished": 0, "idle_advances": 0,
                       "checkpoint_errors": 0, "fetch_errors": 0,
                       "commit_errors": 0, "restore_errors": 0}

    # -- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self._start()
        except KafkaError as exc:
            await self._close_clients()
            raise ConfigError(
                f"sources.kafka: cannot use the brokers at {self.config.bootstrap_servers!r} "
                f"({exc}); check bootstrap_servers, security_protocol and the SASL/TLS "
                "settings, and that the brokers are up") from None

    async def _start(self) -> None:
        cfg = self.config
        await self.changelog.start()
        if cfg.violations_topic:
            self.producer = AIOKafkaProducer(**self.client, acks="all")
            await self.producer.start()
        self.consumer = AIOKafkaConsumer(
            **self.client, group_id=cfg.group_id, client_id=cfg.client_id,
            group_instance_id=cfg.group_instance_id, enable_auto_commit=False,
            auto_offset_reset=cfg.auto_offset_reset, session_timeout_ms=cfg.session_timeout_ms,
            heartbeat_interval_ms=cfg.heartbeat_interval_ms, max_poll_records=cfg.max_poll_records)
        await self.consumer.start()
        listener = Listener(self)
        if cfg.pattern is not None:
            self.consumer.subscribe(pattern=cfg.pattern, listener=listener)
        else:
            self.consumer.subscribe(cfg.topics, listener=listener)
        self.connected = True
        self._task = asyncio.create_task(self._loop(), name="specmon-kafka")

    async def stop(self) -> None:
        """Stop reading, checkpoint and commit what was applied, leave the group."""
        self._stopping.set()
        if self._task is not None:
            await self._task
        try:
            await self.checkpoint(list(self.parts.values()))
        finally:
            await self._close_clients()

    async def _close_clients(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()
        if self.producer is not None:
            await self.producer.stop()
        await self.changelog.stop()
        self.connected = False

    async def __aenter__(self) -> KafkaSource:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def wait(self) -> None:
        """Until the loop ends (stop, or a fatal error, which is raised here)."""
        if self._task is not None:
            await self._task

    # -- the loop --------------------------------------------------------------------

    async def _loop(self) -> None:
        consumer = self.consumer
        assert consumer is not None
        interval = self.config.interval_s
        idle = self.config.idle_s
        last_ckpt = time.monotonic()
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await self._poll(consumer, interval, idle, last_ckpt, stopping)
        finally:
            stopping.cancel()

    async def _poll(self, consumer: AIOKafkaConsumer, interval: float, idle: float | None,
                    last_ckpt: float, stopping: asyncio.Future[Any]) -> None:
        while not self._stopping.is_set():
            # a fetch may wait for a whole rebalance (members leaving at once): stop
            # must not wait for it, so the fetch races the stop event
            fetch = asyncio.ensure_future(consumer.getmany(
                timeout_ms=200, max_records=self.config.max_poll_records))
            await asyncio.wait((fetch, stopping), return_when=asyncio.FIRST_COMPLETED)
            if not fetch.done():
                fetch.cancel()
                with contextlib.suppress(asyncio.CancelledError, KafkaError):
                    await fetch
                break
            try:
                batch = fetch.result()
            except KafkaError as exc:
                self.counts["fetch_errors"] += 1
                log.warning("fetch failed, retrying: %r", exc)
                await asyncio.sleep(0.5)
                continue
            now = time.monotonic()
            pending = 0
            for tp, recs in batch.items():
                part = self.parts.get(tp)
                if part is None:
                    # fetched while the listener is still restoring it (aiokafka fetches
                    # before on_partitions_assigned returns): read these again later
                    if recs and tp in consumer.assignment():
                        consumer.seek(tp, recs[0].offset)
                    continue
                self._apply(part, recs, now)
            for part in self.parts.values():
                if idle is not None and part.last_record and now - part.last_record > idle:
                    self._idle_advance(part, now)
                pending += len(part.pending)
            if not self._failing:  # a poll is progress, unless checkpoints keep failing
                self.last_progress = now
            if now - last_ckpt >= interval or pending >= self.config.max_pending_reports:
                try:
                    await self.checkpoint(list(self.parts.values()))
                except KafkaError as exc:
                    # the broker is away (restart, network): nothing was lost, the state
                    # and its reports stay pending; retried at the next interval
                    self.counts["checkpoint_errors"] += 1
                    self._failing = True
                    log.warning("checkpoint failed, retrying: %r", exc)
                else:
                    self._failing = False
                    self.last_progress = time.monotonic()
                last_ckpt = time.monotonic()

    def _apply(self, part: Part, recs: list[Any], now: float) -> None:
        out: list[Report] = []
        self.decoder.apply_many(recs, part.pipelines, out)
        part.next_offset = recs[-1].offset + 1
        part.records += len(recs)
        part.dirty = True
        part.last_record = now
        self.counts["records"] += len(recs)
        if out:
            part.pending += [report_line(r) for r in out]

    def _idle_advance(self, part: Part, now: float) -> None:
        """A caught-up partition with no record for ``idle_advance``: its watermark
        moves with the wall clock so its deadlines fire (a partition still behind is
        never advanced: its own records will move it)."""
        hw = self.consumer.highwater(part.tp) if self.consumer else None
        if hw is None or part.next_offset is None or part.next_offset < hw:
            return
        out: list[Report] = []
        wall = self.clock()
        for p in part.pipelines:
            out += p.engine.advance(wall)
        self.counts["idle_advances"] += 1
        part.last_record = now
        part.dirty = True
        if out:
            part.pending += [report_line(r) for r in out]

    # -- checkpoints ---------------------------------------------------------------

    async def checkpoint(self, parts: list[Part], commit: bool = True) -> None:
        async with self._lock:
            todo = [p for p in parts if p.dirty and p.next_offset is not None]
            if todo:
                states = {p.tp: PartitionState(
                    next_offset=p.next_offset, seq=p.seq + 1,  # type: ignore[arg-type]
                    engines={pl.specdir.name: pl.engine.snapshot() for pl in p.pipelines},
                    pending=p.pending) for p in todo}
                await self.changelog.write(states)                   # 1
                for p in todo:
                    p.seq += 1
                lines = [line for p in todo for line in p.pending]
                marks = {p.tp: (p.seq, p.next_offset) for p in todo if p.pending}
                if lines:
                    await self._publish(lines, republish=False)      # 2
                for p in todo:  # published: never again from this replica's memory
                    p.pending = []
                    p.dirty = False
                if marks:
                    await self.changelog.mark_published(marks)       # 3
                self.counts["checkpoints"] += 1
                self.checkpoint_time = self.clock()
            if commit and self.consumer is not None:                 # 4
                offsets = {p.tp: p.next_offset for p in parts
                           if p.next_offset is not None and not p.dirty
                           and p.committed != p.next_offset and p.tp in self.parts}
                if offsets:
                    try:
                        await self.consumer.commit(offsets)
                    except CommitFailedError as exc:
                        # the group moved on (a rebalance in progress): the changelog
                        # already holds this state and its offsets, which the next
                        # owner restores; the committed offset only lags
                        self.counts["commit_errors"] += 1
                        log.warning("commit refused, state is in the changelog: %s", exc)
                        return
                    for p in parts:
                        if p.tp in offsets:
                            p.committed = offsets[p.tp]
                    self.counts["commits"] += 1

    async def _publish(self, lines: list[ReportLine], *, republish: bool) -> None:
        self.counts["reports"] += len(lines)
        for sink in self.sinks:
            await sink(lines, republish)
        if self.producer is not None and self.config.violations_topic:
            topic = self.config.violations_topic
            futs = []
            for rid, line in lines:
                key = msgspec.json.decode(line, type=_Keyed).key.encode()
                futs.append(await self.producer.send(topic, line, key=key,
                                                     headers=[("report_id", rid.encode())]))
            await asyncio.gather(*futs)

    # -- what metrics and /healthz read ----------------------------------------------

    def lag(self) -> dict[str, int]:
        """Per partition: high-water mark - next offset (0 before the first fetch)."""
        out = {}
        for tp, p in self.parts.items():
            hw = self.consumer.highwater(tp) if self.consumer else None
            nxt = p.next_offset or 0
            out[f"{tp.topic}/{tp.partition}"] = max(0, (hw or nxt) - nxt)
        return out

    def health(self) -> dict[str, Any]:
        """For /healthz: alive and making progress, per-partition lag, rebalances."""
        return {"connected": self.connected,
                "last_progress_age_s": round(time.monotonic() - self.last_progress, 3),
                "lag": self.lag(), "rebalances": self.counts["rebalances"],
                "partitions": sorted(self.lag()), "watermark": self.watermark()}

    def watermark(self) -> float | None:
        """The global watermark: the minimum over owned partitions' watermarks."""
        wms = [pl.engine.watermark for p in self.parts.values() for pl in p.pipelines
               if p.records]
        return min(wms) if wms else None

    @property
    def stats(self) -> dict[str, int | float]:
        lag = self.lag()
        return {**self.counts, "partitions": len(self.parts), "lag": sum(lag.values()),
                **self.changelog.stats,
                "pending_reports": sum(len(p.pending) for p in self.parts.values())}

    def pipelines(self) -> dict[str, list[Pipeline]]:
        """Per spec name, the pipelines of every owned partition (for metrics)."""
        out: dict[str, list[Pipeline]] = {s.name: [] for s in self.specs}
        for p in self.parts.values():
            for pl in p.pipelines:
                out[pl.specdir.name].append(pl)
        return out


class _Keyed(msgspec.Struct):
    key: str

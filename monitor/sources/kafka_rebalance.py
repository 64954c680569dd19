"""Partitions arriving and leaving: the rebalance listener's half of ``KafkaSource``.

On revoke: checkpoint and commit every owned partition, and park its state. On assign:
pause the partitions (aiokafka fetches before the callback returns), restore each one
from the changelog (or keep the parked state when the changelog holds nothing newer),
seek to the state's own next offset, resume. A checkpoint whose reports were never
confirmed published is published again (sinks de-duplicate by report id). The listener
shares the checkpoint lock with the loop, never a lock around ``getmany`` (aiokafka #335).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from monitor.errors import SnapshotError
from monitor.pipeline import Pipeline
from monitor.specdir import SpecDir

if TYPE_CHECKING:
    from monitor.sources.kafka import ReportLine
    from monitor.sources.kafka_state import Changelog
    from monitor.sources.kafka_tally import KafkaTally

__all__ = ["Listener", "Part", "Rebalancing"]

log = logging.getLogger("specmon.kafka")


@dataclass(slots=True)
class Part:
    tp: TopicPartition
    pipelines: list[Pipeline]
    next_offset: int | None = None  # None: not read yet (position from committed/reset)
    seq: int = 0
    pending: list[ReportLine] = field(default_factory=list)
    dirty: bool = False
    last_record: float = 0.0  # monotonic time of the last record
    records: int = 0
    committed: int | None = None  # the offset last committed by this replica


class Rebalancing:
    """Mixin of ``KafkaSource``: the attributes below are set by its ``__init__``."""

    consumer: AIOKafkaConsumer | None
    changelog: Changelog
    specs: list[SpecDir]
    engine_config: Any
    parts: dict[TopicPartition, Part]
    _parked: dict[TopicPartition, Part]
    _shared: dict[str, Any]
    _lock: asyncio.Lock
    counts: dict[str, int]
    tally: KafkaTally

    async def checkpoint(self, parts: list[Part], commit: bool = True) -> None:
        raise NotImplementedError

    async def _publish(self, lines: list[ReportLine], *, republish: bool) -> None:
        raise NotImplementedError

    # -- rebalances --------------------------------------------------------------------

    async def revoked(self, tps: list[TopicPartition]) -> None:
        self.counts["rebalances"] += 1
        owned = [self.parts[tp] for tp in tps if tp in self.parts]
        await self.checkpoint(owned)
        async with self._lock:
            for p in owned:
                self.tally.revoked(p.pipelines)
                self._parked[p.tp] = self.parts.pop(p.tp)

    async def assigned(self, tps: list[TopicPartition]) -> None:
        consumer = self.consumer
        assert consumer is not None
        parked, self._parked = self._parked, {}
        # aiokafka starts fetching before this callback returns: hold the partitions
        # until their state is restored and their position set
        consumer.pause(*tps)
        await self.changelog.refresh()
        for tp in tps:
            part = parked.pop(tp, None)
            latest = self.changelog.index.get(f"{tp.topic}/{tp.partition}".encode())
            if part is not None and part.next_offset is not None and (
                    latest is None or latest.next_offset <= part.next_offset):
                consumer.seek(tp, part.next_offset)  # still ours, at the same offset
            else:
                part = await self._restore(tp)
            part.last_record = time.monotonic()  # idle time counts from the assignment
            old = self.parts.get(tp)
            if old is not None and old is not part:  # assigned again without a revoke
                self.tally.revoked(old.pipelines)
            self.parts[tp] = part
            self.tally.assigned(part.pipelines)
        consumer.resume(*tps)
        log.info("assigned %s", sorted(f"{t.topic}/{t.partition}" for t in tps))

    async def _restore(self, tp: TopicPartition) -> Part:
        consumer = self.consumer
        assert consumer is not None
        part = Part(tp, [self._pipeline(s) for s in self.specs])
        loaded = await self.changelog.load(tp)
        if loaded is None:
            committed = await consumer.committed(tp)
            if committed is not None:
                part.next_offset = committed
                consumer.seek(tp, committed)
            return part
        state, published = loaded
        for i, pl in enumerate(part.pipelines):
            snap = state.engines.get(pl.specdir.name)
            if snap is None:
                continue
            try:
                pl.engine.restore(snap)
            except SnapshotError as exc:
                # a changed spec cannot load the old state: continue from the same offset
                # with empty state (late_join adopts entities met mid-life), never stop
                self.counts["restore_errors"] += 1
                log.error("partition %s/%s: %s", tp.topic, tp.partition, exc)
                part.pipelines[i] = self._pipeline(pl.specdir)
        part.next_offset = state.next_offset
        part.seq = state.seq
        consumer.seek(tp, state.next_offset)
        self.counts["restored"] += 1
        if state.pending and not published:
            # the previous owner died between writing this checkpoint and confirming
            # its reports: publish them again (sinks skip ids they already hold)
            await self._publish(state.pending, republish=True)
            await self.changelog.mark_published({tp: (state.seq, state.next_offset)})
            self.counts["republished"] += len(state.pending)
        return part

    def _pipeline(self, specdir: SpecDir) -> Pipeline:
        """A fresh pipeline for one partition. Its engine shares the spec's transition
        memo (interned state sets and their memoised steps: a pure cache) with every
        other partition's: split per partition, 4 partitions missed the memo about 4x
        as often and ran at half the rate."""
        cfg = self.engine_config
        pl = Pipeline(specdir, cfg.get(specdir.name) if isinstance(cfg, dict) else cfg)
        shared = self._shared.setdefault(specdir.name, pl.engine)
        if shared is not pl.engine:
            eng = pl.engine
            eng.trans, eng.adopter, eng.initial_node = (
                shared.trans, shared.adopter, shared.initial_node)
        return pl


class Listener(ConsumerRebalanceListener):
    def __init__(self, source: Rebalancing) -> None:
        self.source = source

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.source.revoked(list(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self.source.assigned(list(assigned))

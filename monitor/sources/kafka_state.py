"""Per-partition state in a changelog topic: written at checkpoints, read back when a
partition is assigned to this replica.

A checkpoint of source partition ``topic/p`` is one ``PartitionState`` (the engine
snapshot of every spec, the next offset to read, the reports of the interval not yet
confirmed published), msgpack-encoded and split into chunks of at most
``chunk_bytes`` (Kafka's default ``message.max.bytes`` is 1 MB; a snapshot of 100k
instances is several MB). Every chunk is a record keyed ``topic/p`` on partition 0 of
the changelog. After the reports are published, a small ``published`` record follows.

Restore does not rely on log compaction (Tansu accepts but does not perform it): the
reader reads the changelog from where it last stopped to the high-water mark, keeping
for every key only the *index* of its newest complete checkpoint (its chunk offsets:
a few bytes per key, not the state), and fetches those chunks when the partition is
assigned. Newest means highest ``(next_offset, seq)``: a checkpoint written late by a
replica that lost the partition can never move state backwards.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from monitor.errors import SnapshotError

__all__ = ["Changelog", "PartitionState", "state_key"]


class PartitionState(msgspec.Struct, array_like=True):
    """Everything a new owner needs to continue a source partition exactly."""

    next_offset: int
    seq: int
    engines: dict[str, bytes]  # spec name -> Engine.snapshot()
    pending: list[tuple[str, bytes]] = []  # (report id, report line) not yet confirmed


class _Chunk(msgspec.Struct, array_like=True):
    kind: str  # "state" | "published"
    seq: int
    next_offset: int
    chunk: int
    chunks: int
    data: bytes


@dataclass(slots=True)
class _Entry:
    seq: int
    next_offset: int
    offsets: list[int]
    published: bool = False


@dataclass(slots=True)
class _Partial:
    seq: int
    chunks: int
    offsets: list[int] = field(default_factory=list)


_enc = msgspec.msgpack.Encoder()
_dec_chunk = msgspec.msgpack.Decoder(_Chunk)
_dec_state = msgspec.msgpack.Decoder(PartitionState)


def state_key(tp: TopicPartition) -> bytes:
    return f"{tp.topic}/{tp.partition}".encode()


class Changelog:
    """Writer and reader of one changelog topic (1 partition)."""

    def __init__(self, topic: str, client: dict, *, chunk_bytes: int = 512 * 1024,
                 read_timeout: float = 30.0) -> None:
        self.topic = topic
        self.tp = TopicPartition(topic, 0)
        self.client = client
        self.chunk_bytes = chunk_bytes
        self.read_timeout = read_timeout
        self.index: dict[bytes, _Entry] = {}
        self._partial: dict[bytes, _Partial] = {}
        self._producer: AIOKafkaProducer | None = None
        self._reader: AIOKafkaConsumer | None = None
        self._pos = 0
        self.stats = {"changelog_records": 0, "changelog_bytes": 0, "changelog_read": 0}

    async def start(self) -> None:
        await self._ensure_topic()
        self._producer = AIOKafkaProducer(**self.client, acks="all",
                                          max_request_size=self.chunk_bytes + 65536)
        await self._producer.start()
        self._reader = AIOKafkaConsumer(**self.client, enable_auto_commit=False,
                                        auto_offset_reset="earliest",
                                        fetch_max_bytes=4 * self.chunk_bytes,
                                        max_partition_fetch_bytes=2 * self.chunk_bytes)
        await self._reader.start()
        self._reader.assign([self.tp])
        self._reader.seek(self.tp, 0)

    async def stop(self) -> None:
        for c in (self._producer, self._reader):
            if c is not None:
                await c.stop()

    async def _ensure_topic(self) -> None:
        admin = AIOKafkaAdminClient(**self.client)
        await admin.start()
        try:
            # compaction where the broker performs it keeps the topic small; restore
            # does not depend on it
            await admin.create_topics([NewTopic(self.topic, 1, 1,
                                                topic_configs={"cleanup.policy": "compact"})])
        except TopicAlreadyExistsError:
            pass
        finally:
            await admin.close()

    # -- writing -------------------------------------------------------------------

    async def write(self, states: dict[TopicPartition, PartitionState]) -> None:
        """Write every state (all chunks acknowledged by the broker) before returning."""
        assert self._producer is not None
        futs = []
        for tp, st in states.items():
            blob = _enc.encode(st)
            n = max(1, -(-len(blob) // self.chunk_bytes))
            key = state_key(tp)
            for i in range(n):
                part = blob[i * self.chunk_bytes:(i + 1) * self.chunk_bytes]
                value = _enc.encode(_Chunk("state", st.seq, st.next_offset, i, n, part))
                futs.append(await self._producer.send(self.topic, value, key=key, partition=0))
                self.stats["changelog_bytes"] += len(value)
            self.stats["changelog_records"] += n
        await asyncio.gather(*futs)

    async def mark_published(self, seqs: dict[TopicPartition, tuple[int, int]]) -> None:
        """After the pending reports of checkpoint ``seq`` went out: say so."""
        assert self._producer is not None
        futs = [await self._producer.send(
                    self.topic, _enc.encode(_Chunk("published", seq, nxt, 0, 1, b"")),
                    key=state_key(tp), partition=0)
                for tp, (seq, nxt) in seqs.items()]
        await asyncio.gather(*futs)

    # -- reading ---------------------------------------------------------------------

    async def refresh(self) -> None:
        """Read what was appended since the last call, up to the end offset the broker
        reports now. That end is asked for (a ListOffsets request), not taken from
        ``highwater()``: that is the mark of the last fetch response, which may predate
        another replica's last checkpoint, and stopping there would restore a stale
        state and report its records again."""
        reader = self._reader
        assert reader is not None
        end = (await reader.end_offsets([self.tp]))[self.tp]
        reader.seek(self.tp, self._pos)
        deadline = time.monotonic() + self.read_timeout
        while self._pos < end:
            batch = await reader.getmany(self.tp, timeout_ms=200, max_records=2000)
            for rec in batch.get(self.tp, ()):
                self._index(rec.key, rec.offset, rec.value)
                self._pos = rec.offset + 1
            hw = reader.highwater(self.tp)
            if hw is not None and hw >= end and self._pos >= hw:
                return  # the rest up to ``end`` were not records (compacted, markers)
            if self._pos >= end:
                return
            if time.monotonic() > deadline:
                raise SnapshotError(f"changelog {self.topic}: could not read to its end "
                                    f"(at {self._pos}, high-water {hw}) within "
                                    f"{self.read_timeout:g}s; is the broker reachable?")

    def _index(self, key: bytes | None, offset: int, value: bytes | None) -> None:
        self.stats["changelog_read"] += 1
        if key is None or value is None:
            return
        try:
            c = _dec_chunk.decode(value)
        except msgspec.DecodeError:
            return  # not ours: ignored (counted in changelog_read only)
        if c.kind == "published":
            e = self.index.get(key)
            if e is not None and e.seq == c.seq and e.next_offset == c.next_offset:
                e.published = True
            return
        if c.chunk == 0:
            self._partial[key] = _Partial(c.seq, c.chunks)
        p = self._partial.get(key)
        if p is None or p.seq != c.seq or len(p.offsets) != c.chunk:
            return  # a chunk of a checkpoint whose start we did not see: incomplete
        p.offsets.append(offset)
        if len(p.offsets) == p.chunks:
            del self._partial[key]
            old = self.index.get(key)
            if old is None or (c.next_offset, c.seq) >= (old.next_offset, old.seq):
                self.index[key] = _Entry(c.seq, c.next_offset, p.offsets)

    async def load(self, tp: TopicPartition) -> tuple[PartitionState, bool] | None:
        """The newest complete checkpoint of ``tp`` and whether its reports were
        published; None when the changelog has none."""
        await self.refresh()
        e = self.index.get(state_key(tp))
        if e is None:
            return None
        reader = self._reader
        assert reader is not None
        want = set(e.offsets)
        got: dict[int, bytes] = {}
        reader.seek(self.tp, e.offsets[0])
        deadline = time.monotonic() + self.read_timeout
        while len(got) < len(want):
            batch = await reader.getmany(self.tp, timeout_ms=200, max_records=2000)
            for rec in batch.get(self.tp, ()):
                if rec.offset in want and rec.value is not None:
                    got[rec.offset] = _dec_chunk.decode(rec.value).data
            if time.monotonic() > deadline:
                raise SnapshotError(f"changelog {self.topic}: checkpoint of {tp.topic}/"
                                    f"{tp.partition} at offsets {e.offsets} not readable")
        blob = b"".join(got[o] for o in e.offsets)
        return _dec_state.decode(blob), e.published

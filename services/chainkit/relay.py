"""The outbox relay: sends committed events to Kafka, deleting each chunk once confirmed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner, murmur2
from opentelemetry import trace
from opentelemetry.trace import Span
from sqlalchemy import Row

from chainkit.polling import IdlePoll
from chainkit.store import Store
from chainkit.telemetry import V_NUMMER, extract, inject_span, start_span

log = logging.getLogger(__name__)
# How long a woken relay waits for more commits before it reads the outbox.
LINGER_SECONDS = 0.005


class KeyPartitioner:
    """aiokafka's default partitioner (the Java client's: murmur2 of the key, so a key
    lands on the partition every Kafka client picks), keeping each key's hash: a case's
    events share its V-nummer as key, and the hash is pure Python."""

    def __init__(self, keep: int = 65_536) -> None:
        self._hashes: dict[bytes, int] = {}
        self._keep = keep
        self._default = DefaultPartitioner()

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        if key is None:
            return int(self._default(key, all_partitions, available))
        hashed = self._hashes.get(key)
        if hashed is None:
            if len(self._hashes) >= self._keep:
                self._hashes.clear()
            hashed = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return all_partitions[hashed % len(all_partitions)]


class OutboxRelay:
    def __init__(
        self,
        store: Store,
        producer: AIOKafkaProducer,
        tracer: trace.Tracer,
        batch_size: int,
        poll_seconds: float,
        chunk_size: int,
        partitioner: KeyPartitioner | None = None,
    ) -> None:
        self._store = store
        self._producer = producer
        self._partitioner = partitioner or KeyPartitioner()
        self._tracer = tracer
        self._batch_size = batch_size
        self._chunk_size = chunk_size
        self._poll = IdlePoll(poll_seconds)
        self._stopping = asyncio.Event()
        self.sent = 0

    async def run(self) -> None:
        while not self._stopping.is_set():
            self._store.outbox_ready.clear()
            try:
                sent = await self.relay_once()
            except Exception:
                log.exception("outbox relay failed; retrying")
                await asyncio.sleep(1.0)
                continue
            self._poll.found(sent > 0)
            if sent < self._batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._store.outbox_ready.wait(), self._poll.seconds)
                    # Woken by a commit: let the commits of the next few milliseconds
                    # join it, one read, produce request and delete for all of them.
                    await asyncio.sleep(LINGER_SECONDS)
        while await self.relay_once():  # drain what was committed before stopping
            pass

    def stop(self) -> None:
        self._stopping.set()
        self._store.outbox_ready.set()

    async def relay_once(self) -> int:
        """Send up to a batch of committed events, oldest first. They go out in chunks,
        and each chunk is deleted from the outbox as soon as the broker has confirmed
        it, while the next chunk is on its way: a crash resends at most the two chunks
        in flight, not the whole batch (consumers drop the copies by their event id)."""
        async with self._store.engine.connect() as conn:
            statement = self._store.statements.pending
            rows = (await conn.execute(statement, {"pending_limit": self._batch_size})).all()
        in_flight: deque[_Chunk] = deque()
        try:
            for start in range(0, len(rows), self._chunk_size):
                in_flight.append(await self._send(rows[start : start + self._chunk_size]))
                if len(in_flight) > 1:
                    await self._confirm(in_flight.popleft())
            while in_flight:
                await self._confirm(in_flight.popleft())
        finally:
            for chunk in in_flight:  # a send failed: these are sent again next time
                for span in chunk.spans:
                    span.end()
        self.sent += len(rows)
        return len(rows)

    async def _send(self, rows: Sequence[Row[Any]]) -> _Chunk:
        """Hand a chunk to the producer as one batch per partition (in the outbox's order
        within each): one future per batch instead of one per event, and no per-event
        trip through the producer's accumulator. Each event lands on the partition
        `producer.send` would pick (the same partitioner, the same partition list)."""
        chunk = _Chunk([row.id for row in rows])
        producer = self._producer
        batches: dict[tuple[str, int], Any] = {}
        partitions: dict[str, tuple[list[int], list[int]]] = {}
        for row in rows:
            headers: dict[str, str] = orjson.loads(row.headers)
            attributes = {
                "messaging.system": "kafka",
                "messaging.destination.name": row.topic,
                "messaging.message.id": headers.get("ce_id", ""),
            }
            if headers.get("ce_subject", "").isdigit():
                attributes[V_NUMMER] = headers["ce_subject"]
            span = start_span(
                self._tracer,
                f"{row.topic} publish",
                context=extract(headers),
                kind=trace.SpanKind.PRODUCER,
                attributes=attributes,
            )
            headers.update(inject_span(span))
            chunk.spans.append(span)
            topic = row.topic
            known = partitions.get(topic)
            if known is None:
                await producer.partitions_for(topic)  # waits for the topic's metadata
                cluster = producer.client.cluster
                known = partitions[topic] = (
                    list(cluster.partitions_for_topic(topic)),
                    list(cluster.available_partitions_for_topic(topic)),
                )
            partition = self._partitioner(row.key, *known)
            encoded = [(k, v.encode()) for k, v in headers.items()]
            batch = batches.get((topic, partition))
            if batch is None:
                batch = batches[(topic, partition)] = producer.create_batch()
            if batch.append(key=row.key, value=row.value, timestamp=None, headers=encoded) is None:
                # Full: it goes now, the event starts the partition's next batch.
                chunk.futures.append(await producer.send_batch(batch, topic, partition=partition))
                batch = batches[(topic, partition)] = producer.create_batch()
                # An empty batch takes any first event; were it ever refused, the round
                # fails and is retried (the event stays in the outbox), never dropped.
                if (
                    batch.append(key=row.key, value=row.value, timestamp=None, headers=encoded)
                    is None
                ):
                    raise RuntimeError(f"an event on {topic} fits no producer batch")
        for (topic, partition), batch in batches.items():
            chunk.futures.append(await producer.send_batch(batch, topic, partition=partition))
        return chunk

    async def _confirm(self, chunk: _Chunk) -> None:
        try:
            await asyncio.gather(*chunk.futures)
        finally:
            for span in chunk.spans:
                span.end()
            chunk.spans.clear()
        async with self._store.write() as conn:
            await conn.execute(self._store.statements.sent, {"sent_ids": chunk.ids})


@dataclass
class _Chunk:
    """Events handed to the producer together, deleted together once confirmed."""

    ids: list[int]
    spans: list[Span] = field(default_factory=list)
    futures: list[asyncio.Future[Any]] = field(default_factory=list)

"""The outbox relay: sends committed events to Kafka in batches, confirmed once a batch."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from aiokafka import AIOKafkaProducer
from opentelemetry import trace
from sqlalchemy import delete, select

from chainkit.store import Store
from chainkit.telemetry import V_NUMMER, extract, inject

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(
        self,
        store: Store,
        producer: AIOKafkaProducer,
        tracer: trace.Tracer,
        batch_size: int,
        poll_seconds: float,
    ) -> None:
        self._store = store
        self._producer = producer
        self._tracer = tracer
        self._batch_size = batch_size
        self._poll = poll_seconds
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
            if sent < self._batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._store.outbox_ready.wait(), self._poll)
        while await self.relay_once():  # drain what was committed before stopping
            pass

    def stop(self) -> None:
        self._stopping.set()
        self._store.outbox_ready.set()

    async def relay_once(self) -> int:
        outbox = self._store.outbox
        async with self._store.engine.connect() as conn:
            rows = (
                await conn.execute(select(outbox).order_by(outbox.c.id).limit(self._batch_size))
            ).all()
        if not rows:
            return 0
        futures = []
        spans = []
        for row in rows:
            headers: dict[str, str] = json.loads(row.headers)
            span = self._tracer.start_span(
                f"{row.topic} publish",
                context=extract(headers),
                kind=trace.SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.destination.name": row.topic,
                    "messaging.message.id": headers.get("ce_id", ""),
                },
            )
            if headers.get("ce_subject", "").isdigit():
                span.set_attribute(V_NUMMER, headers["ce_subject"])
            headers.update(inject(trace.set_span_in_context(span)))
            spans.append(span)
            futures.append(
                await self._producer.send(
                    row.topic,
                    value=row.value,
                    key=row.key,
                    headers=[(k, v.encode()) for k, v in headers.items()],
                )
            )
        try:
            await asyncio.gather(*futures)
        finally:
            for span in spans:
                span.end()
        async with self._store._locked(), self._store.engine.begin() as conn:
            await conn.execute(delete(outbox).where(outbox.c.id.in_([r.id for r in rows])))
        self.sent += len(rows)
        return len(rows)

"""Raw Kafka access for tests: publish bytes as a partner would, read a topic back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from chainkit.catalogue import topics
from chainkit.kafka_security import client_args


def headers_for(topic: str, ce_id: str | None = None, **overrides: str) -> dict[str, str]:
    return {
        "ce_specversion": "1.0",
        "ce_id": ce_id or str(uuid.uuid4()),
        "ce_type": topics()[topic].ce_type,
        "ce_source": "/test/partner",
        "content-type": "application/protobuf",
        **overrides,
    }


async def publish_raw(
    bootstrap: str, topic: str, value: bytes, key: bytes, headers: dict[str, str]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **client_args())
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, value=value, key=key, headers=[(k, v.encode()) for k, v in headers.items()]
        )
    finally:
        await producer.stop()


async def read_until(
    bootstrap: str,
    topic: str,
    done: Callable[[list[ConsumerRecord]], bool],
    timeout: float = 60.0,
    settle: float = 0.0,
) -> list[ConsumerRecord]:
    """All records of `topic` from the beginning, once `done(records)` holds, reading on
    for `settle` more seconds (to see what should *not* arrive)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        **client_args(),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=50,
    )
    await consumer.start()
    records: list[ConsumerRecord] = []
    deadline = time.monotonic() + timeout
    try:
        while not done(records):
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: condition not met after {timeout}s")
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
            await asyncio.sleep(0)
        settled = time.monotonic() + settle
        while time.monotonic() < settled:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()

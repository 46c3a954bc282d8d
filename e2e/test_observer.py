"""The chain's observers (the run command's watcher, the console's board) follow many
topics, and each fetch covers all their partitions (here 10 topics of 12, the
catalogue's count for Kafka). The broker's work per fetch grows with the partitions a
fetch covers, so an observer must read everything yet fetch seldom while records flow."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from chainctl.watch import observer

pytestmark = pytest.mark.e2e

TOPICS = 10
RECORDS = 400
SPACING = 0.005  # a record every 5 ms: 2 s of steady traffic


IDLE_SECONDS = 2.0


async def _follow(bootstrap: str) -> tuple[int, int, float, int]:
    """Produce RECORDS one by one over ~2 s while an observer follows the topics;
    return the records it read, the fetch requests it sent and the seconds it took,
    and the fetch requests it sent in IDLE_SECONDS with nothing to read."""
    run = uuid.uuid4().hex[:8]
    names = [f"test.observer-{run}.t{i}" for i in range(TOPICS)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(n, num_partitions=12, replication_factor=1) for n in names]
        )
    finally:
        await admin.close()
    consumer = observer(bootstrap)
    await consumer.start()
    fetches = 0
    send = consumer._client.send

    async def counting(node_id: int, request: Any, **kw: Any) -> Any:
        nonlocal fetches
        fetches += type(request).__name__.startswith("FetchRequest")
        return await send(node_id, request, **kw)

    consumer._client.send = counting
    consumer.subscribe(names)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await producer.start()
    read = 0

    async def produce() -> None:
        for i in range(RECORDS):
            await producer.send(names[i % TOPICS], b"x" * 200, key=str(i).encode())
            await asyncio.sleep(SPACING)
        await producer.flush()

    try:
        await consumer.getmany(timeout_ms=1000)  # assigned, at the start of every partition
        fetches = 0
        loop = asyncio.get_running_loop()
        idle_until = loop.time() + IDLE_SECONDS
        while loop.time() < idle_until:
            await consumer.getmany(timeout_ms=200)
        idle_fetches = fetches
        fetches = 0
        task = asyncio.create_task(produce())
        started = loop.time()
        give_up = started + 30
        while read < RECORDS and loop.time() < give_up:
            batches = await consumer.getmany(timeout_ms=200)
            read += sum(len(records) for records in batches.values())
        await task
        took = loop.time() - started
    finally:
        await producer.stop()
        await consumer.stop()
    return read, fetches, took, idle_fetches


def test_an_observer_reads_every_record_in_few_fetches(bootstrap_servers: str) -> None:
    read, fetches, took, idle_fetches = asyncio.run(_follow(bootstrap_servers))
    assert read == RECORDS
    # With nothing to read the embedded broker answers a fetch after (half) its wait:
    # at the observer's 500 ms 4 fetches in these 2 s, at the 50 ms the observers
    # used before 37. At most one per 200 ms.
    assert idle_fetches <= IDLE_SECONDS / 0.2, idle_fetches
    # While records flow the embedded broker answers fetches early, as many as it
    # likes (23-167 in these ~2.4 s at the 500 ms wait, 286-328 at the old 50 ms): not
    # a property of the observer, so not asserted; every record read is.
    assert fetches > 0 and took > 0

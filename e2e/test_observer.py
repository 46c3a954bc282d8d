"""The chain's observers (the run command's watcher, the console's board) follow many
topics of 12 partitions each. The broker's work per fetch grows with the partitions a
fetch covers, so an observer must read everything yet fetch seldom while records flow."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from chainctl.watch import OBSERVER_FETCH_WAIT_MS, observer

pytestmark = pytest.mark.e2e

TOPICS = 10
RECORDS = 400
SPACING = 0.005  # a record every 5 ms: 2 s of steady traffic


async def _follow(bootstrap: str) -> tuple[int, int]:
    """Produce RECORDS one by one over ~2 s while an observer follows the topics;
    return the records it read and the fetch requests it sent."""
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
        task = asyncio.create_task(produce())
        loop = asyncio.get_running_loop()
        give_up = loop.time() + 30
        while read < RECORDS and loop.time() < give_up:
            batches = await consumer.getmany(timeout_ms=200)
            read += sum(len(records) for records in batches.values())
        await task
    finally:
        await producer.stop()
        await consumer.stop()
    return read, fetches


def test_an_observer_reads_every_record_in_few_fetches(bootstrap_servers: str) -> None:
    read, fetches = asyncio.run(_follow(bootstrap_servers))
    assert read == RECORDS
    # ~2 s of records arriving every 5 ms: a fetch that returned as soon as anything
    # arrived would be sent a hundred times or more; waiting for bytes or the observer's
    # wait, a handful (the wait itself allows 2 s / 0.5 s = 4, plus the tail).
    seconds = RECORDS * SPACING
    assert fetches <= 3 * seconds / (OBSERVER_FETCH_WAIT_MS / 1000) + 4, fetches

"""The relay's partitioner puts every keyed event where aiokafka's default partitioner
(the Java client's murmur2) puts it: partners rely on a case's events sharing a partition."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import ConsumerRecord
from sqlalchemy import MetaData

from chainctl.broker import EmbeddedBroker, ensure_topics
from chainkit.relay import KeyPartitioner, OutboxRelay
from chainkit.runtime import ServiceSpec
from migratieketen.v1.arrival_pb2 import ArrivalRejected, ArrivalReport
from migratieketen.v1.bvv_pb2 import PersonRegistered
from tests.unit.kit_runtime import kit_runtime


def test_a_key_lands_where_the_default_partitioner_puts_it() -> None:
    default = DefaultPartitioner()
    ours = KeyPartitioner(keep=100)  # small, so the kept hashes are dropped on the way
    keys = [str(2600000001 + n).encode() for n in range(1_000)] + [b"coa", b"", b"\xff" * 7]
    for partitions in ([0], [0, 1, 2], list(range(12)), [3, 5, 8]):
        for key in keys * 2:  # the second time from the kept hashes
            assert ours(key, partitions, partitions) == default(key, partitions, partitions)


def test_an_event_without_a_key_goes_to_an_available_partition() -> None:
    ours = KeyPartitioner()
    assert {ours(None, [0, 1, 2], [2]) for _ in range(20)} == {2}
    assert ours(None, [0, 1, 2], []) in {0, 1, 2}


async def test_the_relay_sends_each_partition_s_events_in_order_where_send_would(
    tmp_path: Path,
) -> None:
    """On the embedded broker: events of two topics and many keys, more than one
    producer batch holds, each arrive once, on the partition the default partitioner
    picks, in the outbox's order within it, with their headers and a publish span."""
    spec = ServiceSpec("bvv", "registration", MetaData(), handlers={})
    keys = [str(2600000001 + n) for n in range(40)]
    with EmbeddedBroker() as broker:
        await ensure_topics(broker.bootstrap_servers)
        async with kit_runtime(spec, tmp_path) as (runtime, spans):
            async with runtime.store.begin() as uow:
                for n in range(400):
                    key = keys[n % len(keys)]
                    if n % 3:
                        registered = PersonRegistered(
                            v_nummer=key,
                            arrival=ArrivalReport(partner_reference=f"{n}"),
                            family_v_nummers=[key] * 20,  # a few such fill a batch
                        )
                        uow.publish(registered, key)
                    else:
                        uow.publish(ArrivalRejected(partner_reference=f"{n}"), key)
            producer = AIOKafkaProducer(
                bootstrap_servers=broker.bootstrap_servers, max_batch_size=2048
            )
            await producer.start()
            try:
                relay = OutboxRelay(runtime.store, producer, runtime.tracer, 500, 1.0, 150)
                assert await relay.relay_once() == 400
            finally:
                await producer.stop()
            sent = [s for s in spans.get_finished_spans() if s.name.endswith(" publish")]
            assert len(sent) == 400
            async with runtime.store.engine.connect() as conn:
                assert (await conn.execute(runtime.store.outbox.select())).all() == []
        received = await _read_all(broker.bootstrap_servers, 400)
    default = DefaultPartitioner()
    order: dict[tuple[str, int], list[int]] = {}
    for record in received:
        assert record.partition == default(record.key, [0, 1, 2], [0, 1, 2])
        headers = dict(record.headers)
        assert headers["ce_subject"] == record.key
        assert headers["traceparent"].startswith(b"00-")
        if record.topic == "bvv.registered.v1":
            n = int(PersonRegistered.FromString(record.value).arrival.partner_reference)
        else:
            n = int(ArrivalRejected.FromString(record.value).partner_reference)
        order.setdefault((record.topic, record.partition), []).append(n)
    assert sorted(n for ns in order.values() for n in ns) == list(range(400)), "each once"
    for ns in order.values():
        assert ns == sorted(ns), "the outbox's order within a partition"


async def _read_all(bootstrap: str, count: int) -> list[ConsumerRecord]:
    consumer = AIOKafkaConsumer(
        "bvv.registered.v1",
        "arrival.rejected.v1",
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    received: list[ConsumerRecord] = []
    try:
        async with asyncio.timeout(30):
            while len(received) < count:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    received.extend(records)
    finally:
        await consumer.stop()
    return received

"""The kit's batch consumer on a real SQLite store (no broker): a handler defect on one
record dead-letters that record only, its partial work undone, its neighbours kept,
and every record gets exactly one consumer span."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata, TopicPartition
from faststream.kafka.annotations import KafkaMessage
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import Column, MetaData, String, Table, insert, select
from sqlalchemy.exc import DBAPIError

from chainctl.broker import EmbeddedBroker
from chainkit import consumer
from chainkit.catalogue import topic_for
from chainkit.codec import (
    DEAD_LETTER_VALUE_BYTES,
    MAX_EVENT_BYTES,
    PARTNER_HEADER,
    cloudevent_headers,
)
from chainkit.consumer import FetchPacer, is_transient
from chainkit.runtime import Ctx, ServiceRuntime, ServiceSpec
from migratieketen.v1.arrival_pb2 import ArrivalRejected, ArrivalReport
from migratieketen.v1.common_pb2 import Partner
from migratieketen.v1.deadletter_pb2 import DeadLetter
from migratieketen.v1.europaloket_pb2 import CheckResult
from tests.unit.kit_runtime import kit_runtime

metadata = MetaData()
seen = Table("seen", metadata, Column("reference", String(40), primary_key=True))


async def on_report(report: ArrivalReport, ctx: Ctx) -> None:
    await ctx.uow.conn.execute(insert(seen).values(reference=report.partner_reference))
    ctx.publish(ArrivalRejected(partner_reference=report.partner_reference), "k")
    if report.partner_reference == "BAD":
        raise RuntimeError("a defect, after the handler wrote and published")
    if report.partner_reference == "HUGE":
        ctx.publish(ArrivalRejected(partner_reference="HUGE", reason="x" * MAX_EVENT_BYTES), "k")


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[tuple[ServiceRuntime, InMemorySpanExporter]]:
    own = MetaData()  # the runtime adds its kit tables to it
    seen.to_metadata(own)
    spec = ServiceSpec("bvv", "registration", own, handlers={ArrivalReport: on_report})
    async with kit_runtime(spec, tmp_path) as started:
        yield started


def batch(
    *references: str,
    first: int = 0,
    partner_of: Mapping[str, str] | None = None,
    values: Mapping[str, bytes] | None = None,
    **message: Any,
) -> KafkaMessage:
    """A batch as FastStream hands it over; `message`: the message's consumer, nack;
    `partner_of`: a reference's `ce_partner` header, `values`: a reference's own bytes."""
    topic = topic_for(ArrivalReport)
    records = [
        ConsumerRecord(
            topic=topic.name,
            partition=0,
            offset=first + offset,
            timestamp=0,
            timestamp_type=0,
            key=reference.encode(),
            value=(values or {}).get(reference)
            or ArrivalReport(partner_reference=reference).SerializeToString(),
            checksum=None,
            serialized_key_size=0,
            serialized_value_size=0,
            headers=[
                (k, v.encode())
                for k, v in {
                    **cloudevent_headers(topic, "test", reference),
                    **(
                        {PARTNER_HEADER: (partner_of or {})[reference]}
                        if reference in (partner_of or {})
                        else {}
                    ),
                }.items()
            ],
        )
        for offset, reference in enumerate(references)
    ]
    return cast(KafkaMessage, SimpleNamespace(raw_message=tuple(records), **message))


async def rows(runtime: ServiceRuntime, table: Table) -> list[Any]:
    async with runtime.store.engine.connect() as conn:
        return list(await conn.execute(select(table)))


async def parked_second(service: ServiceRuntime, code: str) -> tuple[list[Any], DeadLetter]:
    """After the batch GOOD-1, <bad>, GOOD-2: the good records' work kept, the second's
    undone (its own event too) and a dead letter with `code` in its place. The outbox
    and the dead letter."""
    assert sorted(r.reference for r in await rows(service, seen)) == ["GOOD-1", "GOOD-2"]
    outbox = await rows(service, service.store.outbox)
    assert [r.topic for r in outbox] == [
        "arrival.rejected.v1",
        "deadletter.v1",
        "arrival.rejected.v1",
    ], "the bad record's own event is undone, a dead letter takes its place"
    letter = DeadLetter.FromString(outbox[1].value)
    assert (letter.reason_code, letter.offset) == (code, 1)
    assert json.loads(outbox[1].headers)["dlq_reason_code"] == code
    return outbox, letter


async def test_a_handler_defect_parks_only_its_record(
    runtime: tuple[ServiceRuntime, InMemorySpanExporter],
) -> None:
    service, spans = runtime
    records = batch("GOOD-1", "BAD", "GOOD-2")
    await service.consumer.handle(records)

    await parked_second(service, "processing_error")
    assert len(await rows(service, service.store.inbox)) == 3
    consumed = [s for s in spans.get_finished_spans() if s.name.endswith(" process")]
    assert len(consumed) == 3, "one span per record: the rolled-back first run left none"

    await service.consumer.handle(records)  # redelivered
    assert len(await rows(service, service.store.outbox)) == 3, "no second effect"


async def test_an_event_over_the_size_limit_parks_its_record_and_nothing_else(
    runtime: tuple[ServiceRuntime, InMemorySpanExporter],
) -> None:
    """The broker would refuse such an event on every send, holding up the outbox: it
    is refused when published, and the record that made it is dead-lettered."""
    service, _ = runtime
    await service.consumer.handle(batch("GOOD-1", "HUGE", "GOOD-2"))

    outbox, letter = await parked_second(service, "event_too_large")
    assert "arrival.rejected.v1" in letter.reason and "bytes" in letter.reason
    assert letter.payload == ArrivalReport(partner_reference="HUGE").SerializeToString()
    assert max(len(r.value) + len(r.headers) for r in outbox) < MAX_EVENT_BYTES


async def test_a_dead_letter_of_a_huge_record_leaves_its_value_on_the_topic(
    runtime: tuple[ServiceRuntime, InMemorySpanExporter],
) -> None:
    """A partner's record near the broker's limit, undecodable: its dead letter (the
    value copied, plus the reason and headers) would be over the limit and stick in the
    outbox. The value is left out, and the reason says where the record is."""
    service, _ = runtime
    huge = b"\xff" * (MAX_EVENT_BYTES - 10)
    small = b"\xff" * 100
    await service.consumer.handle(batch("A", "B", "C", first=7, values={"B": huge, "A": small}))

    outbox = await rows(service, service.store.outbox)
    assert [r.topic for r in outbox] == ["deadletter.v1", "deadletter.v1", "arrival.rejected.v1"]
    kept, left = (DeadLetter.FromString(r.value) for r in outbox[:2])
    assert kept.payload == small and "not copied" not in kept.reason
    assert (left.reason_code, left.payload, left.key) == ("undecodable", b"", b"B")
    assert f"{len(huge)}-byte value not copied" in left.reason
    assert "arrival.reported.v1 partition 0 offset 8" in left.reason
    assert len(outbox[1].value) < DEAD_LETTER_VALUE_BYTES
    assert json.loads(outbox[1].headers)["dlq_reason_code"] == "undecodable"

    long_key = "K" * 5000  # a key no V-nummer is: left out too, and the letter unkeyed
    await service.consumer.handle(batch(long_key, first=20, values={long_key: small}))
    last = (await rows(service, service.store.outbox))[-1]
    letter = DeadLetter.FromString(last.value)
    assert (letter.key, letter.payload, last.key) == (b"", small, None)
    assert "its 5000-byte key not copied" in letter.reason


async def test_records_addressed_to_another_partner_are_skipped_unread(tmp_path: Path) -> None:
    own = MetaData()
    seen.to_metadata(own)
    spec = ServiceSpec(
        "bvv",
        "registration",
        own,
        handlers={ArrivalReport: on_report},
        partners=frozenset({"PARTNER_DTENV"}),
    )
    async with kit_runtime(spec, tmp_path) as (service, spans):
        await service.consumer.handle(
            batch(
                "MINE",
                "OTHERS",
                "UNADDRESSED",
                "FUTURE-PARTNER",
                partner_of={
                    "MINE": "PARTNER_DTENV",
                    "OTHERS": "PARTNER_SCREENING",
                    "FUTURE-PARTNER": "PARTNER_NOT_IN_THIS_VERSION",
                },
                values={"OTHERS": b"\xff not protobuf"},  # not decoded, so not dead-lettered
            )
        )
        handled = sorted(r.reference for r in await rows(service, seen))
        assert handled == ["FUTURE-PARTNER", "MINE", "UNADDRESSED"]
        outbox = await rows(service, service.store.outbox)
        assert [r.topic for r in outbox] == ["arrival.rejected.v1"] * 3, "no dead letter"
        assert len(await rows(service, service.store.inbox)) == 3
        consumed = [s for s in spans.get_finished_spans() if s.name.endswith(" process")]
        assert len(consumed) == 3, "no span for a record that is not this service's"

        # A batch holding only other partners' records opens no transaction at all.
        opened = 0
        begin = service.store.begin

        def counting_begin() -> Any:
            nonlocal opened
            opened += 1
            return begin()

        service.store.begin = counting_begin  # type: ignore[method-assign]
        await service.consumer.handle(
            batch("A", "B", first=4, partner_of={"A": "PARTNER_COA", "B": "PARTNER_IND"})
        )
        assert opened == 0
        assert len(await rows(service, service.store.inbox)) == 3


async def test_an_event_on_a_topic_with_an_addressee_names_its_partner_in_a_header(
    runtime: tuple[ServiceRuntime, InMemorySpanExporter],
) -> None:
    service, _ = runtime
    async with service.store.begin() as uow:
        uow.publish(CheckResult(v_nummer="2600000001", partner=Partner.PARTNER_DTENV), "k")
        uow.publish(ArrivalRejected(partner_reference="R"), "k")
    headers = [json.loads(r.headers) for r in await rows(service, service.store.outbox)]
    assert headers[0][PARTNER_HEADER] == "PARTNER_DTENV"
    assert PARTNER_HEADER not in headers[1], "a topic without an addressee has no ce_partner"


class _Deadlock(Exception):
    sqlstate = "40P01"  # PostgreSQL: deadlock detected


class _UniqueViolation(Exception):
    sqlstate = "23505"


def test_a_deadlock_between_instances_is_retried_a_constraint_violation_is_not() -> None:
    assert is_transient(DBAPIError("UPDATE locations", {}, _Deadlock()))
    assert not is_transient(DBAPIError("INSERT INTO locations", {}, _UniqueViolation()))


async def test_the_fetch_pacer_waits_long_only_while_the_service_is_idle() -> None:
    """On a real aiokafka consumer against the embedded broker: short fetches while
    batches arrive, the long wait after a quiet spell, the short one again at once."""
    with EmbeddedBroker() as broker:
        consumer = AIOKafkaConsumer(
            "arrival.reported.v1", bootstrap_servers=broker.bootstrap_servers, fetch_max_wait_ms=50
        )
        await consumer.start()
        try:
            pacer = FetchPacer(busy_ms=50, idle_ms=500, idle_after=0.2)
            fetcher = consumer._fetcher

            pacer.batch(consumer)
            pacer.tick(consumer)
            assert (pacer.idle, fetcher._fetch_max_wait_ms) == (False, 50)
            assert fetcher._fetcher_timeout == 0.2  # aiokafka's own look for work

            await asyncio.sleep(0.3)
            pacer.tick(consumer)
            assert (pacer.idle, fetcher._fetch_max_wait_ms) == (True, 500)
            # Idle, the fetcher looks when a fetch returns, not five times a second.
            assert fetcher._fetcher_timeout == 5.0

            pacer.batch(consumer)
            assert (pacer.idle, fetcher._fetch_max_wait_ms) == (False, 50)
            assert fetcher._fetcher_timeout == 0.2
        finally:
            await consumer.stop()


async def test_the_fetch_pacer_waits_longer_in_a_surge_and_short_again_after_it() -> None:
    """On a real aiokafka consumer: a rate of records at or above the surge rate brings
    the surge wait, a rate below three quarters of it the short wait; a steady flow
    below the surge rate never leaves the short wait. The pacer's clock is the test's."""
    with EmbeddedBroker() as broker:
        consumer = AIOKafkaConsumer(
            "arrival.reported.v1", bootstrap_servers=broker.bootstrap_servers, fetch_max_wait_ms=50
        )
        await consumer.start()
        try:
            now = [0.0]
            pacer = FetchPacer(
                busy_ms=50,
                idle_ms=1000,
                idle_after=5,
                surge_ms=200,
                surge_rate=100,
                clock=lambda: now[0],
            )
            fetcher = consumer._fetcher

            def second_with(records: int) -> tuple[str, int]:
                """`records` arrive over the next second; the pacer then looks."""
                pacer.batch(consumer, records)
                now[0] += 1.0
                pacer.tick(consumer)
                return pacer.mode, fetcher._fetch_max_wait_ms

            assert second_with(80) == (FetchPacer.BUSY, 50)  # below the surge rate
            assert second_with(100) == (FetchPacer.SURGE, 200)  # at it
            assert fetcher._fetcher_timeout == 0.2
            assert second_with(75) == (FetchPacer.SURGE, 200)  # three quarters: still on
            assert second_with(74) == (FetchPacer.BUSY, 50)  # below: over
            now[0] += 5.0  # no batch for idle_after seconds
            pacer.tick(consumer)
            assert (pacer.mode, fetcher._fetch_max_wait_ms) == (FetchPacer.IDLE, 1000)
            pacer.batch(consumer, 1)  # a batch ends idle at once
            assert (pacer.mode, fetcher._fetch_max_wait_ms) == (FetchPacer.BUSY, 50)
            assert second_with(500) == (FetchPacer.SURGE, 200)  # the rate, at the next look
        finally:
            await consumer.stop()


def test_a_surge_rate_of_zero_keeps_the_short_wait() -> None:
    class Fetcher:
        _fetch_max_wait_ms = 50
        _fetcher_timeout = 0.2

    class Consumer:
        _fetcher = Fetcher()

    consumer = Consumer()
    pacer = FetchPacer(busy_ms=50, idle_ms=1000, idle_after=5, surge_ms=200, surge_rate=0)
    pacer.tick(consumer)
    pacer.batch(consumer, 10_000)
    pacer.tick(consumer)
    assert (pacer.mode, Consumer._fetcher._fetch_max_wait_ms) == (FetchPacer.BUSY, 50)


async def test_a_defect_outside_the_handlers_waits_before_the_batch_is_redelivered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kit defect fails every delivery of the batch the same way: each failure waits
    before giving the batch back, so a redelivery loop cannot spin at full speed."""

    async def broken_lock(_conn: object) -> None:
        raise RuntimeError("a defect in the service's lock")

    own = MetaData()  # the runtime adds its kit tables to it
    seen.to_metadata(own)
    spec = ServiceSpec(
        "bvv", "registration", own, handlers={ArrivalReport: on_report}, lock=broken_lock
    )
    paused: list[float] = []

    async def sleep(seconds: float) -> None:
        paused.append(seconds)

    rewound: list[int] = []

    async def nack() -> None:
        rewound.append(1)

    kafka_consumer = _Consumer()
    monkeypatch.setattr(asyncio, "sleep", sleep)
    async with kit_runtime(spec, tmp_path) as (service, _):
        for _ in range(2):
            with pytest.raises(RuntimeError, match="lock"):
                await service.consumer.handle(batch("GOOD-1", consumer=kafka_consumer, nack=nack))
        assert await rows(service, seen) == []
        await service.consumer.commits.stop()
    assert paused == [consumer.REDELIVERY_PAUSE_SECONDS] * 2
    assert rewound == [1, 1], "each failed delivery rewinds the batch's partitions"
    assert kafka_consumer.commits == [], "a failed batch's offsets are never committed"


class _Consumer:
    """What OffsetCommits asks of aiokafka's consumer, recorded."""

    def __init__(self, assigned: set[TopicPartition] | None = None) -> None:
        self.assigned = assigned if assigned is not None else {TopicPartition(REPORTED, 0)}
        self.commits: list[dict[TopicPartition, int]] = []

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    async def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        self.commits.append({tp: meta.offset for tp, meta in offsets.items()})


REPORTED = topic_for(ArrivalReport).name


async def test_offsets_are_committed_once_per_interval_and_when_the_service_stops(
    runtime: tuple[ServiceRuntime, InMemorySpanExporter],
) -> None:
    """On the embedded broker, in a consumer group: the first handled batch is committed
    at once, the batches after it together once the interval has passed or the service
    stops; what was handled is what the group has committed."""
    service, _ = runtime
    with EmbeddedBroker() as broker:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
        kafka_consumer = AIOKafkaConsumer(
            REPORTED,
            bootstrap_servers=broker.bootstrap_servers,
            group_id="offset-commits",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await producer.start()
        await kafka_consumer.start()
        try:
            for _ in range(9):
                await producer.send_and_wait(REPORTED, b"", partition=0)
            tp = TopicPartition(REPORTED, 0)
            for _ in range(300):  # the group join
                if tp in kafka_consumer.assignment():
                    break
                await asyncio.sleep(0.1)
            assert tp in kafka_consumer.assignment()
            commits = service.consumer.commits = consumer.OffsetCommits(interval=60.0)
            for first in (0, 3, 6):
                references = [f"REF-{first + i}" for i in range(3)]
                await service.consumer.handle(
                    batch(*references, first=first, consumer=kafka_consumer)
                )
                if first == 0:  # the commit runs beside the consumer: wait for it
                    for _ in range(200):
                        if commits.commits == 1:
                            break
                        await asyncio.sleep(0.05)
                    assert await kafka_consumer.committed(tp) == 3, "the first batch at once"
            assert await kafka_consumer.committed(tp) == 3, "the others wait for the interval"
            await commits.stop()
            assert await kafka_consumer.committed(tp) == 9, "stopping commits what was handled"
            assert commits.commits == 2
        finally:
            await kafka_consumer.stop()
            await producer.stop()


async def test_offsets_of_partitions_taken_away_are_left_to_their_new_owner(
    runtime: tuple[ServiceRuntime, InMemorySpanExporter],
) -> None:
    service, _ = runtime
    kafka_consumer = _Consumer(assigned=set())  # a rebalance took partition 0 away
    await service.consumer.handle(batch("REF-1", consumer=kafka_consumer))
    await service.consumer.commits.stop()
    assert kafka_consumer.commits == []
    kafka_consumer.assigned = {TopicPartition(REPORTED, 0)}
    await service.consumer.handle(batch("REF-2", "REF-3", first=1, consumer=kafka_consumer))
    await service.consumer.commits.stop()
    assert kafka_consumer.commits == [{TopicPartition(REPORTED, 0): 3}]


async def test_a_batch_handled_while_a_commit_is_on_its_way_is_committed_after_it(
    runtime: tuple[ServiceRuntime, InMemorySpanExporter],
) -> None:
    """The last batch of a flow must not wait for another batch to get committed."""
    service, _ = runtime
    service.consumer.commits = consumer.OffsetCommits(interval=0.05)
    answer = asyncio.Event()

    asked = asyncio.Event()

    class Slow(_Consumer):
        async def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
            asked.set()
            await answer.wait()
            await super().commit(offsets)

    kafka_consumer = Slow()
    await service.consumer.handle(batch("REF-1", consumer=kafka_consumer))
    await asyncio.wait_for(asked.wait(), 10)  # the first commit is on its way
    await service.consumer.handle(batch("REF-2", first=1, consumer=kafka_consumer))
    answer.set()
    for _ in range(100):
        if len(kafka_consumer.commits) == 2:
            break
        await asyncio.sleep(0.05)
    tp = TopicPartition(REPORTED, 0)
    assert kafka_consumer.commits == [{tp: 1}, {tp: 2}]

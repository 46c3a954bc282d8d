"""The kit's batch consumer on a real SQLite store (no broker): a handler defect on one
record dead-letters that record only, its partial work undone, its neighbours kept,
and every record gets exactly one consumer span."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord
from faststream.kafka.annotations import KafkaMessage
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import Column, MetaData, String, Table, insert, select
from sqlalchemy.exc import DBAPIError

from chainctl.broker import EmbeddedBroker
from chainkit import consumer
from chainkit.catalogue import topic_for
from chainkit.codec import cloudevent_headers
from chainkit.consumer import FetchPacer, is_transient
from chainkit.runtime import Ctx, ServiceRuntime, ServiceSpec
from migratieketen.v1.arrival_pb2 import ArrivalRejected, ArrivalReport
from migratieketen.v1.deadletter_pb2 import DeadLetter
from tests.unit.kit_runtime import kit_runtime

metadata = MetaData()
seen = Table("seen", metadata, Column("reference", String(40), primary_key=True))


async def on_report(report: ArrivalReport, ctx: Ctx) -> None:
    await ctx.uow.conn.execute(insert(seen).values(reference=report.partner_reference))
    ctx.publish(ArrivalRejected(partner_reference=report.partner_reference), "k")
    if report.partner_reference == "BAD":
        raise RuntimeError("a defect, after the handler wrote and published")


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[tuple[ServiceRuntime, InMemorySpanExporter]]:
    spec = ServiceSpec("bvv", "registration", metadata, handlers={ArrivalReport: on_report})
    async with kit_runtime(spec, tmp_path) as started:
        yield started


def batch(*references: str) -> KafkaMessage:
    topic = topic_for(ArrivalReport)
    records = [
        ConsumerRecord(
            topic=topic.name,
            partition=0,
            offset=offset,
            timestamp=0,
            timestamp_type=0,
            key=reference.encode(),
            value=ArrivalReport(partner_reference=reference).SerializeToString(),
            checksum=None,
            serialized_key_size=0,
            serialized_value_size=0,
            headers=[
                (k, v.encode()) for k, v in cloudevent_headers(topic, "test", reference).items()
            ],
        )
        for offset, reference in enumerate(references)
    ]
    return cast(KafkaMessage, SimpleNamespace(raw_message=tuple(records)))


async def rows(runtime: ServiceRuntime, table: Table) -> list[Any]:
    async with runtime.store.engine.connect() as conn:
        return list(await conn.execute(select(table)))


async def test_a_handler_defect_parks_only_its_record(
    runtime: tuple[ServiceRuntime, InMemorySpanExporter],
) -> None:
    service, spans = runtime
    records = batch("GOOD-1", "BAD", "GOOD-2")
    await service.consumer.handle(records)

    assert sorted(r.reference for r in await rows(service, seen)) == ["GOOD-1", "GOOD-2"]
    outbox = await rows(service, service.store.outbox)
    assert [r.topic for r in outbox] == [
        "arrival.rejected.v1",
        "deadletter.v1",
        "arrival.rejected.v1",
    ], "the defect's own event is undone, a dead letter takes its place"
    letter = DeadLetter.FromString(outbox[1].value)
    assert (letter.reason_code, letter.offset) == ("processing_error", 1)
    assert json.loads(outbox[1].headers)["dlq_reason_code"] == "processing_error"
    assert len(await rows(service, service.store.inbox)) == 3
    consumed = [s for s in spans.get_finished_spans() if s.name.endswith(" process")]
    assert len(consumed) == 3, "one span per record: the rolled-back first run left none"

    await service.consumer.handle(records)  # redelivered
    assert len(await rows(service, service.store.outbox)) == 3, "no second effect"


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

            await asyncio.sleep(0.3)
            pacer.tick(consumer)
            assert (pacer.idle, fetcher._fetch_max_wait_ms) == (True, 500)

            pacer.batch(consumer)
            assert (pacer.idle, fetcher._fetch_max_wait_ms) == (False, 50)
        finally:
            await consumer.stop()


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

    monkeypatch.setattr(asyncio, "sleep", sleep)
    async with kit_runtime(spec, tmp_path) as (service, _):
        for _ in range(2):
            with pytest.raises(RuntimeError, match="lock"):
                await service.consumer.handle(batch("GOOD-1"))
        assert await rows(service, seen) == []
    assert paused == [consumer.REDELIVERY_PAUSE_SECONDS] * 2

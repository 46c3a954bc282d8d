"""The kit's timer loop on a real SQLite store: a round of due timers runs in one
transaction; a failing handler is parked alone (its work undone, its neighbours kept),
every timer gets exactly one span, and a fired timer is gone from the table."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from sqlalchemy import Column, MetaData, String, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chainkit.polling import IdlePoll
from chainkit.runtime import Ctx, ServiceRuntime, ServiceSpec
from chainkit.store import Timer
from migratieketen.v1.arrival_pb2 import ArrivalRejected
from tests.unit.kit_runtime import kit_runtime


def _done(metadata: MetaData) -> Table:
    return Table("done", metadata, Column("v_nummer", String(10), primary_key=True))


async def on_step(timer: Timer, ctx: Ctx) -> None:
    await ctx.uow.conn.execute(insert(_done_of(ctx)).values(v_nummer=timer.v_nummer))
    ctx.publish(ArrivalRejected(partner_reference=timer.v_nummer), timer.v_nummer)
    if timer.payload == b"defect":
        raise RuntimeError("a defect, after the handler wrote and published")


def _done_of(ctx: Ctx) -> Table:
    return ctx.uow.store.metadata.tables["done"]


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[tuple[ServiceRuntime, InMemorySpanExporter]]:
    metadata = MetaData()  # a service's tables, once per test
    _done(metadata)
    spec = ServiceSpec("bvv", "registration", metadata, handlers={}, timers={"step": on_step})
    async with kit_runtime(spec, tmp_path) as started:
        yield started


async def test_a_failing_timer_is_parked_alone_and_fired_timers_are_gone(
    runtime: tuple[ServiceRuntime, InMemorySpanExporter],
) -> None:
    service, spans = runtime
    now = service.clock.now()
    async with service.store.begin() as uow:
        await uow.schedule_many(
            [
                ("step", "2600000001", now - timedelta(hours=3), b""),
                ("step", "2600000002", now - timedelta(hours=2), b"defect"),
                ("step", "2600000003", now - timedelta(hours=1), b""),
                ("step", "2600000004", now + timedelta(days=3650), b""),
            ]
        )
    loop = asyncio.create_task(service.timers.run())
    try:
        for _ in range(100):
            if await service.store.due_timers(service.clock.now()) == []:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)
    finally:
        service.timers.stop()
        await loop

    async with service.store.engine.connect() as conn:
        done = service.store.metadata.tables["done"]
        kept = sorted(r.v_nummer for r in await conn.execute(select(done)))
        outbox = list(await conn.execute(select(service.store.outbox)))
        pending = list(await conn.execute(select(service.store.timers)))
    assert kept == ["2600000001", "2600000003"], "the defect's own write is undone"
    assert [r.key for r in outbox] == [b"2600000001", b"2600000003"]
    assert [r.v_nummer for r in pending] == ["2600000004"], "fired and parked timers are gone"
    fired = [s for s in spans.get_finished_spans() if s.name == "bvv timer step"]
    assert len(fired) == 3, "one span per timer: the rolled-back first round left none"
    failed = [s for s in fired if s.status.status_code == StatusCode.ERROR]
    assert [(s.attributes or {}).get("case.v_nummer") for s in failed] == ["2600000002"]


async def test_cancelling_removes_only_that_persons_timers_of_that_kind(
    runtime: tuple[ServiceRuntime, InMemorySpanExporter],
) -> None:
    service, _ = runtime
    later = service.clock.now() + timedelta(days=3650)
    async with service.store.begin() as uow:
        await uow.schedule_many(
            [
                ("step", "2600000001", later, b""),
                ("other", "2600000001", later, b""),
                ("step", "2600000002", later, b""),
            ]
        )
    async with service.store.begin() as uow:
        await uow.cancel("step", "2600000001")
    async with service.store.engine.connect() as conn:
        left = sorted(
            (r.kind, r.v_nummer) for r in await conn.execute(select(service.store.timers))
        )
    assert left == [("other", "2600000001"), ("step", "2600000002")]


async def test_a_services_lock_is_taken_first_in_every_timer_round(tmp_path: Path) -> None:
    """ServiceSpec.lock runs before the kit claims timers, in the same transaction."""
    calls: list[str] = []

    async def lock(conn: AsyncConnection) -> None:
        assert conn.in_transaction()
        calls.append("lock")

    async def step(timer: Timer, ctx: Ctx) -> None:
        calls.append(f"step {timer.v_nummer}")

    spec = ServiceSpec(
        "bvv", "registration", MetaData(), handlers={}, timers={"step": step}, lock=lock
    )
    async with kit_runtime(spec, tmp_path) as (service, _):
        async with service.store.begin() as uow:
            await uow.schedule("step", "2600000001", service.clock.now(), b"")
        loop = asyncio.create_task(service.timers.run())
        for _ in range(100):
            if calls:
                break
            await asyncio.sleep(0.05)
        service.timers.stop()
        await loop
    assert calls == ["lock", "step 2600000001"]


def test_an_idle_poll_stretches_while_it_finds_nothing_and_snaps_back() -> None:
    poll = IdlePoll(1.0, longest=5.0)
    seen = []
    for found in (False, False, False, False, True, False):
        poll.found(found)
        seen.append(poll.seconds)
    assert seen == [2.0, 4.0, 5.0, 5.0, 1.0, 2.0]
    assert IdlePoll(10.0, longest=5.0).longest == 10.0  # never shorter than the poll

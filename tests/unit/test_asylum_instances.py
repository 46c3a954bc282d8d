"""Two IND instances on one PostgreSQL: the IND's shared state (decision days, border
places) is read and changed by one transaction at a time, so the daily decision capacity
and the border capacity hold, and no race ends in an IntegrityError (which would park the
timer, and lose the case); one case acted on by both at once is acted on once. The
second transaction is started while the first is still open, and the first commits only
once the second waits for it (or is done)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import MetaData, select

from asylum import service
from asylum.routing import Route
from asylum.settings import asylum_settings
from chainkit.clock import SimClock, timestamp
from chainkit.deadlines import STARTED, Deadline
from chainkit.runtime import Ctx
from chainkit.settings import Settings
from chainkit.store import Store, Timer, UnitOfWork
from e2e.test_postgres import database  # noqa: F401  (the fixture)
from migratieketen.v1.common_pb2 import ArrivalSetting
from migratieketen.v1.ind_pb2 import DublinStep, DublinStepKind
from migratieketen.v1.screening_pb2 import Referral, ScreeningCompleted

KIT_TABLES = ("outbox", "inbox", "timers")


def _metadata() -> MetaData:
    """The IND's tables in a metadata of their own (each store adds the kit's tables)."""
    fresh = MetaData()
    for table in service.SPEC.metadata.tables.values():
        if table.name not in KIT_TABLES:
            table.to_metadata(fresh)
    return fresh


class Instance:
    """One IND instance's store, as a running service has it."""

    def __init__(self, url: str, data_dir: Path) -> None:
        self.store = Store(url, _metadata(), "asylum")
        self.settings = Settings(data_dir=data_dir, bootstrap_servers="127.0.0.1:9")
        self.clock = SimClock(time.time(), 1.0)

    def ctx(self, uow: UnitOfWork) -> Ctx:
        return Ctx(uow, self.clock, self.settings, "asylum", "asylum")

    async def run(self, work: Callable[[Ctx], Awaitable[Any]]) -> Any:
        async with self.store.begin() as uow:
            return await work(self.ctx(uow))


@pytest.fixture
def small_capacity(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MK_ASYLUM_DECISIONS_PER_DAY", '{"REGULAR": 1}')
    monkeypatch.setenv("MK_ASYLUM_BORDER_CAPACITY", "1")
    monkeypatch.setenv("MK_ASYLUM_FAMILY_RESERVE", "0")
    monkeypatch.setenv("MK_ASYLUM_PRIORITY_RESERVE", "0")
    asylum_settings.cache_clear()
    yield
    asylum_settings.cache_clear()


@pytest.fixture
async def instances(
    database: str,  # noqa: F811
    tmp_path: Path,
    small_capacity: None,
) -> AsyncIterator[tuple[Instance, Instance]]:
    url = database.replace("postgresql://", "postgresql+asyncpg://", 1)
    pair = (Instance(url, tmp_path / "one"), Instance(url, tmp_path / "two"))
    async with AsyncExitStack() as stack:
        for instance in pair:
            await instance.store.start()
            stack.push_async_callback(instance.store.close)
        yield pair


async def _waiting_on_a_lock(url: str) -> bool:
    conn = await asyncpg.connect(url)
    try:
        waiting = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
    finally:
        await conn.close()
    return bool(waiting)


async def _concurrently(
    url: str,
    first: tuple[Instance, Callable[[Ctx], Awaitable[Any]]],
    second: tuple[Instance, Callable[[Ctx], Awaitable[Any]]],
) -> tuple[Any, Any]:
    """Run `first` in a transaction of one instance and, while it is still open, `second`
    in a transaction of the other; commit the first once the second waits for it (or
    has finished without waiting)."""
    (one, work_one), (two, work_two) = first, second
    async with asyncio.timeout(60):
        async with one.store.begin() as uow:
            result_one = await work_one(one.ctx(uow))
            other = asyncio.create_task(two.run(work_two))
            while not other.done() and not await _waiting_on_a_lock(url):
                await asyncio.wait([other], timeout=0.05)
        return result_one, await other


async def test_two_instances_never_give_a_day_more_decisions_than_its_capacity(
    instances: tuple[Instance, Instance],
    database: str,  # noqa: F811
) -> None:
    one, two = instances
    ready = datetime(2026, 9, 1, tzinfo=UTC)

    async def slot(ctx: Ctx) -> int:
        return await service._decision_slot(ctx, Route.REGULAR, ready)

    day_one, day_two = await _concurrently(database, (one, slot), (two, slot))
    assert day_two == day_one + 1, "one decision a day: the second instance takes the next day"
    async with one.store.engine.connect() as conn:
        rows = (await conn.execute(select(service.decision_days))).all()
    assert sorted((r.day, r.used) for r in rows) == [(day_one, 1), (day_one + 1, 1)]


def _border_case(v_nummer: str, clock: SimClock) -> ScreeningCompleted:
    """At the external border with a security flag: the border procedure (priority 2),
    no Dublin claim."""
    screened = ScreeningCompleted(
        v_nummer=v_nummer,
        referral=Referral.REFERRAL_ASYLUM,
        setting=ArrivalSetting.ARRIVAL_SETTING_EXTERNAL_BORDER,
        claimed_age=30,
        started_at=timestamp(clock.now()),
        completed_at=timestamp(clock.now()),
    )
    screened.indicators.security_flag = True
    screened.indicators.partner_reference = f"REF-{v_nummer}"
    screened.form.nationalities.append("SYR")
    return screened


async def test_two_instances_never_hand_out_more_border_places_than_there_are(
    instances: tuple[Instance, Instance],
    database: str,  # noqa: F811
) -> None:
    one, two = instances
    people = ("2600000001", "2600000002")
    for v in people:
        screened = _border_case(v, one.clock)
        async with one.store.begin() as uow:
            await service.on_screening_completed(screened, one.ctx(uow))
    async with one.store.engine.connect() as conn:
        ids = {
            r.v_nummer: r.application_id for r in await conn.execute(select(service.applications))
        }

    def register(v: str) -> Callable[[Ctx], Awaitable[None]]:
        timer = Timer(0, service.REGISTER, v, one.clock.now(), ids[v].encode(), {})
        return lambda ctx: service.on_register(timer, ctx)

    await _concurrently(database, (one, register(people[0])), (two, register(people[1])))
    async with one.store.engine.connect() as conn:
        routes = {r.v_nummer: r.route for r in await conn.execute(select(service.applications))}
        places = [r.v_nummer for r in await conn.execute(select(service.border_places))]
    assert routes[people[0]] == Route.BORDER.value
    assert routes[people[1]] != Route.BORDER.value, "no place left for the second"
    assert places == [people[0]], "one border place, held by the first"


async def test_one_case_made_the_netherlands_responsible_twice_at_once_is_routed_once(
    instances: tuple[Instance, Instance],
    database: str,  # noqa: F811
) -> None:
    """The member state refuses (a timer on one instance) while the IND's own Dublin
    deadline is breached (a timer on the other): the second sees the first's work."""
    one, two = instances
    v = "2600000003"
    screened = _border_case(v, one.clock)
    screened.setting = ArrivalSetting.ARRIVAL_SETTING_INLAND
    screened.indicators.security_flag = False
    screened.indicators.eurodac_hit = True
    screened.indicators.eurodac_member_state = "GR"
    screened.indicators.eurodac_category = "IRREGULAR_BORDER_CROSSER"
    async with one.store.begin() as uow:
        await service.on_screening_completed(screened, one.ctx(uow))
    async with one.store.engine.connect() as conn:
        (application_id,) = [
            r.application_id for r in await conn.execute(select(service.applications))
        ]
    now = one.clock.now()
    async with one.store.begin() as uow:
        register = Timer(0, service.REGISTER, v, now, application_id.encode(), {})
        await service.on_register(register, one.ctx(uow))

    async def refused(ctx: Ctx) -> None:
        reply = Timer(0, service.DUBLIN_REPLY, v, now, f"{application_id}|REJECT".encode(), {})
        await service.on_dublin_reply(reply, ctx)

    async def breached(ctx: Ctx) -> None:
        missed = Deadline(
            0, service.DUBLIN_REQUEST.name, v, application_id, now, now, STARTED, None
        )
        await service._nl_responsible_on_breach(missed, ctx)

    await _concurrently(database, (one, refused), (two, breached))
    async with one.store.engine.connect() as conn:
        steps = [
            DublinStep.FromString(r.value)
            for r in await conn.execute(select(one.store.outbox))
            if r.topic == "asylum.dublin.v1"
        ]
        (row,) = (await conn.execute(select(service.applications))).all()
    responsible = [s for s in steps if s.step == DublinStepKind.DUBLIN_STEP_KIND_NL_RESPONSIBLE]
    assert len(responsible) == 1, "the Netherlands became responsible once"
    assert row.status == "LODGING" and row.route != Route.DUBLIN.value


async def test_one_instance_on_sqlite_keeps_the_daily_capacity(
    tmp_path: Path, small_capacity: None
) -> None:
    instance = Instance(f"sqlite+aiosqlite:///{tmp_path / 'asylum.db'}", tmp_path)
    await instance.store.start()
    try:
        ready = datetime(2026, 9, 1, tzinfo=UTC)
        days = [
            await instance.run(lambda ctx: service._decision_slot(ctx, Route.REGULAR, ready))
            for _ in range(3)
        ]
    finally:
        await instance.store.close()
    first = int(ready.timestamp() // service.DAY)
    assert days == [first, first + 1, first + 2]

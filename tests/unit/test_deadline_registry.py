"""Every legal deadline any service registers gives an at-risk, a breached and a met event:
walk the kit's registry after importing every service, and drive each type through the
kit on a fake clock, in the owning service's own (SQLite) store."""

from __future__ import annotations

import importlib
import pkgutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import MetaData

from chainkit import deadlines
from chainkit.clock import SimClock
from chainkit.deadlines import DeadlineType
from chainkit.runtime import Ctx, ServiceSpec
from chainkit.settings import Settings
from chainkit.store import Store
from migratieketen.v1.deadline_pb2 import DeadlineBreached, DeadlineEvent, DeadlineState

SERVICES = ("bvv", "screening", "europaloket", "asylum", "reception", "returns")
START = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
S = DeadlineState
KIT_TABLES = ("outbox", "inbox", "timers")


def _specs() -> dict[str, ServiceSpec]:
    specs = {}
    for name in SERVICES:
        package = importlib.import_module(name)
        for module in pkgutil.iter_modules(package.__path__):
            if module.name != "__main__":
                importlib.import_module(f"{name}.{module.name}")
        spec = importlib.import_module(f"{name}.service").SPEC
        specs[spec.name] = spec
    return specs


SPECS = _specs()
CHAIN_TYPES = sorted(
    (t for t in deadlines.REGISTRY.values() if t.service in SPECS), key=lambda t: t.name
)


class FakeClock(SimClock):
    def __init__(self) -> None:
        super().__init__(0.0, 1.0)
        self.moment = START

    def now(self) -> datetime:
        return self.moment


def test_the_services_register_their_deadlines() -> None:
    names = {t.name for t in CHAIN_TYPES}
    assert {"screening.time_limit", "screening.eurodac_72h"} <= names
    for dtype in CHAIN_TYPES:
        assert dtype.description, f"{dtype.name} says which rule it watches"


@pytest.mark.parametrize("dtype", CHAIN_TYPES, ids=lambda t: t.name)
async def test_each_deadline_type_is_at_risk_breached_and_met(
    dtype: DeadlineType, tmp_path: Path
) -> None:
    spec = SPECS[dtype.service]
    metadata = MetaData()  # the service's tables; the store adds the kit's own
    for table in spec.metadata.sorted_tables:
        if table.name not in KIT_TABLES:
            table.to_metadata(metadata)
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'svc.db'}", metadata, spec.name)
    await store.start()
    clock = FakeClock()
    settings = Settings(deadline_at_risk_share=0.75)

    def ctx(uow: object) -> Ctx:
        return Ctx(uow, clock, settings, spec.name, spec.stage)  # type: ignore[arg-type]

    async def fire_due() -> None:
        async with store.begin() as uow:
            for timer in await store.due_timers(clock.now()):
                assert await store.claim_timers(uow, [timer.id]) == {timer.id}
                await spec.timers[timer.kind](timer, ctx(uow))

    try:
        due = START + timedelta(days=8)
        async with store.begin() as uow:
            await ctx(uow).watch(dtype, "2600000001", due, ref="late")
            await ctx(uow).watch(dtype, "2600000002", due, ref="kept")
        clock.moment = START + timedelta(days=6, seconds=1)  # 75 % of the period
        await fire_due()
        async with store.begin() as uow:
            await ctx(uow).meet(dtype, "2600000002", ref="kept")
        clock.moment = due + timedelta(seconds=1)
        await fire_due()

        async with store.engine.connect() as conn:
            rows = (await conn.execute(store.outbox.select().order_by(store.outbox.c.id))).all()
        events = [
            (e.v_nummer, e.state)
            for e in (
                DeadlineEvent.FromString(r.value) for r in rows if r.topic == "chain.deadline.v1"
            )
            if e.type == dtype.name
        ]
        breaches = [
            DeadlineBreached.FromString(r.value)
            for r in rows
            if r.topic == "chain.deadline-breached.v1"
        ]
    finally:
        await store.close()
    assert ("2600000001", S.DEADLINE_STATE_AT_RISK) in events
    assert ("2600000001", S.DEADLINE_STATE_BREACHED) in events
    assert ("2600000002", S.DEADLINE_STATE_MET) in events
    assert ("2600000002", S.DEADLINE_STATE_BREACHED) not in events
    assert [(b.v_nummer, b.rule) for b in breaches] == [("2600000001", dtype.name)]

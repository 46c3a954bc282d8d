"""The kit's legal-deadline watch: started, at risk, breached, met (late), cancelled,
stored in a real SQLite store and fired through the stored timers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import MetaData
from sqlalchemy.sql import ClauseElement

from chainkit import deadlines, fastsql
from chainkit.clock import SimClock
from chainkit.deadlines import Deadline, DeadlineType
from chainkit.runtime import Ctx, ServiceSpec
from chainkit.settings import Settings
from chainkit.store import Store, Timer
from migratieketen.v1.deadline_pb2 import DeadlineBreached, DeadlineEvent, DeadlineState

START = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
breaches: list[Deadline] = []


async def _record_breach(deadline: Deadline, ctx: Ctx) -> None:
    breaches.append(deadline)


TEST_LIMIT = DeadlineType(
    "kittest.limit", service="kittest", description="do it within 10 days (test rule)"
)
WITH_HANDLER = DeadlineType(
    "kittest.handled",
    service="kittest",
    description="a limit whose breach has a consequence (test rule)",
    on_breach=_record_breach,
)


class FakeClock(SimClock):
    def __init__(self, now: datetime) -> None:
        super().__init__(0.0, 1.0)
        self.moment = now

    def now(self) -> datetime:
        return self.moment


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    spec = ServiceSpec(name="kittest", stage="test", metadata=MetaData(), handlers={})
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'kit.db'}", spec.metadata, "kittest")
    await store.start()
    yield store
    await store.close()


def _ctx(store: Store, uow: object, clock: FakeClock) -> Ctx:
    settings = Settings(deadline_at_risk_share=0.5)
    return Ctx(uow, clock, settings, "kittest", "test")  # type: ignore[arg-type]


async def _fire_due(store: Store, clock: FakeClock) -> None:
    async with store.begin() as uow:
        for timer in await store.due_timers(clock.now()):
            assert await store.claim_timers(uow, [timer.id]) == {timer.id}
            await deadlines.TIMERS[timer.kind](timer, _ctx(store, uow, clock))


async def _events(store: Store) -> list[tuple[str, DeadlineState.ValueType]]:
    async with store.engine.connect() as conn:
        rows = (await conn.execute(store.outbox.select().order_by(store.outbox.c.id))).all()
    out: list[tuple[str, DeadlineState.ValueType]] = []
    for row in rows:
        if row.topic == "chain.deadline.v1":
            event = DeadlineEvent.FromString(row.value)
            out.append((event.type, event.state))
        elif row.topic == "chain.deadline-breached.v1":
            out.append((DeadlineBreached.FromString(row.value).rule, -1))  # type: ignore[arg-type]
    return out


S = DeadlineState


async def test_started_at_risk_breached_then_met_late(store: Store) -> None:
    clock = FakeClock(START)
    async with store.begin() as uow:
        await _ctx(store, uow, clock).watch(
            TEST_LIMIT, "2600000001", START + timedelta(days=10), ref="app-1"
        )
    clock.moment = START + timedelta(days=4)
    await _fire_due(store, clock)
    assert await _events(store) == [("kittest.limit", S.DEADLINE_STATE_STARTED)]
    clock.moment = START + timedelta(days=5)
    await _fire_due(store, clock)
    clock.moment = START + timedelta(days=10, seconds=1)
    await _fire_due(store, clock)
    clock.moment = START + timedelta(days=12)
    async with store.begin() as uow:
        met = await _ctx(store, uow, clock).meet(TEST_LIMIT, "2600000001", ref="app-1")
    assert met is not None and met.state == S.DEADLINE_STATE_MET
    assert met.late_seconds == 2 * 86_400
    assert await _events(store) == [
        ("kittest.limit", S.DEADLINE_STATE_STARTED),
        ("kittest.limit", S.DEADLINE_STATE_AT_RISK),
        ("kittest.limit", S.DEADLINE_STATE_BREACHED),
        ("kittest.limit", -1),
        ("kittest.limit", S.DEADLINE_STATE_MET),
    ]


async def test_a_timer_that_comes_late_for_its_state_changes_nothing(store: Store) -> None:
    """The at-risk timer of a breached period and the breach timer of a met one leave
    the state and publish nothing; each state change is one statement on the driver."""
    clock = FakeClock(START)
    async with store.begin() as uow:
        watched = await _ctx(store, uow, clock).watch(
            TEST_LIMIT, "2600000002", START + timedelta(days=10)
        )
    payload = str(watched.id).encode()
    stale = [
        Timer(0, deadlines.AT_RISK_TIMER, "2600000002", START, payload, {}),
        Timer(0, deadlines.BREACHED_TIMER, "2600000002", START, payload, {}),
    ]
    clock.moment = START + timedelta(days=11)
    await _fire_due(store, clock)  # at risk, then breached
    async with store.begin() as uow:
        await deadlines.on_at_risk(stale[0], _ctx(store, uow, clock))
        await deadlines.on_breached(stale[1], _ctx(store, uow, clock))
    assert [state for _, state in await _events(store)] == [
        S.DEADLINE_STATE_STARTED,
        S.DEADLINE_STATE_AT_RISK,
        S.DEADLINE_STATE_BREACHED,
        -1,
    ]
    async with store.begin() as uow:
        found = await deadlines.find(uow, TEST_LIMIT, "2600000002")
    assert found is not None and found.state == S.DEADLINE_STATE_BREACHED
    advance = cast(ClauseElement, deadlines._STATEMENTS[deadlines.table(store.metadata)].advance)
    assert any(plan is not None for plan in (fastsql._PLANS.get(advance) or {}).values())


async def test_met_in_time_fires_nothing_later_and_is_idempotent(store: Store) -> None:
    clock = FakeClock(START)
    async with store.begin() as uow:
        await _ctx(store, uow, clock).watch(TEST_LIMIT, "2600000002", START + timedelta(days=10))
    clock.moment = START + timedelta(days=1)
    async with store.begin() as uow:
        ctx = _ctx(store, uow, clock)
        first = await ctx.meet(TEST_LIMIT, "2600000002")
        again = await ctx.meet(TEST_LIMIT, "2600000002")
    assert first is not None and first.late_seconds == 0
    assert again == first
    clock.moment = START + timedelta(days=30)
    await _fire_due(store, clock)
    assert await _events(store) == [
        ("kittest.limit", S.DEADLINE_STATE_STARTED),
        ("kittest.limit", S.DEADLINE_STATE_MET),
    ]


async def test_met_late_before_the_breach_timer_fired_is_a_breach_too(store: Store) -> None:
    clock = FakeClock(START)
    async with store.begin() as uow:
        await _ctx(store, uow, clock).watch(TEST_LIMIT, "2600000003", START + timedelta(days=1))
    clock.moment = START + timedelta(days=3)
    async with store.begin() as uow:
        await _ctx(store, uow, clock).meet(TEST_LIMIT, "2600000003")
    await _fire_due(store, clock)
    states = [state for _, state in await _events(store)]
    assert states == [
        S.DEADLINE_STATE_STARTED,
        S.DEADLINE_STATE_BREACHED,
        -1,
        S.DEADLINE_STATE_MET,
    ]


async def test_unwatch_cancels_and_rewatch_replaces(store: Store) -> None:
    clock = FakeClock(START)
    async with store.begin() as uow:
        ctx = _ctx(store, uow, clock)
        await ctx.watch(TEST_LIMIT, "2600000004", START + timedelta(days=2), ref="a")
        await ctx.watch(TEST_LIMIT, "2600000004", START + timedelta(days=20), ref="a")
        await ctx.watch(TEST_LIMIT, "2600000004", START + timedelta(days=2), ref="b")
        await ctx.unwatch(TEST_LIMIT, "2600000004", ref="b", reason="procedure changed")
    clock.moment = START + timedelta(days=5)
    await _fire_due(store, clock)
    async with store.begin() as uow:
        found = await deadlines.find(uow, TEST_LIMIT, "2600000004", ref="a")
    # the replaced period runs to day 20: nothing fired at day 5
    assert found is not None and found.state == S.DEADLINE_STATE_STARTED
    assert found.due_at == START + timedelta(days=20)
    states = [state for _, state in await _events(store)]
    assert states == [
        S.DEADLINE_STATE_STARTED,
        S.DEADLINE_STATE_STARTED,
        S.DEADLINE_STATE_STARTED,
        S.DEADLINE_STATE_CANCELLED,
    ]


async def test_breach_runs_the_owners_handler(store: Store) -> None:
    breaches.clear()
    clock = FakeClock(START)
    async with store.begin() as uow:
        await _ctx(store, uow, clock).watch(WITH_HANDLER, "2600000005", START + timedelta(hours=1))
    clock.moment = START + timedelta(hours=2)
    await _fire_due(store, clock)
    assert [b.v_nummer for b in breaches] == ["2600000005"]
    assert breaches[0].state == S.DEADLINE_STATE_BREACHED


def test_registry_rejects_a_conflicting_second_definition() -> None:
    assert deadlines.REGISTRY["kittest.limit"] is TEST_LIMIT
    with pytest.raises(ValueError, match="registered twice"):
        DeadlineType("kittest.limit", service="kittest", description="another rule")
    with pytest.raises(ValueError, match="must start with"):
        DeadlineType("other.limit", service="kittest", description="x")


def test_every_service_spec_fires_the_kit_deadline_timers() -> None:
    spec = ServiceSpec(name="x", stage="x", metadata=MetaData(), handlers={})
    assert set(deadlines.TIMERS) <= set(spec.timers)
    assert "deadlines" in spec.metadata.tables

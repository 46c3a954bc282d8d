"""COA's reception on a real SQLite store (no broker): the ladder up and down under a
surge, without a place at the top, the 4-week end after a rejection, MOB after missed
reports, one bed per person, and every figure kept across a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from sqlalchemy import MetaData, select

from chainkit import deadlines, metrics
from chainkit.clock import SimClock
from chainkit.runtime import ServiceRuntime, ServiceSpec, chance
from chainkit.settings import Settings
from chainkit.store import Timer
from e2e.test_postgres import database  # noqa: F401  (the fixture; skips without PostgreSQL)
from migratieketen.v1.arrival_pb2 import ArrivalReport
from migratieketen.v1.asylum_pb2 import (
    AsylumApplicationRegistered,
    AsylumDecision,
    AsylumProcedure,
    DecisionOutcome,
)
from migratieketen.v1.bvv_pb2 import PersonRegistered
from migratieketen.v1.common_pb2 import ArrivalSetting, Partner
from migratieketen.v1.deadline_pb2 import DeadlineState
from migratieketen.v1.outcome_pb2 import CaseOutcome, Outcome
from migratieketen.v1.reception_pb2 import (
    LadderChanged,
    LadderStep,
    LocationType,
    NoPlace,
    ReceptionEnded,
    ReceptionEndReason,
    ReceptionPlacement,
    ReportMissed,
)
from reception import service
from reception.domain import REPORT_LOOKAHEAD
from reception.settings import reception_settings

S = LadderStep
L = LocationType
DEPARTED, DTENV = Outcome.OUTCOME_DEPARTED_VOLUNTARY, Partner.PARTNER_DTENV
TABLE = """
[[location]]
name = "COL"
type = "CENTRAL_RECEPTION"
tier = "REGULAR"
capacity = 100
raisable = false

[[location]]
name = "azc"
type = "PROCESS_RECEPTION"
tier = "REGULAR"
capacity = 4

[[location]]
name = "reserve"
type = "PROCESS_RECEPTION"
tier = "RESERVE"
capacity = 1

[[location]]
name = "nood"
type = "PROCESS_RECEPTION"
tier = "EMERGENCY"
capacity = 1

[[location]]
name = "crisis"
type = "PROCESS_RECEPTION"
tier = "CRISIS"
capacity = 1

[[location]]
name = "centre"
type = "REGULAR_CENTRE"
tier = "REGULAR"
capacity = 3
"""
KINDS: dict[str, type[Message]] = {
    "reception.placed.v1": ReceptionPlacement,
    "reception.ended.v1": ReceptionEnded,
    "reception.ladder-changed.v1": LadderChanged,
    "reception.no-place.v1": NoPlace,
    "reception.report-missed.v1": ReportMissed,
    "case.outcome.v1": CaseOutcome,
}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / "locations.toml").write_text(TABLE)
    (tmp_path / "plants.toml").write_text(
        '[[person]]\npartner_reference = "MOB"\nmisses_reports = "arrival"\n'
        '[[person]]\npartner_reference = "LATER"\nmisses_reports = "decision"\n'
        "cooperates = false\n"
    )
    monkeypatch.setenv("MK_RECEPTION_LOCATIONS_FILE", str(tmp_path / "locations.toml"))
    monkeypatch.setenv("MK_RECEPTION_CAPACITY_SCALE", "1")
    monkeypatch.setenv("MK_RECEPTION_COL_OVERNIGHT_CAP", "100")
    monkeypatch.setenv("MK_RECEPTION_RAISE_SHARE", "0.25")
    monkeypatch.setenv("MK_RECEPTION_MISS_SHARE", "0")
    monkeypatch.setenv("MK_RECEPTION_MOB_SHARE", "0")
    monkeypatch.setenv("MK_RECEPTION_VBL_SHARE", "0")
    monkeypatch.setenv("MK_RECEPTION_FIXTURES", str(tmp_path / "plants.toml"))
    reception_settings.cache_clear()
    yield tmp_path
    reception_settings.cache_clear()


class Reception:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def handle(self, handler: Any, event: Any) -> None:
        async with self.runtime.store.begin() as uow:
            await self.lock(uow)
            await handler(event, self.runtime.ctx(uow))

    async def lock(self, uow: Any) -> None:
        """What the kit does first in every batch and timer round."""
        if self.runtime.spec.lock is not None:
            await self.runtime.spec.lock(uow.conn)

    async def fire(self, kind: str, v_nummer: str) -> None:
        far = self.runtime.clock.now().replace(year=2100)
        due = [
            t
            for t in await self.runtime.store.due_timers(far, limit=10_000)
            if t.kind == kind and t.v_nummer == v_nummer
        ]
        assert due, f"no {kind} timer for {v_nummer}"
        timer: Timer = due[0]
        async with self.runtime.store.begin() as uow:
            await self.lock(uow)
            assert await self.runtime.store.claim_timers(uow, [timer.id]) == {timer.id}
            await self.runtime.spec.timers[kind](timer, self.runtime.ctx(uow))

    async def rows(self, table: Any) -> list[Any]:
        async with self.runtime.store.engine.connect() as conn:
            return list(await conn.execute(select(table)))

    async def published(self, kind: type[Message]) -> list[Any]:
        rows = await self.rows(self.runtime.store.outbox)
        return [
            KINDS[r.topic].FromString(r.value)
            for r in rows
            if r.topic in KINDS and KINDS[r.topic] is kind
        ]

    async def occupancy(self) -> dict[str, int]:
        return {r.name: r.occupancy for r in await self.rows(service.locations)}


async def _runtime(data_dir: Path, database_url: str | None = None) -> ServiceRuntime:
    fresh = MetaData()
    for table in service.SPEC.metadata.tables.values():
        if table.name not in ("outbox", "inbox", "timers"):
            table.to_metadata(fresh)
    spec = ServiceSpec(
        "reception",
        "reception",
        fresh,
        handlers=service.SPEC.handlers,
        timers=service.SPEC.timers,
        lock=service.SPEC.lock,
    )
    settings = Settings(
        data_dir=data_dir, bootstrap_servers="127.0.0.1:9", database_url=database_url
    )
    runtime = ServiceRuntime(spec, settings)
    await runtime.store.start()
    await service.sync_locations(runtime)
    return runtime


@pytest.fixture
async def coa(env: Path) -> AsyncIterator[Reception]:
    runtime = await _runtime(env)
    try:
        yield Reception(runtime)
    finally:
        await runtime.store.close()
        await runtime.producer.stop()
        runtime.provider.shutdown()


def v(n: int) -> str:
    return f"26000{n:05d}"


async def arrive(coa: Reception, n: int, ref: str = "", family: bool = False) -> None:
    arrival = ArrivalReport(
        partner_reference=ref or f"R{n}",
        setting=ArrivalSetting.ARRIVAL_SETTING_INLAND,
        asylum_requested=True,
        claimed_age=30,
        accompanied=True,
    )
    await coa.handle(service.on_registered, PersonRegistered(v_nummer=v(n), arrival=arrival))
    await coa.handle(
        service.on_application,
        AsylumApplicationRegistered(
            v_nummer=v(n),
            procedure=AsylumProcedure.ASYLUM_PROCEDURE_REGULAR,
            family_with_children=family,
        ),
    )


async def test_a_surge_climbs_the_ladder_step_by_step_and_comes_down(coa: Reception) -> None:
    for n in range(1, 10):
        await arrive(coa, n)
    steps = await coa.published(LadderChanged)
    assert [(s.previous_step, s.step) for s in steps] == [
        (S.LADDER_STEP_REGULAR, S.LADDER_STEP_RAISED_OCCUPANCY),
        (S.LADDER_STEP_RAISED_OCCUPANCY, S.LADDER_STEP_RESERVE_CAPACITY),
        (S.LADDER_STEP_RESERVE_CAPACITY, S.LADDER_STEP_EMERGENCY_RECEPTION),
        (S.LADDER_STEP_EMERGENCY_RECEPTION, S.LADDER_STEP_CRISIS_EMERGENCY_RECEPTION),
    ]
    # What caused each step: everyone housed, including the one waiting in COL to move.
    assert [s.occupancy for s in steps] == [5, 6, 7, 8]
    (no_place,) = await coa.published(NoPlace)
    assert no_place.v_nummer == v(9) and no_place.step == S.LADDER_STEP_CRISIS_EMERGENCY_RECEPTION
    occupancy = await coa.occupancy()
    assert occupancy == {"COL": 1, "azc": 5, "reserve": 1, "nood": 1, "crisis": 1, "centre": 0}
    # Demand falls: people leave, the ladder comes down in reverse order.
    for n in range(1, 10):
        await coa.handle(
            service.on_outcome, CaseOutcome(v_nummer=v(n), outcome=DEPARTED, decided_by=DTENV)
        )
    down = [(s.previous_step, s.step) for s in await coa.published(LadderChanged)][4:]
    assert down == [
        (S.LADDER_STEP_CRISIS_EMERGENCY_RECEPTION, S.LADDER_STEP_EMERGENCY_RECEPTION),
        (S.LADDER_STEP_EMERGENCY_RECEPTION, S.LADDER_STEP_RESERVE_CAPACITY),
        (S.LADDER_STEP_RESERVE_CAPACITY, S.LADDER_STEP_RAISED_OCCUPANCY),
        (S.LADDER_STEP_RAISED_OCCUPANCY, S.LADDER_STEP_REGULAR),
    ]
    assert set((await coa.occupancy()).values()) == {0}


async def test_the_person_without_a_place_is_placed_once_one_frees_up(coa: Reception) -> None:
    for n in range(1, 10):
        await arrive(coa, n)
    await coa.handle(
        service.on_outcome, CaseOutcome(v_nummer=v(1), outcome=DEPARTED, decided_by=DTENV)
    )
    last = (await coa.published(ReceptionPlacement))[-1]
    assert (last.v_nummer, last.previous_location) == (v(9), "COL")
    assert (await coa.occupancy())["COL"] == 0


async def test_nobody_holds_two_places(coa: Reception) -> None:
    for n in range(1, 10):
        await arrive(coa, n)
        await arrive(coa, n)  # a redelivered or repeated event changes nothing
    people = await coa.rows(service.residents)
    held = sum(1 for p in people if p.location is not None)
    assert held == sum((await coa.occupancy()).values()) == 9


async def test_a_rejected_applicant_loses_reception_4_weeks_after_the_decision(
    coa: Reception,
) -> None:
    await arrive(coa, 1)
    decision = AsylumDecision(
        v_nummer=v(1),
        outcome=DecisionOutcome.DECISION_OUTCOME_REJECTED_UNFOUNDED,
        return_decision=True,
    )
    before = coa.runtime.clock.now()
    await coa.handle(service.on_decision, decision)
    (timer,) = [
        t
        for t in await coa.runtime.store.due_timers(before.replace(year=2100))
        if t.kind == service.END
    ]
    assert 27.9 < (timer.due_at - before).total_seconds() / 86400 < 28.1
    await coa.fire(service.END, v(1))
    (ended,) = await coa.published(ReceptionEnded)
    assert ended.reason == ReceptionEndReason.RECEPTION_END_REASON_DEPARTURE_PERIOD_ENDED
    assert ended.location == "azc"


async def test_a_suspensive_appeal_keeps_reception_until_the_court_decides(
    coa: Reception,
) -> None:
    await arrive(coa, 1)
    decision = AsylumDecision(
        v_nummer=v(1),
        outcome=DecisionOutcome.DECISION_OUTCOME_REJECTED_UNFOUNDED,
        return_decision=True,
        suspensive_appeal_pending=True,
    )
    await coa.handle(service.on_decision, decision)
    far = coa.runtime.clock.now().replace(year=2100)
    assert not [t for t in await coa.runtime.store.due_timers(far) if t.kind == service.END]


class FixedClock(SimClock):
    """The chain clock, standing still until the test moves it."""

    def __init__(self) -> None:
        super().__init__(0.0, 1.0)
        self.moment = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment


@pytest.fixture
def clock(coa: Reception) -> FixedClock:
    fixed = FixedClock()
    coa.runtime.clock = fixed
    return fixed


async def report_timers(coa: Reception, v_nummer: str) -> list[Timer]:
    far = datetime(2200, 1, 1, tzinfo=UTC)
    return [
        t
        for t in await coa.runtime.store.due_timers(far, limit=10_000)
        if t.kind == service.REPORT and t.v_nummer == v_nummer
    ]


async def resident(coa: Reception, v_nummer: str) -> Any:
    (row,) = [r for r in await coa.rows(service.residents) if r.v_nummer == v_nummer]
    return row


async def fire_at_due(coa: Reception, clock: FixedClock, v_nummer: str) -> None:
    (timer,) = await report_timers(coa, v_nummer)
    clock.moment = timer.due_at
    await coa.fire(service.REPORT, v_nummer)


def days_after(moment: Timestamp, start: datetime) -> float:
    return (moment.ToDatetime(tzinfo=UTC) - start).total_seconds() / 86_400


async def test_missed_reports_end_in_mob(coa: Reception, clock: FixedClock) -> None:
    await arrive(coa, 1, ref="MOB")  # planted: misses every report from arrival
    placed = clock.now()
    (interval,) = {p.reporting_interval_days for p in await coa.published(ReceptionPlacement)} - {0}
    assert interval == 7  # weekly; none in COL
    for _ in range(3):
        await fire_at_due(coa, clock, v(1))
    missed = await coa.published(ReportMissed)
    assert [m.missed_in_a_row for m in missed] == [1, 2, 3]
    assert [days_after(m.due_at, placed) for m in missed] == [7, 14, 21]
    assert {(m.location, m.limit) for m in missed} == {("azc", 3)}
    (ended,) = await coa.published(ReceptionEnded)
    assert ended.reason == ReceptionEndReason.RECEPTION_END_REASON_ABSCONDED
    assert "3 reports missed" in ended.detail
    assert not await report_timers(coa, v(1))
    # The reporting duty is the resident's, not a legal deadline of COA's: no rows.
    async with coa.runtime.store.engine.connect() as conn:
        types = {r.type for r in await conn.execute(select(deadlines.table(service.metadata)))}
    assert not [t for t in types if "report" in t]


async def test_a_family_reports_daily(coa: Reception, clock: FixedClock) -> None:
    await arrive(coa, 1, ref="MOB", family=True)
    placed = clock.now()
    placements = await coa.published(ReceptionPlacement)
    assert placements[-1].reporting_interval_days == 1
    for _ in range(3):
        await fire_at_due(coa, clock, v(1))
    missed = await coa.published(ReportMissed)
    assert [days_after(m.due_at, placed) for m in missed] == [1, 2, 3]
    assert [m.missed_in_a_row for m in missed] == [1, 2, 3]
    (ended,) = await coa.published(ReceptionEnded)
    assert ended.reason == ReceptionEndReason.RECEPTION_END_REASON_ABSCONDED


def _report_by_report(seed: str, share: float, limit: int) -> list[tuple[int, int, int]]:
    """Misses as one stored timer per report drew them: (report number, in a row, made)."""
    made = in_a_row = 0
    missed = []
    for number in range(1, 1000):
        if chance(seed, made + in_a_row) >= share:
            made, in_a_row = made + 1, 0
            continue
        in_a_row += 1
        missed.append((number, in_a_row, made))
        if in_a_row >= limit:
            break
    return missed


async def test_only_misses_are_events_and_each_costs_one_timer(
    coa: Reception, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MK_RECEPTION_MISS_SHARE", "0.4")
    reception_settings.cache_clear()
    seed = f"{coa.runtime.settings.seed}|report|{v(1)}"
    expected = _report_by_report(seed, 0.4, 3)
    assert expected[-1][1] == 3 and len(expected) > 3  # single misses, then MOB
    await arrive(coa, 1)
    placed = clock.now()
    seen = []
    while not await coa.published(ReceptionEnded):
        (timer,) = await report_timers(coa, v(1))  # one stored timer, at the next miss
        number = round((timer.due_at - placed).total_seconds() / 86_400 / 7)
        await fire_at_due(coa, clock, v(1))
        person = await resident(coa, v(1))
        seen.append((number, person.missed_in_a_row, person.reports_made))
    assert seen == expected
    missed = await coa.published(ReportMissed)
    assert [(round(days_after(m.due_at, placed) / 7), m.missed_in_a_row) for m in missed] == [
        (number, in_a_row) for number, in_a_row, _ in expected
    ]
    async with coa.runtime.store.engine.connect() as conn:
        assert not list(await conn.execute(select(deadlines.table(service.metadata))))


async def test_a_planted_resident_stops_reporting_after_the_decision(
    coa: Reception, clock: FixedClock
) -> None:
    await arrive(coa, 1, ref="LATER")
    placed = clock.now()
    clock.moment = placed + timedelta(days=30)  # 4 reports made
    decision = AsylumDecision(
        v_nummer=v(1),
        outcome=DecisionOutcome.DECISION_OUTCOME_REJECTED_UNFOUNDED,
        return_decision=True,
    )
    await coa.handle(service.on_decision, decision)
    assert (await resident(coa, v(1))).mob_after == 4
    for _ in range(3):
        await fire_at_due(coa, clock, v(1))
    missed = await coa.published(ReportMissed)
    assert [days_after(m.due_at, placed) for m in missed] == [35, 42, 49]
    (ended,) = await coa.published(ReceptionEnded)
    assert ended.reason == ReceptionEndReason.RECEPTION_END_REASON_ABSCONDED
    person = await resident(coa, v(1))
    assert (person.reports_made, person.missed_in_a_row, person.report_due) == (4, 3, None)


async def test_reports_made_are_tallied_without_a_timer_each(
    coa: Reception, clock: FixedClock
) -> None:
    await arrive(coa, 1)  # nobody misses a report (share 0)
    placed = clock.now()
    (timer,) = await report_timers(coa, v(1))  # a re-check after the look-ahead
    assert timer.due_at == placed + timedelta(weeks=REPORT_LOOKAHEAD)
    clock.moment = placed + timedelta(days=15)
    await coa.fire(service.TO_AZC, v(1))  # a move: 2 reports made, a new spell
    person = await resident(coa, v(1))
    assert (person.reports_made, person.location) == (2, "centre")
    assert person.reporting_since == clock.moment.timestamp()
    await fire_at_due(coa, clock, v(1))
    person = await resident(coa, v(1))
    assert person.reports_made == 2 + REPORT_LOOKAHEAD
    (timer,) = await report_timers(coa, v(1))
    assert timer.due_at == clock.moment + timedelta(weeks=REPORT_LOOKAHEAD)
    clock.moment += timedelta(days=22)
    await coa.handle(
        service.on_outcome, CaseOutcome(v_nummer=v(1), outcome=DEPARTED, decided_by=DTENV)
    )
    person = await resident(coa, v(1))
    assert person.reports_made == 2 + REPORT_LOOKAHEAD + 3
    assert (person.reporting_since, person.report_due) == (None, None)
    assert not await report_timers(coa, v(1))
    assert not await coa.published(ReportMissed)


async def test_occupancy_the_ladder_and_timers_survive_a_restart(env: Path) -> None:
    runtime = await _runtime(env)
    coa = Reception(runtime)
    for n in range(1, 7):
        await arrive(coa, n)
    await runtime.store.close()
    await runtime.producer.stop()
    runtime.provider.shutdown()
    again = Reception(await _runtime(env))
    try:
        assert (await again.occupancy())["reserve"] == 1
        (row,) = await again.rows(service.ladder)
        assert row.step == S.LADDER_STEP_RESERVE_CAPACITY
        await again.fire(service.REPORT, v(1))
    finally:
        await again.runtime.store.close()
        await again.runtime.producer.stop()
        again.runtime.provider.shutdown()


async def test_after_process_reception_the_procedure_continues_in_an_azc(coa: Reception) -> None:
    await arrive(coa, 1)
    await coa.fire(service.TO_AZC, v(1))
    _, first, second = await coa.published(ReceptionPlacement)
    assert (first.location, first.previous_location) == ("azc", "COL")
    assert (second.location, second.previous_location) == ("centre", "azc")
    assert second.location_type == L.LOCATION_TYPE_REGULAR_CENTRE
    assert (await coa.occupancy())["centre"] == 1


async def test_a_rejected_applicant_who_leaves_earlier_breaches_no_deadline(
    coa: Reception,
) -> None:
    await arrive(coa, 1)
    decision = AsylumDecision(
        v_nummer=v(1),
        outcome=DecisionOutcome.DECISION_OUTCOME_REJECTED_UNFOUNDED,
        return_decision=True,
    )
    await coa.handle(service.on_decision, decision)
    await coa.handle(
        service.on_outcome, CaseOutcome(v_nummer=v(1), outcome=DEPARTED, decided_by=DTENV)
    )
    async with coa.runtime.store.engine.connect() as conn:
        rows = list(await conn.execute(select(deadlines.table(service.metadata))))
    assert {r.state for r in rows} == {DeadlineState.DEADLINE_STATE_CANCELLED}


async def test_a_decision_that_overtakes_the_registration_is_applied_on_placement(
    coa: Reception,
) -> None:
    decision = AsylumDecision(
        v_nummer=v(1), outcome=DecisionOutcome.DECISION_OUTCOME_GRANTED_REFUGEE
    )
    await coa.handle(service.on_decision, decision)  # read before the registration
    await arrive(coa, 1)
    await coa.fire(service.HOUSING, v(1))
    (ended,) = await coa.published(ReceptionEnded)
    assert ended.reason == ReceptionEndReason.RECEPTION_END_REASON_HOUSED_IN_MUNICIPALITY
    (housed,) = await coa.published(CaseOutcome)
    assert housed.v_nummer == v(1)


def _gauges(reader: InMemoryMetricReader) -> dict[str, dict[str, float]]:
    data = reader.get_metrics_data()
    assert data is not None
    found: dict[str, dict[str, float]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    label = str((point.attributes or {}).get("location_type", ""))
                    found.setdefault(metric.name, {})[label] = point.value  # type: ignore[union-attr]
    return found


async def test_the_occupancy_gauges_follow_placements_and_ends(
    coa: Reception, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics, "_occupancy", [])
    monkeypatch.setattr(metrics, "_ladder", [])
    reader = InMemoryMetricReader()
    provider = metrics.setup_metrics("reception", readers=[reader])
    gauge = service.OccupancyGauge()
    metrics.observe_occupancy(lambda: gauge.by_type, lambda: gauge.step)
    try:
        for n in range(1, 10):
            await arrive(coa, n)
        await gauge.refresh(coa.runtime.store)
        seen = _gauges(reader)
        assert seen["mk.occupancy"] == {
            "CENTRAL_RECEPTION": 1,
            "PROCESS_RECEPTION": 8,
            "REGULAR_CENTRE": 0,
        }
        assert seen["mk.ladder.step"] == {"": S.LADDER_STEP_CRISIS_EMERGENCY_RECEPTION}
        await coa.handle(
            service.on_outcome, CaseOutcome(v_nummer=v(1), outcome=DEPARTED, decided_by=DTENV)
        )
        await gauge.refresh(coa.runtime.store)
        # One left: the one waiting in COL took the place.
        assert _gauges(reader)["mk.occupancy"]["CENTRAL_RECEPTION"] == 0
        assert _gauges(reader)["mk.occupancy"]["PROCESS_RECEPTION"] == 8
        for n in range(2, 10):
            await coa.handle(
                service.on_outcome, CaseOutcome(v_nummer=v(n), outcome=DEPARTED, decided_by=DTENV)
            )
        await gauge.refresh(coa.runtime.store)
        seen = _gauges(reader)
        assert set(seen["mk.occupancy"].values()) == {0}
        assert seen["mk.ladder.step"] == {"": S.LADDER_STEP_REGULAR}
    finally:
        provider.shutdown()


async def test_two_instances_on_postgresql_take_turns_for_the_last_place(
    env: Path,
    database: str,  # noqa: F811
) -> None:
    url = database.replace("postgresql://", "postgresql+asyncpg://", 1)
    one, two = Reception(await _runtime(env, url)), Reception(await _runtime(env, url))
    try:
        for n in range(1, 8):
            await arrive(one, n)  # every process reception place but crisis's one is taken
        for n in (8, 9):
            await one.handle(
                service.on_registered,
                PersonRegistered(
                    v_nummer=v(n),
                    arrival=ArrivalReport(
                        partner_reference=f"R{n}",
                        setting=ArrivalSetting.ARRIVAL_SETTING_INLAND,
                        asylum_requested=True,
                        claimed_age=30,
                        accompanied=True,
                    ),
                ),
            )
        handler = service.SPEC.handlers[AsylumApplicationRegistered]
        regular = AsylumProcedure.ASYLUM_PROCEDURE_REGULAR
        # Instance one holds its transaction open while instance two handles the other.
        async with one.runtime.store.begin() as uow:
            await one.lock(uow)
            await handler(
                AsylumApplicationRegistered(v_nummer=v(8), procedure=regular),
                one.runtime.ctx(uow),
            )
            other = asyncio.create_task(
                two.handle(handler, AsylumApplicationRegistered(v_nummer=v(9), procedure=regular))
            )
            await asyncio.sleep(1.0)  # instance two gets as far as it can
        await other
        occupancy = await one.occupancy()
        assert occupancy["crisis"] == 1, "one place, one person"
        assert sum(occupancy.values()) == 9  # 8 in process reception, the 9th waits in COL
        (no_place,) = await one.published(NoPlace)
        assert no_place.v_nummer == v(9)
        climbs = [(s.previous_step, s.step) for s in await one.published(LadderChanged)]
        assert (
            climbs.count(
                (S.LADDER_STEP_EMERGENCY_RECEPTION, S.LADDER_STEP_CRISIS_EMERGENCY_RECEPTION)
            )
            == 1
        )
    finally:
        for runtime in (one.runtime, two.runtime):
            await runtime.store.close()
            await runtime.producer.stop()
            runtime.provider.shutdown()

"""Reception handlers and tables (COA): house from arrival, move as the procedure needs,
climb and descend the scaling ladder, watch the reporting duty, end reception by COA's
rules. Occupancy, the ladder step and every running period live in the store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Row,
    String,
    Table,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from chainkit import metrics
from chainkit.clock import DAY, from_timestamp, timestamp
from chainkit.deadlines import DeadlineType
from chainkit.pact import is_granted, limits
from chainkit.people import is_minor_age
from chainkit.runtime import Ctx, ServiceRuntime, ServiceSpec
from chainkit.store import Store, Timer
from migratieketen.v1.asylum_pb2 import (
    AppealDecided,
    AppealOutcome,
    AsylumApplicationRegistered,
    AsylumDecision,
    DecisionOutcome,
)
from migratieketen.v1.bvv_pb2 import PersonRegistered
from migratieketen.v1.common_pb2 import ArrivalSetting, Partner
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
from migratieketen.v1.screening_pb2 import Referral, ScreeningCompleted
from reception.domain import (
    BOTTOM,
    REPORT_LOOKAHEAD,
    Location,
    Occupied,
    absconds_after,
    after_decision_location,
    can_step_down,
    capacity_at,
    climb,
    end_reason,
    is_mob,
    load_locations,
    load_municipalities,
    municipality,
    procedure_location,
    reporting_interval_days,
    reports_due,
    reports_until_miss,
    total_capacity,
    total_occupancy,
)
from reception.fixtures import load_fixtures
from reception.settings import reception_settings

log = logging.getLogger(__name__)
L = LocationType
R = ReceptionEndReason
REPORT, END, HOUSING = "report", "end-reception", "housing"
TO_AZC = "to-azc"
KNOWN, HOUSED, WAITING, ENDED = "known", "housed", "waiting", "ended"
# COA acts on the day a period ends; the kit watches that it did within this grace.
GRACE = timedelta(days=1)
# How often the occupancy gauge reads the committed figures from the store.
GAUGE_SECONDS = 1.0
GAUGE_IDLE_SECONDS = 30.0

RECEPTION_END = DeadlineType(
    "reception.end_after_rejection",
    service="reception",
    description="end reception 4 weeks after a final rejection (Rva 2005 Art. 7), within a day",
)

metadata = MetaData()
locations = Table(
    "locations",
    metadata,
    Column("name", String(120), primary_key=True),
    Column("type", String(60), nullable=False),
    Column("tier", String(20), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("raisable", Boolean, nullable=False),
    Column("occupancy", Integer, nullable=False),
)
ladder = Table(
    "ladder",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("step", Integer, nullable=False),
    Column("changed_at", Float, nullable=False),
)
residents = Table(
    "residents",
    metadata,
    Column("v_nummer", String(10), primary_key=True),
    Column("partner_reference", String(100), nullable=False),
    Column("state", String(20), nullable=False),
    Column("location", String(120), nullable=True),  # one bed at most: a column, not a list
    Column("location_type", String(60), nullable=True),
    Column("needed_type", String(60), nullable=True),  # waiting for a place of this type
    Column("needed_reason", String(60), nullable=True),
    Column("waiting_since", Float, nullable=True),  # first in, first placed
    # A decision that overtook the registration (another topic): applied on placement.
    Column("early_decision", LargeBinary, nullable=True),
    Column("applied", Boolean, nullable=False, default=False),  # registration processed
    Column("family", Boolean, nullable=False),
    Column("unaccompanied", Boolean, nullable=False),
    # The reporting duty, drawn ahead (see `_plan_reports`): reports made and missed in a
    # row as of `reporting_since` (the start of the running spell, or its last miss), one
    # report every `reporting_days`; `report_due` is when the stored `report` timer fires
    # (the next missed report, or a re-check after the look-ahead).
    Column("reports_made", Integer, nullable=False),
    Column("missed_in_a_row", Integer, nullable=False),
    Column("mob_after", Integer, nullable=True),  # stops reporting after this many reports
    Column("reporting_since", Float, nullable=True),
    Column("reporting_days", Float, nullable=True),
    Column("report_due", Float, nullable=True),
    Column("ended_at", Float, nullable=True),
    Column("end_reason", String(60), nullable=True),
    # The waiting list: who waits longest for a place of a type (see _fill), found
    # without reading every resident when thousands wait.
    Index("ix_residents_waiting", "state", "needed_type", "waiting_since", "v_nummer"),
)

# The statements run for nearly every event, built once (the values are parameters; an
# UPDATE without .values() sets the columns its parameters name, an INSERT without
# .values() the columns its parameters name).
_LOCK_LADDER = select(ladder.c.id).where(ladder.c.id == 1).with_for_update()
_LOCATIONS = select(locations).order_by(locations.c.name)
_STEP = select(ladder.c.step)
_SET_STEP = update(ladder)
_RESIDENT = select(residents).where(residents.c.v_nummer == bindparam("key_v_nummer"))
_ADD_RESIDENT = insert(residents)
_SET = update(residents).where(residents.c.v_nummer == bindparam("key_v_nummer"))
_OCCUPY = (
    update(locations)
    .where(locations.c.name == bindparam("key_name"))
    .values(occupancy=locations.c.occupancy + bindparam("delta"))
)
# Who waits longest for a place of a type.
_FIRST_WAITING = (
    select(residents.c.v_nummer, residents.c.needed_reason)
    .where(residents.c.state == WAITING, residents.c.needed_type == bindparam("key_needed_type"))
    .order_by(residents.c.waiting_since, residents.c.v_nummer)
    .limit(1)
)


async def _lock_ladder(conn: AsyncConnection) -> None:
    """Take the ladder row first (PostgreSQL; SQLite has one writer anyway): every
    reception transaction that writes does (the kit takes it first in every batch and
    timer round: ServiceSpec.lock), so two instances never hold locations,
    residents or the ladder in different orders (no deadlock), and never both place
    someone in the last free place or both admit the same person."""
    if conn.dialect.name != "sqlite":
        await conn.execute(_LOCK_LADDER)


async def sync_locations(runtime: ServiceRuntime) -> None:
    """Load the location table into the store; occupancy and the ladder step are kept."""
    cfg = reception_settings()
    table = load_locations(cfg.locations_file, cfg.capacity_scale, cfg.col_overnight_cap)
    async with runtime.store.begin() as uow:
        await uow.exclusive()  # a second instance starting at once sees the rows
        await _lock_ladder(uow.conn)  # an instance already running: after its transaction
        known = {r.name: r for r in await uow.conn.execute(select(locations))}
        for loc in sorted(table, key=lambda loc: loc.name):
            values = {
                "type": L.Name(loc.type),
                "tier": loc.tier,
                "capacity": loc.capacity,
                "raisable": loc.raisable,
            }
            row = known.get(loc.name)
            if row is not None:
                if {k: getattr(row, k) for k in values} != values:
                    await uow.conn.execute(
                        update(locations).where(locations.c.name == loc.name).values(values)
                    )
            else:
                await uow.conn.execute(
                    insert(locations).values(name=loc.name, occupancy=0, **values)
                )
        if (await uow.conn.execute(select(ladder.c.step))).first() is None:
            now = runtime.clock.now().timestamp()
            await uow.conn.execute(insert(ladder).values(id=1, step=BOTTOM, changed_at=now))


@dataclass
class OccupancyGauge:
    """Occupied places per location type and the ladder step, as last committed: what
    `chainkit.metrics` exports as mk.occupancy and mk.ladder.step."""

    by_type: dict[str, float] = field(default_factory=dict)
    step: int | None = None

    async def refresh(self, store: Store) -> None:
        async with store.engine.connect() as conn:
            rows = await conn.execute(
                select(locations.c.type, func.sum(locations.c.occupancy)).group_by(locations.c.type)
            )
            by_type = {str(kind).removeprefix("LOCATION_TYPE_"): float(n or 0) for kind, n in rows}
            self.step = (await conn.execute(select(ladder.c.step))).scalar_one_or_none()
        self.by_type = by_type


async def occupancy_gauge(runtime: ServiceRuntime) -> None:
    """Worker: registers the occupancy and ladder gauges and keeps them current."""
    gauge = OccupancyGauge()
    metrics.observe_occupancy(lambda: gauge.by_type, lambda: gauge.step)
    committed = runtime.store.committed
    while True:
        committed.clear()
        try:
            await gauge.refresh(runtime.store)
        except SQLAlchemyError as error:  # the next read tries again
            log.warning("reception: occupancy not read (%s)", error)
            committed.set()
        # At most once a GAUGE_SECONDS, and only after a commit here (or, for the
        # commits of other instances on PostgreSQL, after GAUGE_IDLE_SECONDS).
        await asyncio.sleep(GAUGE_SECONDS)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(committed.wait(), GAUGE_IDLE_SECONDS)


# Location objects by their stored fields: every placement reads all locations, and
# building 23 of them (a frozen dataclass and an enum lookup each) was 50 of the read's
# 60 µs. Only the occupancy changes from one read to the next.
_KNOWN_LOCATIONS: dict[tuple[Any, ...], Location] = {}


def _location(name: str, kind: str, tier: str, capacity: int, raisable: bool) -> Location:
    key = (name, kind, tier, capacity, raisable)
    known = _KNOWN_LOCATIONS.get(key)
    if known is None:
        if len(_KNOWN_LOCATIONS) > 10_000:  # a table changed very often: start afresh
            _KNOWN_LOCATIONS.clear()
        known = _KNOWN_LOCATIONS[key] = Location(name, L.Value(kind), tier, capacity, raisable)
    return known


async def _rows(ctx: Ctx) -> list[Occupied]:
    rows = await ctx.uow.conn.execute(_LOCATIONS)
    return [
        Occupied(_location(r.name, r.type, r.tier, r.capacity, r.raisable), r.occupancy)
        for r in rows
    ]


async def _step(ctx: Ctx) -> LadderStep.ValueType:
    step = (await ctx.uow.conn.execute(_STEP)).scalar_one()
    return LadderStep.ValueType(step)


async def _set_step(
    ctx: Ctx,
    rows: list[Occupied],
    old: LadderStep.ValueType,
    new: LadderStep.ValueType,
    cause: str,
    kind: LocationType.ValueType = L.LOCATION_TYPE_UNSPECIFIED,
) -> None:
    raise_share = reception_settings().raise_share
    now = ctx.clock.now()
    await ctx.uow.conn.execute(_SET_STEP, {"step": new, "changed_at": now.timestamp()})
    ctx.publish(
        LadderChanged(
            step=new,
            previous_step=old,
            occupancy=total_occupancy(rows),
            capacity=total_capacity(rows, new, raise_share),
            previous_capacity=total_capacity(rows, old, raise_share),
            cause=cause,
            at=timestamp(now),
            location_type=kind,
        ),
        key="coa",
    )


async def _resident(ctx: Ctx, v_nummer: str) -> Row[Any] | None:
    return (await ctx.uow.conn.execute(_RESIDENT, {"key_v_nummer": v_nummer})).first()


async def _set(ctx: Ctx, v_nummer: str, **values: object) -> None:
    await ctx.uow.conn.execute(_SET, {"key_v_nummer": v_nummer, **values})


async def _occupy(ctx: Ctx, name: str | None, delta: int) -> None:
    if name is not None:
        await ctx.uow.conn.execute(_OCCUPY, {"key_name": name, "delta": delta})


async def _place(ctx: Ctx, v_nummer: str, needed: LocationType.ValueType, reason: str) -> None:
    """Give the person a place of the type needed (a move when housed elsewhere),
    climbing the ladder if needed; without one, record it and try again tomorrow."""
    cfg = reception_settings()
    person = await _resident(ctx, v_nummer)
    if person is None or person.state == ENDED:
        return
    if person.location_type == L.Name(needed) and person.state == HOUSED:
        return
    rows = await _rows(ctx)
    step = await _step(ctx)
    place, climbed = climb(needed, rows, step, cfg.raise_share)
    for new in climbed:
        await _set_step(ctx, rows, step, new, f"no free place of {L.Name(needed)}", needed)
        step = new
    now = ctx.clock.now()
    if place is None:
        await _set(ctx, v_nummer, needed_type=L.Name(needed), needed_reason=reason)
        if person.state != WAITING:
            await _set(ctx, v_nummer, waiting_since=now.timestamp())
            stays = f"; stays in {person.location}" if person.location else ""
            ctx.publish(
                NoPlace(
                    v_nummer=v_nummer,
                    location_type=needed,
                    step=step,
                    occupancy=total_occupancy(rows),
                    capacity=total_capacity(rows, step, cfg.raise_share),
                    at=timestamp(now),
                    reason=f"no free place of {L.Name(needed)} at the top of the ladder{stays}",
                ),
                key=v_nummer,
            )
        await _set(ctx, v_nummer, state=WAITING)
        return
    await _occupy(ctx, person.location, -1)
    await _occupy(ctx, place.location.name, +1)
    await _set(
        ctx,
        v_nummer,
        state=HOUSED,
        location=place.location.name,
        location_type=L.Name(needed),
        needed_type=None,
        needed_reason=None,
        waiting_since=None,
    )
    interval = reporting_interval_days(
        needed, person.family, cfg.reporting_days, cfg.family_reporting_days
    )
    ctx.publish(
        ReceptionPlacement(
            v_nummer=v_nummer,
            location_type=needed,
            location=place.location.name,
            placed_at=timestamp(now),
            reporting_interval_days=round(interval or 0),
            previous_location=person.location or "",
            previous_location_type=(
                L.Value(person.location_type)
                if person.location_type
                else L.LOCATION_TYPE_UNSPECIFIED
            ),
            reason=reason,
            step=step,
            occupancy=place.occupancy + 1,
            capacity=capacity_at(place.location, step, cfg.raise_share),
        ),
        key=v_nummer,
    )
    await _start_reporting(ctx, person, interval)
    if person.location is not None:
        await _fill(ctx, L.Value(person.location_type))
        await _step_down(ctx)


async def _fill(ctx: Ctx, freed: LocationType.ValueType) -> None:
    """A place of this type came free: the one waiting longest for it gets it."""
    first = (await ctx.uow.conn.execute(_FIRST_WAITING, {"key_needed_type": L.Name(freed)})).first()
    if first is not None:
        await _place(ctx, first.v_nummer, freed, first.needed_reason or "")


async def _step_down(ctx: Ctx) -> None:
    cfg = reception_settings()
    rows = await _rows(ctx)
    step = await _step(ctx)
    while can_step_down(rows, step, cfg.raise_share, cfg.step_down_share):
        lower = LadderStep.ValueType(step - 1)
        await _set_step(ctx, rows, step, lower, "demand fell")
        step = lower


def _ahead(ctx: Ctx, v_nummer: str, made: int, in_a_row: int, mob_after: int | None) -> int | None:
    """Reports the resident makes from here before the next miss (None: none within the
    look-ahead), drawn with the same random source per report as one at a time."""
    return reports_until_miss(
        ctx.chances("report", v_nummer),
        reception_settings().miss_share,
        made,
        in_a_row,
        mob_after,
    )


def _tally(ctx: Ctx, person: Row[Any], at: float) -> tuple[int, int]:
    """Reports made and missed in a row by `at`: the spell's figures plus the reports
    made since (made reports are not events; only a miss is)."""
    base = person.reports_made, person.missed_in_a_row
    if person.reporting_since is None or person.reporting_days is None:
        return base
    due = reports_due(person.reporting_since, person.reporting_days * DAY, at)
    if due == 0:
        return base
    ahead = _ahead(ctx, person.v_nummer, *base, person.mob_after)
    made = min(due, REPORT_LOOKAHEAD if ahead is None else ahead)
    return (person.reports_made + made, 0) if made else base


async def _plan_reports(
    ctx: Ctx,
    v_nummer: str,
    made: int,
    in_a_row: int,
    since: float | None,
    days: float | None,
    mob_after: int | None,
) -> None:
    """Store the spell (figures as of `since`; None: no duty here) and one `report`
    timer: at the next missed report, or at the end of the look-ahead."""
    await ctx.uow.cancel(REPORT, v_nummer)
    due = None
    if since is not None and days is not None:
        ahead = _ahead(ctx, v_nummer, made, in_a_row, mob_after)
        due = since + (REPORT_LOOKAHEAD if ahead is None else ahead + 1) * days * DAY
        await ctx.schedule(REPORT, v_nummer, datetime.fromtimestamp(due, UTC), b"")
    await _set(
        ctx,
        v_nummer,
        reports_made=made,
        missed_in_a_row=in_a_row,
        reporting_since=since,
        reporting_days=days,
        report_due=due,
    )


async def _replan(ctx: Ctx, person: Row[Any], mob_after: int | None) -> None:
    """The running spell again, with another `mob_after`."""
    await _plan_reports(
        ctx,
        person.v_nummer,
        person.reports_made,
        person.missed_in_a_row,
        person.reporting_since,
        person.reporting_days,
        mob_after,
    )


async def _start_reporting(ctx: Ctx, person: Row[Any], interval: float | None) -> None:
    """A new spell from now (a placement or a move): the last one's reports are tallied."""
    now = ctx.clock.now().timestamp()
    made, in_a_row = _tally(ctx, person, now)
    since = None if interval is None else now
    await _plan_reports(ctx, person.v_nummer, made, in_a_row, since, interval, person.mob_after)


async def _end(ctx: Ctx, v_nummer: str, reason: ReceptionEndReason.ValueType, detail: str) -> bool:
    """End reception once, with the reason; True when this call ended it. Only a
    person who held a place gets a ReceptionEnded."""
    person = await _resident(ctx, v_nummer)
    now = ctx.clock.now()
    values = {"state": ENDED, "ended_at": now.timestamp(), "end_reason": R.Name(reason)}
    if person is None:  # never housed: remember, so a late placement is skipped
        await ctx.uow.conn.execute(
            _ADD_RESIDENT,
            {
                "v_nummer": v_nummer,
                "partner_reference": "",
                "applied": False,  # the column's default, given: the insert runs on the fast path
                "family": False,
                "unaccompanied": False,
                "reports_made": 0,
                "missed_in_a_row": 0,
                **values,
            },
        )
        return False
    if person.state == ENDED:
        return False
    made, in_a_row = _tally(ctx, person, now.timestamp())
    await _set(
        ctx,
        v_nummer,
        location=None,
        needed_type=None,
        reports_made=made,
        missed_in_a_row=in_a_row,
        reporting_since=None,
        reporting_days=None,
        report_due=None,
        **values,
    )
    for kind in (REPORT, END, HOUSING, TO_AZC):
        await ctx.uow.cancel(kind, v_nummer)
    if reason != R.RECEPTION_END_REASON_DEPARTURE_PERIOD_ENDED:
        await ctx.unwatch(RECEPTION_END, v_nummer, reason=f"reception ended: {R.Name(reason)}")
    if person.location is None:
        return True  # never held a place: nothing to free
    await _occupy(ctx, person.location, -1)
    await _fill(ctx, L.Value(person.location_type))
    ctx.publish(
        ReceptionEnded(
            v_nummer=v_nummer,
            reason=reason,
            ended_at=timestamp(now),
            location=person.location or "",
            location_type=(
                L.Value(person.location_type)
                if person.location_type
                else L.LOCATION_TYPE_UNSPECIFIED
            ),
            detail=detail,
        ),
        key=v_nummer,
    )
    await _step_down(ctx)
    return True


def _mob_after(ctx: Ctx, v_nummer: str, partner_reference: str) -> int | None:
    cfg = reception_settings()
    planted = load_fixtures(cfg.fixtures).find(v_nummer, partner_reference)
    if planted is not None and planted.misses_reports == "arrival":
        return 0
    if planted is not None and planted.misses_reports == "decision":
        return None  # set when the decision comes
    return absconds_after(ctx.rng("mob", v_nummer), cfg.mob_share)


async def _admit(ctx: Ctx, v_nummer: str, ref: str, family: bool, unaccompanied: bool) -> Row[Any]:
    person = await _resident(ctx, v_nummer)
    if person is None:
        await ctx.uow.conn.execute(
            _ADD_RESIDENT,
            {
                "v_nummer": v_nummer,
                "partner_reference": ref,
                "state": KNOWN,
                "applied": False,  # the column's default, given: the insert runs on the fast path
                "family": family,
                "unaccompanied": unaccompanied,
                "reports_made": 0,
                "missed_in_a_row": 0,
                "mob_after": _mob_after(ctx, v_nummer, ref),
            },
        )
        person = await _resident(ctx, v_nummer)
        assert person is not None
    return person


async def on_registered(registered: PersonRegistered, ctx: Ctx) -> None:
    """COL Ter Apel houses asylum seekers who report inland during identification and
    screening; at the border the person stays with the KMar until referred."""
    arrival = registered.arrival
    known = await _resident(ctx, registered.v_nummer)
    if known is not None:  # a repeated arrival, or a later topic read first
        if not known.partner_reference and known.state != ENDED:
            ref = arrival.partner_reference
            mob_after = _mob_after(ctx, registered.v_nummer, ref)
            await _set(ctx, registered.v_nummer, partner_reference=ref, mob_after=mob_after)
            if known.reporting_since is not None:
                await _replan(ctx, known, mob_after)
        return
    family = arrival.travelling_with_children or bool(
        arrival.family_group_id and is_minor_age(arrival.claimed_age)
    )
    unaccompanied = is_minor_age(arrival.claimed_age) and not arrival.accompanied
    await _admit(ctx, registered.v_nummer, arrival.partner_reference, family, unaccompanied)
    if arrival.asylum_requested and arrival.setting == ArrivalSetting.ARRIVAL_SETTING_INLAND:
        await _place(ctx, registered.v_nummer, L.LOCATION_TYPE_CENTRAL_RECEPTION, "arrival")


async def on_screened(screened: ScreeningCompleted, ctx: Ctx) -> None:
    if screened.referral == Referral.REFERRAL_RELOCATION:
        # Housed while waiting for the relocation (or for the IND, see the README).
        ind = screened.indicators
        await _admit(ctx, screened.v_nummer, "", ind.family_with_children, ind.unaccompanied_minor)
        kind = (
            L.LOCATION_TYPE_UAM_LOCATION
            if ind.unaccompanied_minor
            else L.LOCATION_TYPE_REGULAR_CENTRE
        )
        await _place(ctx, screened.v_nummer, kind, "relocation candidate")
    elif screened.referral == Referral.REFERRAL_RETURN:
        await _end(ctx, screened.v_nummer, R.RECEPTION_END_REASON_NO_ASYLUM_APPLICATION, "")


async def on_application(registered: AsylumApplicationRegistered, ctx: Ctx) -> None:
    person = await _admit(
        ctx,
        registered.v_nummer,
        "",
        registered.family_with_children,
        registered.unaccompanied_minor,
    )
    if person.state == ENDED:
        return
    await _set(
        ctx,
        registered.v_nummer,
        family=registered.family_with_children,
        unaccompanied=registered.unaccompanied_minor,
        applied=True,
    )
    kind = procedure_location(
        registered.procedure, registered.unaccompanied_minor, registered.family_with_children
    )
    await _place(ctx, registered.v_nummer, kind, "asylum procedure")
    if person.early_decision is not None:
        await _set(ctx, registered.v_nummer, early_decision=None)
        await on_decision(AsylumDecision.FromString(person.early_decision), ctx)
    if kind == L.LOCATION_TYPE_PROCESS_RECEPTION:
        days = reception_settings().process_reception_days
        await ctx.schedule(TO_AZC, registered.v_nummer, ctx.clock.now() + timedelta(days=days), b"")


async def _decided(
    ctx: Ctx,
    v_nummer: str,
    outcome: DecisionOutcome.ValueType,
    return_decision: bool,
    decided_at: Timestamp,
) -> None:
    cfg = reception_settings()
    person = await _resident(ctx, v_nummer)
    if person is None or person.state in (ENDED, KNOWN):
        return
    planted = load_fixtures(cfg.fixtures).find(v_nummer, person.partner_reference)
    if planted is not None and planted.misses_reports == "decision":
        made, _ = _tally(ctx, person, ctx.clock.now().timestamp())
        await _set(ctx, v_nummer, mob_after=made)  # from now on every report is missed
        await _replan(ctx, person, made)
    granted = is_granted(outcome)
    current = L.Value(person.location_type) if person.location_type else L.LOCATION_TYPE_UNSPECIFIED
    cooperates = (
        planted.cooperates
        if planted is not None and planted.cooperates is not None
        else ctx.rng("vbl", v_nummer).random() < cfg.vbl_share
    )
    kind = after_decision_location(current, granted, person.unaccompanied, cooperates)
    now = ctx.clock.now()
    # Periods run from the decision, even when it reaches COA late.
    if decided_at.seconds:
        now = min(now, from_timestamp(decided_at))
    if granted:
        town = municipality(
            ctx.rng("municipality", v_nummer), load_municipalities(cfg.municipalities_file)
        )
        await ctx.schedule(
            HOUSING, v_nummer, now + timedelta(days=town.wait_days), town.name.encode()
        )
        if kind != current:
            await _place(ctx, v_nummer, kind, "permit granted: waits for a home")
        return
    if outcome == DecisionOutcome.DECISION_OUTCOME_DUBLIN_TRANSFER or not return_decision:
        return  # housed until DTenV reports the transfer or departure
    if current in (L.LOCATION_TYPE_BORDER_DETENTION, L.LOCATION_TYPE_CLOSED_FAMILY_FACILITY):
        return  # the return border procedure: held until DTenV reports the end
    due = now + timedelta(days=limits().departure_period_days)
    await ctx.watch(
        RECEPTION_END, v_nummer, due + GRACE, started_at=now, detail="4 weeks after the rejection"
    )
    await ctx.schedule(END, v_nummer, due, b"")
    if kind != current:
        await _place(ctx, v_nummer, kind, "rejected: cooperates with departure")


async def on_decision(decision: AsylumDecision, ctx: Ctx) -> None:
    person = await _resident(ctx, decision.v_nummer)
    if person is None or (person.state != ENDED and not person.applied):
        # The decision overtook the registration: keep it for the placement.
        await _admit(ctx, decision.v_nummer, "", False, False)
        await _set(ctx, decision.v_nummer, early_decision=decision.SerializeToString())
        return
    if decision.suspensive_appeal_pending and not is_granted(decision.outcome):
        return  # wait for the court (AppealDecided)
    await _decided(
        ctx, decision.v_nummer, decision.outcome, decision.return_decision, decision.decided_at
    )


async def on_appeal(appeal: AppealDecided, ctx: Ctx) -> None:
    if appeal.appeal_outcome == AppealOutcome.APPEAL_OUTCOME_DISMISSED:
        await _decided(
            ctx, appeal.v_nummer, appeal.outcome_in_force, appeal.return_decision, appeal.decided_at
        )


async def on_report(timer: Timer, ctx: Ctx) -> None:
    """The next missed report is due (those before it were made: not events), or the
    look-ahead ran out. A miss is an event; the limit in a row means MOB: reception ends
    and DTenV hears of it."""
    cfg = reception_settings()
    v_nummer = timer.v_nummer
    person = await _resident(ctx, v_nummer)
    if person is None or person.state == ENDED:
        return
    since, days = person.reporting_since, person.reporting_days
    if since is None or days is None:
        return
    due = reports_due(since, days * DAY, timer.due_at.timestamp())
    made_before, in_a_row = person.reports_made, person.missed_in_a_row
    ahead = _ahead(ctx, v_nummer, made_before, in_a_row, person.mob_after)
    if ahead is None or ahead >= due:  # nothing missed yet: the spell goes on from here
        made = min(due, REPORT_LOOKAHEAD if ahead is None else ahead)
        if made:
            made_before, in_a_row, since = made_before + made, 0, since + made * days * DAY
        await _plan_reports(ctx, v_nummer, made_before, in_a_row, since, days, person.mob_after)
        return
    missed_at = since + (ahead + 1) * days * DAY
    made, missed = made_before + ahead, (in_a_row if ahead == 0 else 0) + 1
    ctx.publish(
        ReportMissed(
            v_nummer=v_nummer,
            location=person.location or "",
            due_at=timestamp(datetime.fromtimestamp(missed_at, UTC)),
            missed_in_a_row=missed,
            limit=cfg.missed_reports_limit,
        ),
        key=v_nummer,
    )
    if is_mob(missed, cfg.missed_reports_limit):
        await _set(  # the figures it ended with; no reports after MOB
            ctx,
            v_nummer,
            reports_made=made,
            missed_in_a_row=missed,
            reporting_since=None,
            reporting_days=None,
        )
        await _end(
            ctx,
            v_nummer,
            R.RECEPTION_END_REASON_ABSCONDED,
            f"MOB: {missed} reports missed in a row",
        )
    else:
        await _plan_reports(ctx, v_nummer, made, missed, missed_at, days, person.mob_after)


async def on_end(timer: Timer, ctx: Ctx) -> None:
    """Four weeks after the rejection reception ends, whatever DTenV has done by then."""
    if await _end(
        ctx,
        timer.v_nummer,
        R.RECEPTION_END_REASON_DEPARTURE_PERIOD_ENDED,
        "4 weeks after the rejection",
    ):
        await ctx.meet(RECEPTION_END, timer.v_nummer)


async def on_housing(timer: Timer, ctx: Ctx) -> None:
    town = timer.payload.decode()
    if await _end(
        ctx, timer.v_nummer, R.RECEPTION_END_REASON_HOUSED_IN_MUNICIPALITY, f"housed in {town}"
    ):
        ctx.publish(
            CaseOutcome(
                v_nummer=timer.v_nummer,
                outcome=Outcome.OUTCOME_HOUSED,
                decided_by=Partner.PARTNER_COA,
                at=timestamp(ctx.clock.now()),
                detail=f"housed in {town}",
            ),
            key=timer.v_nummer,
        )


async def on_to_azc(timer: Timer, ctx: Ctx) -> None:
    """After process reception the procedure continues from an azc."""
    person = await _resident(ctx, timer.v_nummer)
    process = L.Name(L.LOCATION_TYPE_PROCESS_RECEPTION)
    if person is not None and process in (person.location_type, person.needed_type):
        await _place(ctx, timer.v_nummer, L.LOCATION_TYPE_REGULAR_CENTRE, "procedure continues")


async def on_outcome(outcome: CaseOutcome, ctx: Ctx) -> None:
    if outcome.decided_by != Partner.PARTNER_COA:
        await _end(ctx, outcome.v_nummer, end_reason(outcome.outcome), outcome.detail)


SPEC = ServiceSpec(
    name="reception",
    stage="reception",
    metadata=metadata,
    handlers={
        PersonRegistered: on_registered,
        ScreeningCompleted: on_screened,
        AsylumApplicationRegistered: on_application,
        AsylumDecision: on_decision,
        AppealDecided: on_appeal,
        CaseOutcome: on_outcome,
    },
    timers={
        REPORT: on_report,
        END: on_end,
        HOUSING: on_housing,
        TO_AZC: on_to_azc,
    },
    on_start=[sync_locations],
    workers=[occupancy_gauge],
    # First in every batch and timer round, before the kit's inbox and timer claims: a
    # timer round that claimed a timer and a handler cancelling it cannot then wait for
    # each other's locks.
    lock=_lock_ladder,
)

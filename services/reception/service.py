"""Reception handlers and tables: place on registration, end on the case's outcome."""

from __future__ import annotations

from sqlalchemy import Column, Float, MetaData, String, Table, insert, select, update

from chainkit.clock import timestamp
from chainkit.pact import is_granted
from chainkit.runtime import Ctx, ServiceSpec
from chainkit.store import Timer
from migratieketen.v1.asylum_pb2 import AsylumApplicationRegistered, AsylumDecision
from migratieketen.v1.common_pb2 import Partner
from migratieketen.v1.outcome_pb2 import CaseOutcome, Outcome
from migratieketen.v1.reception_pb2 import (
    LocationType,
    ReceptionEnded,
    ReceptionEndReason,
    ReceptionPlacement,
)
from reception.domain import (
    HOUSING_WAIT,
    LOCATIONS,
    end_reason,
    location_type,
    reporting_interval_days,
)

PLACED, ENDED = "placed", "ended"
HOUSING = "housing"

metadata = MetaData()
placements = Table(
    "placements",
    metadata,
    Column("v_nummer", String(10), primary_key=True),
    Column("state", String(20), nullable=False),
    Column("location_type", String(60), nullable=True),
    Column("placed_at", Float, nullable=True),
    Column("ended_at", Float, nullable=True),
    Column("end_reason", String(60), nullable=True),
)


async def on_registered(registered: AsylumApplicationRegistered, ctx: Ctx) -> None:
    existing = (
        await ctx.uow.conn.execute(
            select(placements.c.state).where(placements.c.v_nummer == registered.v_nummer)
        )
    ).scalar_one_or_none()
    if existing is not None:
        return  # placed already, or the case ended before the placement arrived
    kind = location_type(registered)
    now = ctx.clock.now()
    await ctx.uow.conn.execute(
        insert(placements).values(
            v_nummer=registered.v_nummer,
            state=PLACED,
            location_type=LocationType.Name(kind),
            placed_at=now.timestamp(),
        )
    )
    ctx.publish(
        ReceptionPlacement(
            v_nummer=registered.v_nummer,
            location_type=kind,
            location=LOCATIONS[kind],
            placed_at=timestamp(now),
            reporting_interval_days=reporting_interval_days(kind, registered.family_with_children),
        ),
        key=registered.v_nummer,
    )


async def on_decision(decision: AsylumDecision, ctx: Ctx) -> None:
    if is_granted(decision.outcome):
        await ctx.schedule(HOUSING, decision.v_nummer, ctx.clock.now() + HOUSING_WAIT, b"")
    # Otherwise reception lasts until DTenV reports the departure or transfer.


async def on_housing(timer: Timer, ctx: Ctx) -> None:
    if await _end(timer.v_nummer, Outcome.OUTCOME_HOUSED, ctx):
        ctx.publish(
            CaseOutcome(
                v_nummer=timer.v_nummer,
                outcome=Outcome.OUTCOME_HOUSED,
                decided_by=Partner.PARTNER_COA,
                at=timestamp(ctx.clock.now()),
            ),
            key=timer.v_nummer,
        )


async def on_outcome(outcome: CaseOutcome, ctx: Ctx) -> None:
    if outcome.decided_by != Partner.PARTNER_COA:
        await _end(outcome.v_nummer, outcome.outcome, ctx)


async def _end(v_nummer: str, outcome: Outcome.ValueType, ctx: Ctx) -> bool:
    """End reception once; True when this call ended it."""
    reason = end_reason(outcome)
    now = ctx.clock.now()
    state = (
        await ctx.uow.conn.execute(
            select(placements.c.state).where(placements.c.v_nummer == v_nummer)
        )
    ).scalar_one_or_none()
    if state == ENDED:
        return False
    values = {
        "state": ENDED,
        "ended_at": now.timestamp(),
        "end_reason": ReceptionEndReason.Name(reason),
    }
    if state is None:
        # Never placed (no asylum application): remember, so a late placement is skipped.
        await ctx.uow.conn.execute(insert(placements).values(v_nummer=v_nummer, **values))
        return outcome == Outcome.OUTCOME_HOUSED
    await ctx.uow.conn.execute(
        update(placements).where(placements.c.v_nummer == v_nummer).values(**values)
    )
    ctx.publish(
        ReceptionEnded(v_nummer=v_nummer, reason=reason, ended_at=timestamp(now)),
        key=v_nummer,
    )
    return True


SPEC = ServiceSpec(
    name="reception",
    stage="reception",
    metadata=metadata,
    handlers={
        AsylumApplicationRegistered: on_registered,
        AsylumDecision: on_decision,
        CaseOutcome: on_outcome,
    },
    timers={HOUSING: on_housing},
)

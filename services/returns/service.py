"""Return handlers and tables: open a return case, record how it ends."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Column, Float, MetaData, String, Table, insert, select, update

from chainkit.clock import timestamp
from chainkit.pact import is_granted
from chainkit.runtime import Ctx, ServiceSpec
from chainkit.store import Timer
from migratieketen.v1.asylum_pb2 import AsylumDecision, DecisionOutcome
from migratieketen.v1.common_pb2 import Partner
from migratieketen.v1.outcome_pb2 import CaseOutcome, Outcome
from migratieketen.v1.screening_pb2 import Referral, ScreeningCompleted
from returns.domain import departure_due, departure_outcome, transfer_due, transfer_outcome

DEPARTURE, TRANSFER = "departure", "transfer"
OPEN, CLOSED = "open", "closed"

metadata = MetaData()
return_cases = Table(
    "return_cases",
    metadata,
    Column("v_nummer", String(10), primary_key=True),
    Column("ground", String(60), nullable=False),
    Column("state", String(20), nullable=False),
    Column("destination_member_state", String(2), nullable=False),
    Column("opened_at", Float, nullable=False),
    Column("due_at", Float, nullable=False),
    Column("outcome", String(40), nullable=True),
)


async def _open(
    v_nummer: str, ground: str, kind: str, due_in: timedelta, member_state: str, ctx: Ctx
) -> None:
    exists = await ctx.uow.conn.execute(
        select(return_cases.c.v_nummer).where(return_cases.c.v_nummer == v_nummer)
    )
    if exists.first() is not None:
        return
    now = ctx.clock.now()
    due = now + due_in
    await ctx.uow.conn.execute(
        insert(return_cases).values(
            v_nummer=v_nummer,
            ground=ground,
            state=OPEN,
            destination_member_state=member_state,
            opened_at=now.timestamp(),
            due_at=due.timestamp(),
        )
    )
    await ctx.schedule(kind, v_nummer, due, b"")


async def on_screening_completed(screened: ScreeningCompleted, ctx: Ctx) -> None:
    if screened.referral == Referral.REFERRAL_RETURN:
        await _open(screened.v_nummer, "NO_APPLICATION", DEPARTURE, departure_due(0), "", ctx)


async def on_decision(decision: AsylumDecision, ctx: Ctx) -> None:
    if is_granted(decision.outcome):
        return
    if decision.outcome == DecisionOutcome.DECISION_OUTCOME_DUBLIN_TRANSFER:
        await _open(
            decision.v_nummer,
            DecisionOutcome.Name(decision.outcome),
            TRANSFER,
            transfer_due(),
            decision.responsible_member_state,
            ctx,
        )
    else:
        await _open(
            decision.v_nummer,
            DecisionOutcome.Name(decision.outcome),
            DEPARTURE,
            departure_due(decision.departure_period_days),
            "",
            ctx,
        )


async def on_due(timer: Timer, ctx: Ctx) -> None:
    row = (
        await ctx.uow.conn.execute(
            select(return_cases).where(
                return_cases.c.v_nummer == timer.v_nummer, return_cases.c.state == OPEN
            )
        )
    ).first()
    if row is None:
        return
    rng = ctx.rng("return", timer.v_nummer)
    outcome = transfer_outcome(rng) if timer.kind == TRANSFER else departure_outcome(rng)
    await ctx.uow.conn.execute(
        update(return_cases)
        .where(return_cases.c.v_nummer == timer.v_nummer)
        .values(state=CLOSED, outcome=Outcome.Name(outcome))
    )
    ctx.publish(
        CaseOutcome(
            v_nummer=timer.v_nummer,
            outcome=outcome,
            decided_by=Partner.PARTNER_DTENV,
            at=timestamp(ctx.clock.now()),
            destination_member_state=(
                row.destination_member_state if outcome == Outcome.OUTCOME_TRANSFERRED else ""
            ),
        ),
        key=timer.v_nummer,
    )


SPEC = ServiceSpec(
    name="returns",
    stage="return",
    metadata=metadata,
    handlers={ScreeningCompleted: on_screening_completed, AsylumDecision: on_decision},
    timers={DEPARTURE: on_due, TRANSFER: on_due},
)

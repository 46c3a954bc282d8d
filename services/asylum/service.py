"""Asylum handlers and tables: register on referral, decide when handling is done."""

from __future__ import annotations

import uuid

from sqlalchemy import Column, Float, LargeBinary, MetaData, String, Table, insert, select, update

from asylum.domain import decide, decision_limit, handling_time, procedure
from chainkit.clock import timestamp
from chainkit.runtime import Ctx, ServiceSpec
from chainkit.store import Timer
from migratieketen.v1.asylum_pb2 import (
    AsylumApplicationRegistered,
    AsylumDecision,
    AsylumProcedure,
    DecisionOutcome,
)
from migratieketen.v1.screening_pb2 import Referral, ScreeningCompleted

DECIDE = "decide"

metadata = MetaData()
applications = Table(
    "applications",
    metadata,
    Column("application_id", String(36), primary_key=True),
    Column("v_nummer", String(10), nullable=False, index=True),
    Column("procedure", String(40), nullable=False),
    Column("registered_at", Float, nullable=False),
    Column("decision_due_at", Float, nullable=False),
    Column("screening", LargeBinary, nullable=False),  # serialised ScreeningCompleted
    Column("outcome", String(60), nullable=True),
    Column("decided_at", Float, nullable=True),
)


async def on_screening_completed(screened: ScreeningCompleted, ctx: Ctx) -> None:
    if screened.referral != Referral.REFERRAL_ASYLUM:
        return
    proc = procedure(screened)
    now = ctx.clock.now()
    application_id = str(uuid.uuid4())
    due = now + decision_limit(proc)
    await ctx.uow.conn.execute(
        insert(applications).values(
            application_id=application_id,
            v_nummer=screened.v_nummer,
            procedure=AsylumProcedure.Name(proc),
            registered_at=now.timestamp(),
            decision_due_at=due.timestamp(),
            screening=screened.SerializeToString(),
        )
    )
    ind = screened.indicators
    ctx.publish(
        AsylumApplicationRegistered(
            v_nummer=screened.v_nummer,
            application_id=application_id,
            procedure=proc,
            registered_at=timestamp(now),
            decision_due_at=timestamp(due),
            minor=screened.claimed_age < 18,
            family_with_children=ind.family_with_children,
            unaccompanied_minor=ind.unaccompanied_minor,
        ),
        key=screened.v_nummer,
    )
    await ctx.schedule(
        DECIDE, screened.v_nummer, now + handling_time(proc), application_id.encode()
    )


async def on_decide(timer: Timer, ctx: Ctx) -> None:
    application_id = timer.payload.decode()
    row = (
        await ctx.uow.conn.execute(
            select(applications).where(
                applications.c.application_id == application_id,
                applications.c.outcome.is_(None),
            )
        )
    ).first()
    if row is None:
        return
    screened = ScreeningCompleted.FromString(row.screening)
    proc = AsylumProcedure.Value(row.procedure)
    decision = decide(proc, list(screened.form.nationalities), ctx.rng("decision", row.v_nummer))
    now = ctx.clock.now()
    await ctx.uow.conn.execute(
        update(applications)
        .where(applications.c.application_id == application_id)
        .values(outcome=DecisionOutcome.Name(decision.outcome), decided_at=now.timestamp())
    )
    ctx.publish(
        AsylumDecision(
            v_nummer=row.v_nummer,
            application_id=application_id,
            procedure=proc,
            outcome=decision.outcome,
            return_decision=decision.return_decision,
            departure_period_days=decision.departure_period_days,
            responsible_member_state=screened.indicators.eurodac_member_state,
            decided_at=timestamp(now),
        ),
        key=row.v_nummer,
    )


SPEC = ServiceSpec(
    name="asylum",
    stage="asylum",
    metadata=metadata,
    handlers={ScreeningCompleted: on_screening_completed},
    timers={DECIDE: on_decide},
)

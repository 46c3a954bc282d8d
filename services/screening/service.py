"""Screening handlers and tables: ask the Europaloket, complete the form, refer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Column, Float, LargeBinary, MetaData, String, Table, insert, select, update

from chainkit.clock import timestamp
from chainkit.runtime import Ctx, ServiceSpec
from chainkit.store import Timer
from migratieketen.v1.arrival_pb2 import ArrivalReport
from migratieketen.v1.bvv_pb2 import PersonRegistered
from migratieketen.v1.common_pb2 import Partner
from migratieketen.v1.europaloket_pb2 import CheckPurpose, CheckRequest, CheckResult
from migratieketen.v1.screening_pb2 import Referral, ScreeningCompleted
from screening.domain import (
    SCREENING_SYSTEMS,
    deadline,
    findings_from,
    indicators,
    referral,
    screening_form,
)

OPEN, COMPLETED = "open", "completed"
DEADLINE = "screening-deadline"

metadata = MetaData()
screenings = Table(
    "screenings",
    metadata,
    Column("request_id", String(36), primary_key=True),
    Column("v_nummer", String(10), nullable=False, index=True),
    Column("state", String(20), nullable=False),
    Column("arrival", LargeBinary, nullable=False),  # serialised ArrivalReport
    Column("started_at", Float, nullable=False),
    Column("deadline_at", Float, nullable=False),
    Column("completed_at", Float, nullable=True),
    Column("referral", String(40), nullable=True),
)


async def on_registered(event: PersonRegistered, ctx: Ctx) -> None:
    open_already = await ctx.uow.conn.execute(
        select(screenings.c.request_id).where(
            screenings.c.v_nummer == event.v_nummer, screenings.c.state == OPEN
        )
    )
    if open_already.first() is not None:
        return  # one screening at a time per person
    arrival = event.arrival
    started = ctx.clock.now()
    request_id = str(uuid.uuid4())
    due = deadline(arrival, started)
    await ctx.uow.conn.execute(
        insert(screenings).values(
            request_id=request_id,
            v_nummer=event.v_nummer,
            state=OPEN,
            arrival=arrival.SerializeToString(),
            started_at=started.timestamp(),
            deadline_at=due.timestamp(),
        )
    )
    ctx.publish(
        CheckRequest(
            request_id=request_id,
            v_nummer=event.v_nummer,
            partner=Partner.PARTNER_SCREENING,
            purpose=CheckPurpose.CHECK_PURPOSE_SCREENING_SECURITY,
            systems=SCREENING_SYSTEMS,
            biometric_template_hash=arrival.biometrics.template_hash,
            nationalities=list(arrival.claimed_identity.nationalities),
            requested_at=timestamp(started),
            claimed_age=arrival.claimed_age,
        ),
        key=event.v_nummer,
    )
    await ctx.schedule(DEADLINE, event.v_nummer, due, request_id.encode())


async def on_check_result(result: CheckResult, ctx: Ctx) -> None:
    if result.partner != Partner.PARTNER_SCREENING:
        return  # an answer to another partner
    await _complete(result.request_id, result, ctx)


async def on_deadline(timer: Timer, ctx: Ctx) -> None:
    await _complete(timer.payload.decode(), None, ctx)


async def _complete(request_id: str, result: CheckResult | None, ctx: Ctx) -> None:
    row = (
        await ctx.uow.conn.execute(
            select(screenings).where(
                screenings.c.request_id == request_id, screenings.c.state == OPEN
            )
        )
    ).first()
    if row is None:
        return  # already completed (a late answer, or the deadline passed first)
    arrival = ArrivalReport.FromString(row.arrival)
    findings = findings_from(result)
    now = ctx.clock.now()
    decided = referral(arrival)
    await ctx.uow.conn.execute(
        update(screenings)
        .where(screenings.c.request_id == request_id)
        .values(state=COMPLETED, completed_at=now.timestamp(), referral=Referral.Name(decided))
    )
    if result is not None:
        await ctx.uow.cancel(DEADLINE, row.v_nummer)
    ctx.publish(
        ScreeningCompleted(
            v_nummer=row.v_nummer,
            setting=arrival.setting,
            form=screening_form(arrival, findings),
            referral=decided,
            indicators=indicators(arrival, findings),
            started_at=timestamp(datetime.fromtimestamp(row.started_at, UTC)),
            completed_at=timestamp(now),
            claimed_age=arrival.claimed_age,
        ),
        key=row.v_nummer,
    )


SPEC = ServiceSpec(
    name="screening",
    stage="screening",
    metadata=metadata,
    handlers={PersonRegistered: on_registered, CheckResult: on_check_result},
    timers={DEADLINE: on_deadline},
)

"""Return handlers and tables: open a return case, record how it ends, tell SIS and EES."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import (
    Column,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    insert,
    select,
    update,
)

from chainkit.clock import from_timestamp, timestamp
from chainkit.pact import is_granted
from chainkit.runtime import Ctx, ServiceSpec
from chainkit.store import Timer
from migratieketen.v1.asylum_pb2 import AsylumDecision, DecisionOutcome
from migratieketen.v1.common_pb2 import Partner
from migratieketen.v1.europaloket_pb2 import (
    CheckOperation,
    CheckRequest,
    CheckResult,
    CheckStatus,
)
from migratieketen.v1.outcome_pb2 import CaseOutcome, Outcome
from migratieketen.v1.screening_pb2 import Referral, ScreeningCompleted
from returns.domain import (
    departure_due,
    departure_outcome,
    departure_records,
    eu_request,
    relocation_destination,
    relocation_outcome,
    retry_eu_request,
    transfer_due,
    transfer_outcome,
)

DEPARTURE, TRANSFER, RELOCATION, EU_RETRY = "departure", "transfer", "relocation", "eu-retry"
OPEN, CLOSED = "open", "closed"
WAITING, ANSWERED = "waiting", "answered"

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
# What DTenV asked the Europaloket to record (SIS return alert, end of the departure
# period, EES exit) and what it answered; an unavailable system is asked again.
eu_requests = Table(
    "eu_requests",
    metadata,
    Column("request_id", String(36), primary_key=True),
    Column("v_nummer", String(10), nullable=False, index=True),
    Column("operation", String(60), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("request", LargeBinary, nullable=False),  # the CheckRequest, to ask again
    Column("state", String(20), nullable=False),
    Column("status", String(40), nullable=True),
    Column("reference", String(40), nullable=True),
    Column("requested_at", Float, nullable=False),
)


async def _ask(ctx: Ctx, request: CheckRequest, attempt: int) -> None:
    await ctx.uow.conn.execute(
        insert(eu_requests).values(
            request_id=request.request_id,
            v_nummer=request.v_nummer,
            operation=CheckOperation.Name(request.operation),
            attempt=attempt,
            request=request.SerializeToString(),
            state=WAITING,
            requested_at=from_timestamp(request.requested_at).timestamp(),
        )
    )
    ctx.publish(request, key=request.v_nummer)


async def _record(
    ctx: Ctx, operation: CheckOperation.ValueType, v_nummer: str, occurred_at: datetime
) -> None:
    request = eu_request(operation, v_nummer, str(uuid.uuid4()), occurred_at, ctx.clock.now())
    await _ask(ctx, request, attempt=1)


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
    if kind == DEPARTURE:  # a return decision with a departure period: alert in SIS
        await _record(ctx, CheckOperation.CHECK_OPERATION_CREATE_RETURN_ALERT, v_nummer, now)


async def on_screening_completed(screened: ScreeningCompleted, ctx: Ctx) -> None:
    if screened.referral == Referral.REFERRAL_RETURN:
        await _open(screened.v_nummer, "NO_APPLICATION", DEPARTURE, departure_due(0), "", ctx)
    elif screened.referral == Referral.REFERRAL_RELOCATION:
        # DTenV carries out the relocation to a pledging member state, like a transfer.
        destination = relocation_destination(ctx.rng("relocation", screened.v_nummer))
        await _open(screened.v_nummer, "RELOCATION", RELOCATION, transfer_due(), destination, ctx)


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
    outcome = {
        TRANSFER: transfer_outcome,
        RELOCATION: relocation_outcome,
        DEPARTURE: departure_outcome,
    }[timer.kind](rng)
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
                row.destination_member_state
                if outcome in (Outcome.OUTCOME_TRANSFERRED, Outcome.OUTCOME_RELOCATED)
                else ""
            ),
        ),
        key=timer.v_nummer,
    )
    if timer.kind == DEPARTURE:
        for operation in departure_records(outcome):
            await _record(ctx, operation, timer.v_nummer, ctx.clock.now())


async def on_check_result(result: CheckResult, ctx: Ctx) -> None:
    """Note the Europaloket's answer; ask again later when the system was unavailable."""
    if result.partner != Partner.PARTNER_DTENV:
        return  # an answer to another partner
    row = (
        await ctx.uow.conn.execute(
            select(eu_requests).where(
                eu_requests.c.request_id == result.request_id, eu_requests.c.state == WAITING
            )
        )
    ).first()
    if row is None:
        return
    reference = next((a.recorded_reference for a in result.answers if a.recorded_reference), "")
    await ctx.uow.conn.execute(
        update(eu_requests)
        .where(eu_requests.c.request_id == result.request_id)
        .values(state=ANSWERED, status=CheckStatus.Name(result.status), reference=reference)
    )
    wait = retry_eu_request(result.status, row.attempt)
    if wait is not None:
        await ctx.schedule(EU_RETRY, row.v_nummer, ctx.clock.now() + wait, row.request_id.encode())


async def on_eu_retry(timer: Timer, ctx: Ctx) -> None:
    row = (
        await ctx.uow.conn.execute(
            select(eu_requests).where(eu_requests.c.request_id == timer.payload.decode())
        )
    ).first()
    if row is None:
        return
    request = CheckRequest.FromString(row.request)
    request.request_id = str(uuid.uuid4())  # the gateway answers each request id once
    request.requested_at.CopyFrom(timestamp(ctx.clock.now()))
    await _ask(ctx, request, attempt=row.attempt + 1)


SPEC = ServiceSpec(
    name="returns",
    stage="return",
    metadata=metadata,
    handlers={
        ScreeningCompleted: on_screening_completed,
        AsylumDecision: on_decision,
        CheckResult: on_check_result,
    },
    timers={DEPARTURE: on_due, TRANSFER: on_due, RELOCATION: on_due, EU_RETRY: on_eu_retry},
)

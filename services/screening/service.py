"""Screening handlers and tables: run the checks, ask the Europaloket, refer in time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    LargeBinary,
    MetaData,
    Row,
    String,
    Table,
    bindparam,
    insert,
    select,
    update,
)

from chainkit.clock import timestamp
from chainkit.codec import new_uuid
from chainkit.deadlines import DeadlineType
from chainkit.runtime import Ctx, ServiceSpec
from chainkit.store import Timer
from migratieketen.v1.arrival_pb2 import ArrivalReport
from migratieketen.v1.bvv_pb2 import PersonRegistered
from migratieketen.v1.common_pb2 import EuSystem, Partner
from migratieketen.v1.europaloket_pb2 import (
    CheckOperation,
    CheckPurpose,
    CheckRequest,
    CheckResult,
    CheckStatus,
    EurodacCategory,
)
from migratieketen.v1.screening_pb2 import (
    CheckState,
    GuardianRequested,
    Referral,
    ScreeningCompleted,
)
from screening.domain import (
    EURODAC_TRANSMISSION,
    RETRY_AFTER,
    SECURITY_SYSTEMS,
    deadline,
    eurodac_category,
    findings_from,
    health_check,
    identity_check,
    indicators,
    is_unaccompanied_minor,
    merge,
    pending,
    referral,
    refused_whole,
    requested_systems,
    screening_form,
    system_check,
    takes_biometrics,
    time_limit,
    vulnerability_check,
)

OPEN, COMPLETED = "open", "completed"
NOT_DONE = CheckState.CHECK_STATE_NOT_DONE
# The partner screening's requests to the Europaloket are made as, and its answers are for.
PARTNER = Partner.PARTNER_SCREENING
DEADLINE, RETRY = "screening-deadline", "europaloket-retry"
# The legal deadlines screening owns; the kit publishes started, at risk, met and breached.
TIME_LIMIT = DeadlineType(
    "screening.time_limit",
    service="screening",
    description="screen within 7 days at the external border (4 if held there over 72 h), "
    "3 days inland (Screening Regulation Art. 8(3))",
)
EURODAC = DeadlineType(
    "screening.eurodac_72h",
    service="screening",
    description="register the fingerprints in Eurodac within 72 hours (Eurodac Regulation)",
)

metadata = MetaData()
screenings = Table(
    "screenings",
    metadata,
    Column("screening_id", String(36), primary_key=True),
    Column("v_nummer", String(10), nullable=False, index=True),
    Column("state", String(20), nullable=False),
    Column("arrival", LargeBinary, nullable=False),  # serialised ArrivalReport
    Column("answers", LargeBinary, nullable=False),  # CheckResult: latest answer per system
    Column("started_at", Float, nullable=False),
    Column("deadline_at", Float, nullable=False),
    Column("completed_at", Float, nullable=True),
    Column("referral", String(40), nullable=True),
)
# Every request sent to the Europaloket, so a late answer finds its screening.
requests = Table(
    "europaloket_requests",
    metadata,
    Column("request_id", String(36), primary_key=True),
    Column("screening_id", String(36), nullable=False, index=True),
    Column("systems", String(200), nullable=False),
)


# Statements built once (SQLAlchemy reuses their compiled form by a cache key computed
# once): screening is the chain's busiest step in a surge.
_OPEN_OF_PERSON = select(screenings.c.screening_id).where(
    screenings.c.v_nummer == bindparam("v"), screenings.c.state == OPEN
)
_OPEN_SCREENING = select(screenings).where(
    screenings.c.screening_id == bindparam("sid"), screenings.c.state == OPEN
)
_UPDATE_SCREENING = update(screenings).where(screenings.c.screening_id == bindparam("sid"))
_INSERT_SCREENING = insert(screenings)
_INSERT_REQUEST = insert(requests)
_REQUEST = select(requests).where(requests.c.request_id == bindparam("rid"))


async def on_registered(event: PersonRegistered, ctx: Ctx) -> None:
    open_already = await ctx.uow.conn.execute(_OPEN_OF_PERSON, {"v": event.v_nummer})
    if open_already.first() is not None:
        return  # one screening at a time per person
    arrival = event.arrival
    started = ctx.clock.now()
    screening_id = new_uuid()
    due = deadline(arrival, started)
    await ctx.uow.conn.execute(
        _INSERT_SCREENING,
        {
            "screening_id": screening_id,
            "v_nummer": event.v_nummer,
            "state": OPEN,
            "arrival": arrival.SerializeToString(),
            "answers": CheckResult().SerializeToString(),
            "started_at": started.timestamp(),
            "deadline_at": due.timestamp(),
        },
    )
    if is_unaccompanied_minor(arrival):
        ctx.publish(
            GuardianRequested(
                v_nummer=event.v_nummer,
                location=arrival.location,
                requested_at=timestamp(started),
            ),
            key=event.v_nummer,
        )
    await _ask_all(ctx, screening_id, event.v_nummer, arrival, list(requested_systems(arrival)))
    await ctx.schedule(DEADLINE, event.v_nummer, due, screening_id.encode())
    days = time_limit(arrival).total_seconds() / 86_400
    await ctx.watch(
        TIME_LIMIT,
        event.v_nummer,
        due,
        started_at=started,
        ref=screening_id,
        detail=f"screening not completed within {days:g} days",
    )
    if takes_biometrics(arrival):
        await ctx.watch(
            EURODAC,
            event.v_nummer,
            started + EURODAC_TRANSMISSION,
            started_at=started,
            ref=screening_id,
            detail="eurodac registration not confirmed within 72 hours",
        )


async def _ask_all(
    ctx: Ctx,
    screening_id: str,
    v_nummer: str,
    arrival: ArrivalReport,
    systems: list[EuSystem.ValueType],
) -> None:
    """Eurodac: register the fingerprints (which also searches the other states'
    records); the security systems: one query."""
    eurodac = EuSystem.EU_SYSTEM_EURODAC
    if eurodac in systems:
        await _ask(ctx, screening_id, v_nummer, arrival, [eurodac], register=True)
    security = [s for s in systems if s != eurodac]
    if security:
        await _ask(ctx, screening_id, v_nummer, arrival, security, register=False)


async def _ask(
    ctx: Ctx,
    screening_id: str,
    v_nummer: str,
    arrival: ArrivalReport,
    systems: list[EuSystem.ValueType],
    register: bool,
) -> None:
    request_id = new_uuid()
    await ctx.uow.conn.execute(
        _INSERT_REQUEST,
        {
            "request_id": request_id,
            "screening_id": screening_id,
            "systems": ",".join(EuSystem.Name(s) for s in systems),
        },
    )
    ctx.publish(
        CheckRequest(
            request_id=request_id,
            v_nummer=v_nummer,
            partner=PARTNER,
            purpose=(
                CheckPurpose.CHECK_PURPOSE_SCREENING_IDENTIFICATION
                if register
                else CheckPurpose.CHECK_PURPOSE_SCREENING_SECURITY
            ),
            operation=(
                CheckOperation.CHECK_OPERATION_REGISTER
                if register
                else CheckOperation.CHECK_OPERATION_QUERY
            ),
            eurodac_category=(
                eurodac_category(arrival)
                if register
                else EurodacCategory.EURODAC_CATEGORY_UNSPECIFIED
            ),
            systems=systems,
            biometric_template_hash=arrival.biometrics.template_hash,
            nationalities=list(arrival.claimed_identity.nationalities),
            document_numbers=[d.document_number for d in arrival.documents if d.document_number],
            requested_at=timestamp(ctx.clock.now()),
            claimed_age=arrival.claimed_age,
        ),
        key=v_nummer,
    )


async def _open_screening(ctx: Ctx, screening_id: str) -> Row[Any] | None:
    return (await ctx.uow.conn.execute(_OPEN_SCREENING, {"sid": screening_id})).first()


async def on_check_result(result: CheckResult, ctx: Ctx) -> None:
    if result.partner != PARTNER:
        return  # an answer to another partner
    asked = (await ctx.uow.conn.execute(_REQUEST, {"rid": result.request_id})).first()
    if asked is None:
        return
    row = await _open_screening(ctx, asked.screening_id)
    if row is None:
        return  # screening already ended: a late answer changes nothing
    if ctx.clock.now().timestamp() >= row.deadline_at:
        await _close_at_deadline(ctx, row)  # the answer came too late to count
        return
    systems = [EuSystem.Value(name) for name in asked.systems.split(",") if name]
    merged = merge(CheckResult.FromString(row.answers), refused_whole(result, systems))
    await ctx.uow.conn.execute(
        _UPDATE_SCREENING, {"sid": row.screening_id, "answers": merged.SerializeToString()}
    )
    arrival = ArrivalReport.FromString(row.arrival)
    waiting = pending(requested_systems(arrival), merged)
    if EuSystem.EU_SYSTEM_EURODAC in systems and EuSystem.EU_SYSTEM_EURODAC not in waiting:
        await ctx.meet(EURODAC, row.v_nummer, ref=row.screening_id)
    if not waiting:
        await _complete(ctx, row, merged, arrival)
        return
    answered = {a.system for a in result.answers}
    if any(s in answered or result.status == CheckStatus.CHECK_STATUS_UNAVAILABLE for s in waiting):
        retry_at = ctx.clock.now() + RETRY_AFTER
        if retry_at.timestamp() < row.deadline_at:
            await ctx.schedule(RETRY, row.v_nummer, retry_at, row.screening_id.encode())


async def on_retry(timer: Timer, ctx: Ctx) -> None:
    row = await _open_screening(ctx, timer.payload.decode())
    if row is None:
        return
    arrival = ArrivalReport.FromString(row.arrival)
    waiting = pending(requested_systems(arrival), CheckResult.FromString(row.answers))
    if waiting:
        await _ask_all(ctx, row.screening_id, row.v_nummer, arrival, waiting)


async def on_deadline(timer: Timer, ctx: Ctx) -> None:
    row = await _open_screening(ctx, timer.payload.decode())
    if row is not None:
        await _close_at_deadline(ctx, row)


async def _close_at_deadline(ctx: Ctx, row: Row[Any]) -> None:
    """Screening does not run longer than its limit: what is not done is recorded as not
    done; the kit's watch of TIME_LIMIT publishes the breach."""
    arrival = ArrivalReport.FromString(row.arrival)
    merged = CheckResult.FromString(row.answers)
    days = time_limit(arrival).total_seconds() / 86_400
    due = datetime.fromtimestamp(row.deadline_at, UTC)
    await _complete(
        ctx, row, merged, arrival, closing_reason=f"did not answer within {days:g} days", at=due
    )


async def _complete(
    ctx: Ctx,
    row: Row[Any],
    merged: CheckResult,
    arrival: ArrivalReport,
    closing_reason: str = "",
    at: datetime | None = None,
) -> ScreeningCompleted:
    started = datetime.fromtimestamp(row.started_at, UTC)
    v_nummer: str = row.v_nummer
    screening_id: str = row.screening_id
    now = at or ctx.clock.now()
    findings = findings_from(merged if merged.answers else None)
    eurodac = (EuSystem.EU_SYSTEM_EURODAC,) if takes_biometrics(arrival) else ()
    checks = [
        health_check(arrival, started),
        vulnerability_check(arrival, started),
        identity_check(arrival, findings, now),
        system_check("security", SECURITY_SYSTEMS, merged, now, closing_reason),
        system_check("eurodac", eurodac, merged, now, closing_reason),
    ]
    decided = referral(arrival)
    await ctx.uow.conn.execute(
        _UPDATE_SCREENING,
        {
            "sid": screening_id,
            "state": COMPLETED,
            "completed_at": now.timestamp(),
            "referral": Referral.Name(decided),
        },
    )
    for kind in (DEADLINE, RETRY):
        await ctx.uow.cancel(kind, v_nummer)
    if not closing_reason:
        await ctx.meet(TIME_LIMIT, v_nummer, ref=screening_id)
    completed = ScreeningCompleted(
        v_nummer=v_nummer,
        setting=arrival.setting,
        form=screening_form(arrival, findings, checks[0].result),
        referral=decided,
        indicators=indicators(arrival, findings, checks),
        started_at=timestamp(started),
        completed_at=timestamp(now),
        claimed_age=arrival.claimed_age,
        checks=checks,
        deadline_at=timestamp(datetime.fromtimestamp(row.deadline_at, UTC)),
    )
    ctx.publish(completed, key=v_nummer)
    return completed


SPEC = ServiceSpec(
    name="screening",
    stage="screening",
    metadata=metadata,
    handlers={PersonRegistered: on_registered, CheckResult: on_check_result},
    timers={DEADLINE: on_deadline, RETRY: on_retry},
    partners=frozenset({Partner.Name(PARTNER)}),
)

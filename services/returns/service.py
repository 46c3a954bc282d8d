"""Return handlers and tables (DTenV): a return case for every return decision and
Dublin transfer, its periods watched through the kit, detention within its capacity,
one final outcome, and SIS and EES told through the Europaloket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import (
    Boolean,
    Column,
    Float,
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

from chainkit.clock import from_timestamp, timestamp
from chainkit.codec import new_uuid
from chainkit.deadlines import Deadline, DeadlineType
from chainkit.pact import is_granted, limits, relocates
from chainkit.runtime import Ctx, ServiceSpec
from chainkit.store import Timer
from migratieketen.v1.asylum_pb2 import (
    AppealDecided,
    AppealOutcome,
    AsylumDecision,
    AsylumProcedure,
    DecisionOutcome,
)
from migratieketen.v1.bvv_pb2 import PersonRegistered
from migratieketen.v1.common_pb2 import Partner
from migratieketen.v1.europaloket_pb2 import (
    CheckOperation,
    CheckRequest,
    CheckResult,
    CheckStatus,
)
from migratieketen.v1.outcome_pb2 import CaseOutcome, Outcome
from migratieketen.v1.reception_pb2 import ReceptionEnded, ReceptionEndReason
from migratieketen.v1.returns_pb2 import (
    DetentionChanged,
    ReturnBorderProcedureEnded,
    ReturnCaseOpened,
    ReturnTrack,
    TransferExpired,
)
from migratieketen.v1.screening_pb2 import Referral, ScreeningCompleted
from returns.domain import (
    PARTNER,
    REMOVALS,
    Plan,
    departure_records,
    detention_free,
    entry_ban,
    eu_request,
    period_end_records,
    plan_border,
    plan_departure,
    plan_transfer,
    planted,
    relocation_destination,
    retry_eu_request,
)
from returns.fixtures import load_fixtures
from returns.settings import returns_settings

T = ReturnTrack
Oc = Outcome
DEPART, PERIOD_END, DETAIN, REMOVE = "depart", "period-end", "detain", "remove"
RBP_END, TRANSFER, ABSCOND, RELOCATE, EU_RETRY = (
    "border-procedure-end",
    "transfer",
    "abscond",
    "relocate",
    "eu-retry",
)
STEPS = (DEPART, PERIOD_END, DETAIN, REMOVE, RBP_END, TRANSFER, ABSCOND, RELOCATE)
OPEN, WAITING_DETENTION, REMOVING, CLOSED, EXPIRED_STATE = (
    "open",
    "waiting-detention",
    "removing",
    "closed",
    "expired",
)
WAITING, ANSWERED = "waiting", "answered"
# DTenV acts on the day a period ends; the kit watches that it did within this grace.
GRACE = timedelta(days=1)


async def _transfer_expired(deadline: Deadline, ctx: Ctx) -> None:
    """The transfer did not happen in time: the Netherlands is responsible (AMMR)."""
    case = await _case(ctx, deadline.v_nummer)
    if case is None or case.track != T.Name(T.RETURN_TRACK_DUBLIN_TRANSFER):
        return
    ctx.publish(
        TransferExpired(
            v_nummer=deadline.v_nummer,
            application_id=case.application_id,
            member_state=case.destination_member_state,
            transfer_deadline_at=timestamp(deadline.due_at),
            expired_at=timestamp(ctx.clock.now()),
        ),
        key=deadline.v_nummer,
    )
    if case.state != CLOSED:
        await _update(ctx, deadline.v_nummer, state=EXPIRED_STATE)
        for kind in STEPS:
            await ctx.uow.cancel(kind, deadline.v_nummer)


DEPARTURE_PERIOD = DeadlineType(
    "returns.departure_period",
    service="returns",
    description=(
        "act on the return decision by the end of the departure period (Return Directive Art. 7-8)"
    ),
)
BORDER_PROCEDURE = DeadlineType(
    "returns.return_border_procedure",
    service="returns",
    description="return border procedure at most 12 weeks (Regulation 2024/1349 Art. 4)",
)
TRANSFER_DEADLINE = DeadlineType(
    "returns.dublin_transfer",
    service="returns",
    description="transfer within 6 months, 18 months when the person absconds (AMMR Art. 46)",
    on_breach=_transfer_expired,
)

metadata = MetaData()
return_cases = Table(
    "return_cases",
    metadata,
    Column("v_nummer", String(10), primary_key=True),
    Column("track", String(40), nullable=False),
    Column("ground", String(60), nullable=False),
    Column("state", String(20), nullable=False),
    Column("destination_member_state", String(2), nullable=False),
    Column("application_id", String(40), nullable=False),
    Column("opened_at", Float, nullable=False),
    Column("due_at", Float, nullable=False),
    Column("period_days", Float, nullable=False),
    Column("plan_outcome", String(40), nullable=False),
    Column("plan_detention", Boolean, nullable=False),
    Column("plan_removal_days", Float, nullable=False),
    Column("detained", Boolean, nullable=False, default=False),
    Column("outcome", String(40), nullable=True),
)
# Partner references, so a test team can plant a case's outcome by its arrival report.
people = Table(
    "people",
    metadata,
    Column("v_nummer", String(10), primary_key=True),
    Column("partner_reference", String(100), nullable=False),
)
# What DTenV asked the Europaloket to record (SIS return alert, end of the departure
# period, deletion of the alert, EES exit) and what it answered; an unavailable system
# is asked again.
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


# The hot statements are built once, with bound parameters: on SQLite a reused statement
# runs straight on the driver (chainkit.fastsql); on PostgreSQL SQLAlchemy finds its
# compiled form by a cache key computed once. UPDATE sets the columns of the parameters
# given (one compiled form per set of columns); the WHERE binds are named key_*.
_CASE = select(return_cases).where(return_cases.c.v_nummer == bindparam("key_v"))
_UPDATE_CASE = update(return_cases).where(return_cases.c.v_nummer == bindparam("key_v"))
_ADD_CASE = insert(return_cases)
_DETENTION_IN_USE = (
    select(func.count()).select_from(return_cases).where(return_cases.c.detained.is_(True))
)
# A place was freed: the person waiting longest; another instance's pick is skipped.
_NEXT_WAITING = (
    select(return_cases)
    .where(return_cases.c.state == WAITING_DETENTION)
    .order_by(return_cases.c.due_at, return_cases.c.v_nummer)
    .limit(1)
    .with_for_update(skip_locked=True)
)
_PERSON = select(people.c.v_nummer).where(people.c.v_nummer == bindparam("key_v"))
_REFERENCE = select(people.c.partner_reference).where(people.c.v_nummer == bindparam("key_v"))
_ADD_PERSON = insert(people)
_ADD_REQUEST = insert(eu_requests)
_REQUEST = select(eu_requests).where(eu_requests.c.request_id == bindparam("key_id"))
_WAITING_REQUEST = select(eu_requests).where(
    eu_requests.c.request_id == bindparam("key_id"), eu_requests.c.state == WAITING
)
_UPDATE_REQUEST = update(eu_requests).where(eu_requests.c.request_id == bindparam("key_id"))


async def _ask(ctx: Ctx, request: CheckRequest, attempt: int) -> None:
    await ctx.uow.conn.execute(
        _ADD_REQUEST,
        {
            "request_id": request.request_id,
            "v_nummer": request.v_nummer,
            "operation": CheckOperation.Name(request.operation),
            "attempt": attempt,
            "request": request.SerializeToString(),
            "state": WAITING,
            "requested_at": from_timestamp(request.requested_at).timestamp(),
        },
    )
    ctx.publish(request, key=request.v_nummer)


async def _record(
    ctx: Ctx, operation: CheckOperation.ValueType, v_nummer: str, occurred_at: datetime
) -> None:
    request = eu_request(operation, v_nummer, new_uuid(), occurred_at, ctx.clock.now())
    await _ask(ctx, request, attempt=1)


async def _case(ctx: Ctx, v_nummer: str) -> Row[Any] | None:
    result = await ctx.uow.conn.execute(_CASE, {"key_v": v_nummer})
    return result.first()


async def _update(ctx: Ctx, v_nummer: str, **values: object) -> None:
    await ctx.uow.conn.execute(_UPDATE_CASE, {"key_v": v_nummer, **values})


async def _detention_in_use(ctx: Ctx) -> int:
    count = await ctx.uow.conn.execute(_DETENTION_IN_USE)
    return int(count.scalar_one())


async def _plan(ctx: Ctx, v_nummer: str, drawn: Plan) -> Plan:
    cfg = returns_settings()
    ref = (await ctx.uow.conn.execute(_REFERENCE, {"key_v": v_nummer})).scalar_one_or_none()
    return planted(drawn, load_fixtures(cfg.fixtures).find(v_nummer, ref or ""), cfg)


async def _open(
    ctx: Ctx,
    v_nummer: str,
    track: ReturnTrack.ValueType,
    ground: str,
    *,
    period_days: float = 0.0,
    due_at: datetime | None = None,
    member_state: str = "",
    application_id: str = "",
    decided_at: Timestamp | None = None,
) -> None:
    """Open one return case per person (again only after an expired transfer). Its
    periods run from the decision, even when the decision reaches DTenV late."""
    existing = await _case(ctx, v_nummer)
    if existing is not None and existing.state != EXPIRED_STATE:
        return
    cfg = returns_settings()
    now = ctx.clock.now()
    if decided_at is not None and decided_at.seconds:
        now = min(now, from_timestamp(decided_at))
    rng = ctx.rng("return", v_nummer, ground)
    procedure_due: datetime | None = None
    if track == T.RETURN_TRACK_DEPARTURE:
        due = now + timedelta(days=period_days)
        drawn = plan_departure(rng, cfg, period_days)
    elif track == T.RETURN_TRACK_RETURN_BORDER_PROCEDURE:
        max_days = limits().return_border_procedure_days
        due = now + timedelta(days=period_days)
        procedure_due = now + timedelta(days=max_days)
        drawn = plan_border(rng, cfg, period_days, max_days)
    elif track == T.RETURN_TRACK_DUBLIN_TRANSFER:
        due = (
            due_at
            if due_at is not None and due_at > now
            else now + timedelta(days=limits().dublin_transfer_days)
        )
        drawn = plan_transfer(rng, cfg, (due - now).total_seconds() / 86_400)
    else:
        due = now + timedelta(days=30)
        drawn = Plan(Oc.OUTCOME_RELOCATED, 30)
    plan = await _plan(ctx, v_nummer, drawn)
    values = {
        "track": T.Name(track),
        "ground": ground,
        "state": OPEN,
        "destination_member_state": member_state,
        "application_id": application_id,
        "opened_at": now.timestamp(),
        "due_at": due.timestamp(),
        "period_days": period_days,
        "plan_outcome": Oc.Name(plan.outcome),
        "plan_detention": plan.detention,
        "plan_removal_days": plan.removal_days,
        "detained": False,
        "outcome": None,
    }
    if existing is None:
        await ctx.uow.conn.execute(_ADD_CASE, {"v_nummer": v_nummer, **values})
    else:
        await _update(ctx, v_nummer, **values)
    ctx.publish(
        ReturnCaseOpened(
            v_nummer=v_nummer,
            track=track,
            ground=ground,
            opened_at=timestamp(now),
            due_at=timestamp(due),
            procedure_due_at=timestamp(procedure_due) if procedure_due else None,
            member_state=member_state,
            departure_period_days=round(period_days),
        ),
        key=v_nummer,
    )
    at = now + timedelta(days=plan.after_days)
    if track in (T.RETURN_TRACK_DEPARTURE, T.RETURN_TRACK_RETURN_BORDER_PROCEDURE):
        await _record(ctx, CheckOperation.CHECK_OPERATION_CREATE_RETURN_ALERT, v_nummer, now)
        await ctx.watch(
            DEPARTURE_PERIOD,
            v_nummer,
            due + GRACE,
            started_at=now,
            detail=f"{period_days:g} days",
        )
        if plan.outcome == Oc.OUTCOME_DEPARTED_VOLUNTARY and at < due:
            await ctx.schedule(DEPART, v_nummer, at, b"")
        await ctx.schedule(PERIOD_END, v_nummer, due, b"")
    if procedure_due is not None:
        await ctx.watch(
            BORDER_PROCEDURE, v_nummer, procedure_due, started_at=now, detail="12 weeks"
        )
        await ctx.schedule(RBP_END, v_nummer, procedure_due - GRACE, b"")
    if track == T.RETURN_TRACK_DUBLIN_TRANSFER:
        await ctx.watch(TRANSFER_DEADLINE, v_nummer, due, started_at=now, ref=application_id)
        if plan.outcome == Oc.OUTCOME_TRANSFERRED:
            await ctx.schedule(TRANSFER, v_nummer, at, b"")
        elif plan.outcome == Oc.OUTCOME_ABSCONDED:
            await ctx.schedule(ABSCOND, v_nummer, at, b"")
    if track == T.RETURN_TRACK_RELOCATION:
        await ctx.schedule(RELOCATE, v_nummer, at, b"")


async def _close(ctx: Ctx, case: Row[Any], outcome: Outcome.ValueType, detail: str) -> None:
    """The case's one final outcome: free detention, tell SIS/EES, end the periods."""
    v = case.v_nummer
    now = ctx.clock.now()
    await _update(ctx, v, state=CLOSED, outcome=Oc.Name(outcome), detained=False)
    for kind in STEPS:
        await ctx.uow.cancel(kind, v)
    if case.detained:
        await _detention_changed(ctx, v, False, f"{Oc.Name(outcome)}: place freed")
        await _detain_next(ctx)
    departure = case.track in (
        T.Name(T.RETURN_TRACK_DEPARTURE),
        T.Name(T.RETURN_TRACK_RETURN_BORDER_PROCEDURE),
    )
    if departure:
        await ctx.unwatch(DEPARTURE_PERIOD, v, reason=f"case closed: {Oc.Name(outcome)}")
        for operation in departure_records(outcome):
            await _record(ctx, operation, v, now)
    if case.track == T.Name(T.RETURN_TRACK_RETURN_BORDER_PROCEDURE):
        await ctx.meet(BORDER_PROCEDURE, v)
        ctx.publish(
            ReturnBorderProcedureEnded(v_nummer=v, ended_at=timestamp(now), reason=detail),
            key=v,
        )
    ctx.publish(
        CaseOutcome(
            v_nummer=v,
            outcome=outcome,
            decided_by=PARTNER,
            at=timestamp(now),
            destination_member_state=(
                case.destination_member_state
                if outcome in (Oc.OUTCOME_TRANSFERRED, Oc.OUTCOME_RELOCATED)
                else ""
            ),
            entry_ban=departure and entry_ban(outcome, case.period_days),
            detained=bool(case.detained),
            detail=detail,
        ),
        key=v,
    )


async def _detention_changed(ctx: Ctx, v_nummer: str, detained: bool, reason: str) -> None:
    ctx.publish(
        DetentionChanged(
            v_nummer=v_nummer,
            detained=detained,
            occupancy=await _detention_in_use(ctx),
            capacity=returns_settings().detention_capacity,
            at=timestamp(ctx.clock.now()),
            reason=reason,
        ),
        key=v_nummer,
    )


async def _open_case(ctx: Ctx, v_nummer: str, states: tuple[str, ...]) -> Row[Any] | None:
    case = await _case(ctx, v_nummer)
    return case if case is not None and case.state in states else None


async def on_depart(timer: Timer, ctx: Ctx) -> None:
    case = await _open_case(ctx, timer.v_nummer, (OPEN,))
    if case is not None:
        await ctx.meet(DEPARTURE_PERIOD, timer.v_nummer)
        await _close(ctx, case, Oc.OUTCOME_DEPARTED_VOLUNTARY, "left within the departure period")


async def on_period_end(timer: Timer, ctx: Ctx) -> None:
    """The departure period ends: SIS is told; the person absconded or is removed."""
    case = await _open_case(ctx, timer.v_nummer, (OPEN,))
    if case is None:
        return
    await ctx.meet(DEPARTURE_PERIOD, timer.v_nummer)
    outcome = Oc.Value(case.plan_outcome)
    now = ctx.clock.now()
    for operation in period_end_records(outcome):
        await _record(ctx, operation, timer.v_nummer, now)
    if outcome not in REMOVALS:
        await _close(ctx, case, Oc.OUTCOME_ABSCONDED, "departure period ended: destination unknown")
    elif case.plan_detention and case.track == T.Name(T.RETURN_TRACK_DEPARTURE):
        await _detain(ctx, case)
    else:
        await _update(ctx, timer.v_nummer, state=REMOVING)
        await ctx.schedule(
            REMOVE, timer.v_nummer, now + timedelta(days=case.plan_removal_days), b""
        )


async def _detain(ctx: Ctx, case: Row[Any]) -> None:
    """Detention as the last resort, only within its capacity; otherwise the person
    waits for a place (first come, first detained when one is freed: see _close)."""
    now = ctx.clock.now()
    if detention_free(await _detention_in_use(ctx), returns_settings().detention_capacity):
        await _update(ctx, case.v_nummer, state=REMOVING, detained=True)
        await _detention_changed(ctx, case.v_nummer, True, "forced return")
        await ctx.schedule(REMOVE, case.v_nummer, now + timedelta(days=case.plan_removal_days), b"")
    else:
        await _update(ctx, case.v_nummer, state=WAITING_DETENTION)


async def _detain_next(ctx: Ctx) -> None:
    """A place was freed: the person waiting longest (the earliest end of the departure
    period) is detained. Another instance detaining someone at this moment is skipped."""
    waiting = (await ctx.uow.conn.execute(_NEXT_WAITING)).first()
    if waiting is not None:
        await _detain(ctx, waiting)


async def on_detain(timer: Timer, ctx: Ctx) -> None:
    """A daily retry stored by an earlier version: try once more."""
    case = await _open_case(ctx, timer.v_nummer, (WAITING_DETENTION,))
    if case is not None:
        await _detain(ctx, case)


async def on_remove(timer: Timer, ctx: Ctx) -> None:
    case = await _open_case(ctx, timer.v_nummer, (REMOVING,))
    if case is None:
        return
    if Oc.Value(case.plan_outcome) == Oc.OUTCOME_NOT_REMOVABLE:
        await _close(ctx, case, Oc.OUTCOME_NOT_REMOVABLE, "not removable: released")
    else:
        await _close(ctx, case, Oc.OUTCOME_DEPARTED_FORCED, "removed")


async def on_border_procedure_end(timer: Timer, ctx: Ctx) -> None:
    case = await _open_case(ctx, timer.v_nummer, (OPEN, REMOVING))
    if case is not None:
        await _close(
            ctx,
            case,
            Oc.OUTCOME_NOT_REMOVABLE,
            "return border procedure reached 12 weeks: released",
        )


async def on_transfer(timer: Timer, ctx: Ctx) -> None:
    case = await _open_case(ctx, timer.v_nummer, (OPEN,))
    if case is not None:
        await ctx.meet(TRANSFER_DEADLINE, timer.v_nummer, ref=case.application_id)
        await _close(ctx, case, Oc.OUTCOME_TRANSFERRED, "transferred")


async def on_abscond(timer: Timer, ctx: Ctx) -> None:
    case = await _open_case(ctx, timer.v_nummer, (OPEN,))
    if case is not None:
        await _absconded(ctx, case, "absconded before the transfer")


async def _absconded(ctx: Ctx, case: Row[Any], detail: str) -> None:
    if case.state == OPEN and case.track == T.Name(T.RETURN_TRACK_DUBLIN_TRANSFER):
        # AMMR: the transfer deadline runs on to 18 months from its start.
        opened = datetime.fromtimestamp(case.opened_at, UTC)
        await ctx.watch(
            TRANSFER_DEADLINE,
            case.v_nummer,
            opened + timedelta(days=returns_settings().absconded_transfer_days),
            started_at=opened,
            ref=case.application_id,
            detail="extended: absconded",
        )
    elif case.state == OPEN and case.track == T.Name(T.RETURN_TRACK_DEPARTURE):
        await ctx.meet(DEPARTURE_PERIOD, case.v_nummer)
        for operation in period_end_records(Oc.OUTCOME_ABSCONDED):
            await _record(ctx, operation, case.v_nummer, ctx.clock.now())
    await _close(ctx, case, Oc.OUTCOME_ABSCONDED, detail)


async def on_relocate(timer: Timer, ctx: Ctx) -> None:
    case = await _open_case(ctx, timer.v_nummer, (OPEN,))
    if case is not None:
        await _close(ctx, case, Oc.OUTCOME_RELOCATED, "relocated")


async def on_registered(registered: PersonRegistered, ctx: Ctx) -> None:
    known = await ctx.uow.conn.execute(_PERSON, {"key_v": registered.v_nummer})
    if known.first() is None:
        await ctx.uow.conn.execute(
            _ADD_PERSON,
            {
                "v_nummer": registered.v_nummer,
                "partner_reference": registered.arrival.partner_reference,
            },
        )


async def on_screening_completed(screened: ScreeningCompleted, ctx: Ctx) -> None:
    if screened.referral == Referral.REFERRAL_RETURN:
        await _open(
            ctx,
            screened.v_nummer,
            T.RETURN_TRACK_DEPARTURE,
            "NO_APPLICATION",
            period_days=limits().departure_period_days,
        )
    elif screened.referral == Referral.REFERRAL_RELOCATION and relocates():
        destination = relocation_destination(ctx.rng("relocation", screened.v_nummer))
        await _open(
            ctx,
            screened.v_nummer,
            T.RETURN_TRACK_RELOCATION,
            "RELOCATION",
            member_state=destination,
        )


async def _act_on(
    ctx: Ctx,
    v_nummer: str,
    application_id: str,
    outcome: DecisionOutcome.ValueType,
    return_decision: bool,
    period: int,
    member_state: str,
    transfer_deadline: datetime | None,
    border: bool,
    decided_at: Timestamp,
) -> None:
    ground = DecisionOutcome.Name(outcome)
    if is_granted(outcome):
        return
    if outcome == DecisionOutcome.DECISION_OUTCOME_DUBLIN_TRANSFER:
        await _open(
            ctx,
            v_nummer,
            T.RETURN_TRACK_DUBLIN_TRANSFER,
            ground,
            due_at=transfer_deadline,
            member_state=member_state,
            application_id=application_id,
            decided_at=decided_at,
        )
    elif border:
        days = min(period or limits().voluntary_departure_days, limits().voluntary_departure_days)
        await _open(ctx, v_nummer, T.RETURN_TRACK_RETURN_BORDER_PROCEDURE, ground, period_days=days)
    elif return_decision:
        await _open(ctx, v_nummer, T.RETURN_TRACK_DEPARTURE, ground, period_days=period)


async def on_decision(decision: AsylumDecision, ctx: Ctx) -> None:
    if decision.suspensive_appeal_pending:
        return  # DTenV waits for the court (AppealDecided)
    await _act_on(
        ctx,
        decision.v_nummer,
        decision.application_id,
        decision.outcome,
        decision.return_decision,
        decision.departure_period_days if decision.return_decision else 0,
        decision.responsible_member_state,
        from_timestamp(decision.transfer_deadline_at)
        if decision.HasField("transfer_deadline_at")
        else None,
        decision.border_procedure or decision.procedure == AsylumProcedure.ASYLUM_PROCEDURE_BORDER,
        decision.decided_at,
    )


async def on_appeal(appeal: AppealDecided, ctx: Ctx) -> None:
    if appeal.appeal_outcome != AppealOutcome.APPEAL_OUTCOME_DISMISSED:
        return  # upheld: the IND decides again
    await _act_on(
        ctx,
        appeal.v_nummer,
        appeal.application_id,
        appeal.outcome_in_force,
        appeal.return_decision,
        appeal.departure_period_days if appeal.return_decision else 0,
        appeal.responsible_member_state,
        from_timestamp(appeal.transfer_deadline_at)
        if appeal.HasField("transfer_deadline_at")
        else None,
        appeal.border_procedure,
        appeal.decided_at,
    )


async def on_reception_ended(ended: ReceptionEnded, ctx: Ctx) -> None:
    """COA reports MOB (reporting duty missed): DTenV ends the case as absconded."""
    if ended.reason != ReceptionEndReason.RECEPTION_END_REASON_ABSCONDED:
        return
    case = await _case(ctx, ended.v_nummer)
    if case is None:
        now = ctx.clock.now().timestamp()
        await ctx.uow.conn.execute(
            _ADD_CASE,
            {
                "v_nummer": ended.v_nummer,
                "track": T.Name(T.RETURN_TRACK_UNSPECIFIED),
                "ground": "MOB",
                "state": OPEN,
                "destination_member_state": "",
                "application_id": "",
                "opened_at": now,
                "due_at": now,
                "period_days": 0,
                "plan_outcome": Oc.Name(Oc.OUTCOME_ABSCONDED),
                "plan_detention": False,
                "plan_removal_days": 0,
                "detained": False,
            },
        )
        case = await _case(ctx, ended.v_nummer)
    # Anyone not held in detention can leave: a removal without detention fails too.
    if case is not None and case.state != CLOSED and not case.detained:
        await _absconded(ctx, case, f"MOB reported by COA: {ended.detail}")


async def on_check_result(result: CheckResult, ctx: Ctx) -> None:
    """Note the Europaloket's answer; ask again later when the system was unavailable."""
    if result.partner != PARTNER:
        return  # an answer to another partner
    row = (await ctx.uow.conn.execute(_WAITING_REQUEST, {"key_id": result.request_id})).first()
    if row is None:
        return
    reference = next((a.recorded_reference for a in result.answers if a.recorded_reference), "")
    await ctx.uow.conn.execute(
        _UPDATE_REQUEST,
        {
            "key_id": result.request_id,
            "state": ANSWERED,
            "status": CheckStatus.Name(result.status),
            "reference": reference,
        },
    )
    wait = retry_eu_request(result.status, row.attempt)
    if wait is not None:
        await ctx.schedule(EU_RETRY, row.v_nummer, ctx.clock.now() + wait, row.request_id.encode())


async def on_eu_retry(timer: Timer, ctx: Ctx) -> None:
    row = (await ctx.uow.conn.execute(_REQUEST, {"key_id": timer.payload.decode()})).first()
    if row is None:
        return
    request = CheckRequest.FromString(row.request)
    request.request_id = new_uuid()  # the gateway answers each request id once
    request.requested_at.CopyFrom(timestamp(ctx.clock.now()))
    await _ask(ctx, request, attempt=row.attempt + 1)


SPEC = ServiceSpec(
    name="returns",
    stage="return",
    metadata=metadata,
    handlers={
        PersonRegistered: on_registered,
        ScreeningCompleted: on_screening_completed,
        AsylumDecision: on_decision,
        AppealDecided: on_appeal,
        ReceptionEnded: on_reception_ended,
        CheckResult: on_check_result,
    },
    timers={
        DEPART: on_depart,
        PERIOD_END: on_period_end,
        DETAIN: on_detain,
        REMOVE: on_remove,
        RBP_END: on_border_procedure_end,
        TRANSFER: on_transfer,
        ABSCOND: on_abscond,
        RELOCATE: on_relocate,
        EU_RETRY: on_eu_retry,
    },
    partners=frozenset({Partner.Name(PARTNER)}),
)

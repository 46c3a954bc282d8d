"""The IND's handlers and tables: registration, lodging, routing under capacity, Dublin,
decisions with the IND's daily capacity, appeals, crises. The rules are in the pure
modules; every IND deadline is watched through the kit."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

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
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from asylum import decisions, law
from asylum.domain import applicant, evidence, made_at
from asylum.dublin import Answer, Claim, Kind, claim, needs_hearing, reply_due, request_due
from asylum.dublin import simulated_answer as simulated_dublin_answer
from asylum.fixtures import fixtures
from asylum.periods import Period
from asylum.rates import rate_table
from asylum.routing import (
    Crisis,
    Regime,
    Route,
    Routing,
    admit,
    check_crisis_threshold,
    grounds,
    priority,
    regime,
    route,
    threshold,
)
from asylum.settings import asylum_settings
from chainkit.clock import from_timestamp, timestamp
from chainkit.codec import PoisonMessage, new_uuid
from chainkit.deadlines import Deadline, DeadlineType
from chainkit.pact import is_granted
from chainkit.people import is_minor_age
from chainkit.runtime import Ctx, ServiceSpec
from chainkit.store import Timer
from migratieketen.v1.asylum_pb2 import (
    AppealDecided,
    AppealOutcome,
    AsylumApplicationRegistered,
    AsylumDecision,
    AsylumProcedure,
    AsylumRegime,
    DecisionOutcome,
)
from migratieketen.v1.ind_pb2 import (
    AppealLodged,
    ApplicationLodged,
    ApplicationSupplemented,
    BorderCapacityChanged,
    CapacityState,
    CrisisDeclared,
    CrisisEnded,
    DublinKind,
    DublinStep,
    DublinStepKind,
)
from migratieketen.v1.returns_pb2 import ReturnBorderProcedureEnded, TransferExpired
from migratieketen.v1.screening_pb2 import Referral, ScreeningCompleted

REGISTER = "register"
LODGE = "lodge"
DECIDE = "decide"
DUBLIN_SEND = "dublin_send"
DUBLIN_REPLY = "dublin_reply"
TRANSFER_DECIDE = "transfer_decide"
APPEAL_RULING = "appeal_ruling"

DAY = 86_400.0
# Application status.
OPEN_STATES = ("REGISTERING", "DUBLIN", "LODGING", "DECIDING", "APPEAL")
PROCEDURE = {
    Route.DUBLIN: AsylumProcedure.ASYLUM_PROCEDURE_DUBLIN,
    Route.BORDER: AsylumProcedure.ASYLUM_PROCEDURE_BORDER,
    Route.ACCELERATED: AsylumProcedure.ASYLUM_PROCEDURE_ACCELERATED,
    Route.REGULAR: AsylumProcedure.ASYLUM_PROCEDURE_REGULAR,
}
REGIME = {
    Regime.PACT: AsylumRegime.ASYLUM_REGIME_PACT,
    Regime.NATIONAL_PRE_PACT: AsylumRegime.ASYLUM_REGIME_NATIONAL_PRE_PACT,
}
DUBLIN_KIND = {
    Kind.TAKE_BACK: DublinKind.DUBLIN_KIND_TAKE_BACK,
    Kind.TAKE_CHARGE: DublinKind.DUBLIN_KIND_TAKE_CHARGE,
}
S = DublinStepKind

metadata = MetaData()
applications = Table(
    "applications",
    metadata,
    Column("application_id", String(36), primary_key=True),
    Column("v_nummer", String(10), nullable=False, index=True),
    Column("partner_reference", String(100), nullable=False),
    Column("family_group_id", String(100), nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("regime", String(20), nullable=False),
    Column("route", String(20), nullable=True),
    Column("reason", String(500), nullable=False, default=""),
    Column("inadmissibility", Boolean, nullable=False, default=False),
    Column("subsequent", Boolean, nullable=False),
    Column("crisis_id", String(100), nullable=False, default=""),
    Column("made_at", Float, nullable=False),
    Column("registered_at", Float, nullable=True),
    Column("lodged_at", Float, nullable=True),
    Column("examination_from", Float, nullable=True),  # lodging, or NL responsible
    Column("decision_due_at", Float, nullable=True),
    Column("border_due_at", Float, nullable=True),
    Column("dublin_kind", String(20), nullable=False, default=""),
    Column("member_state", String(2), nullable=False, default=""),
    Column("accepted_at", Float, nullable=True),
    Column("screening", LargeBinary, nullable=False),  # serialised ScreeningCompleted
    Column("outcome", String(60), nullable=True),
    Column("decided_at", Float, nullable=True),
    Column("late_days", Integer, nullable=False, default=0),
    Column("penalty_eur", Integer, nullable=False, default=0),
    Column("appeals", Integer, nullable=False, default=0),
)
crises = Table(
    "crises",
    metadata,
    Column("crisis_id", String(100), primary_key=True),
    Column("starts_at", Float, nullable=False),
    Column("ends_at", Float, nullable=True),
    Column("registration_weeks", Integer, nullable=False),
    Column("border_extension_weeks", Integer, nullable=False),
    Column("threshold", Float, nullable=False),
)
border_places = Table(
    "border_places",
    metadata,
    Column("v_nummer", String(10), primary_key=True),
    Column("application_id", String(36), nullable=False),
    Column("taken_at", Float, nullable=False),
)
decision_days = Table(
    "decision_days",
    metadata,
    Column("procedure", String(20), primary_key=True),
    Column("day", Integer, primary_key=True),
    Column("used", Integer, nullable=False),
)


async def _nl_responsible_on_breach(deadline: Deadline, ctx: Ctx) -> None:
    """AMMR: a Dublin deadline the IND missed makes the Netherlands responsible."""
    row = await _application(ctx, deadline.ref)
    if row is not None and row.status == "DUBLIN":
        await _continue_here(
            ctx, row, f"IND missed the limit ({deadline.type}): the Netherlands is responsible"
        )


REGISTRATION = DeadlineType(
    "asylum.registration",
    service="asylum",
    description="register within 5 days of the application (4 weeks in a crisis), APR Art. 27(1)",
)
LODGING = DeadlineType(
    "asylum.lodging",
    service="asylum",
    description="lodge within 21 days of registration, APR Art. 28(1)",
)
DECISION = DeadlineType(
    "asylum.decision",
    service="asylum",
    description="decide within the limit of the procedure (APR Art. 35(3), 51(2); Vw 2000 art. 42)",
)
BORDER_PROCEDURE = DeadlineType(
    "asylum.border_procedure",
    service="asylum",
    description="border procedure within 12 weeks of registration, appeal included "
    "(APR Art. 51(2))",
)
DUBLIN_REQUEST = DeadlineType(
    "asylum.dublin_request",
    service="asylum",
    description="take-back notification within 2 weeks of the hit; take-charge request within "
    "2 months of registration, 1 month after a hit (AMMR Art. 39(1), 41(1))",
    on_breach=_nl_responsible_on_breach,
)
TRANSFER_DECISION = DeadlineType(
    "asylum.transfer_decision",
    service="asylum",
    description="transfer decision within 2 weeks of acceptance or confirmation (AMMR Art. 42(1))",
    on_breach=_nl_responsible_on_breach,
)


def _at(value: float | None) -> datetime:
    return datetime.fromtimestamp(value or 0.0, UTC)


# --- two or more instances on one PostgreSQL ----------------------------------------
# A handler first locks the row of its own case (`_application`: FOR UPDATE), so two
# instances acting on one case (a timer here, a message or another timer there) take
# turns and the second sees what the first did. Then, for the IND's shared state (the
# border places, the decision days, what the family group was given), it holds one
# lock until its transaction commits: read, decide and write are one step, and the
# locks are always taken in this order (case, shared state). SQLite has one writer.

_SHARED = text("SELECT pg_advisory_xact_lock(hashtext('asylum.shared'))")


async def _hold_shared(ctx: Ctx) -> None:
    """Hold the IND's shared state until this transaction ends (PostgreSQL; re-entrant)."""
    if not ctx.uow.store.is_sqlite:
        await ctx.uow.conn.execute(_SHARED)


_APPLICATION = (
    select(applications)
    .where(applications.c.application_id == bindparam("application_id"))
    .with_for_update()
)


async def _application(ctx: Ctx, application_id: str) -> Row[Any] | None:
    """The case's row, locked until the transaction ends (see above)."""
    result = await ctx.uow.conn.execute(_APPLICATION, {"application_id": application_id})
    return result.first()


# The IND's hot statements are built once, with bound parameters: SQLAlchemy then finds
# their compiled form by a cache key computed once, instead of building and hashing a
# statement per call (as the kit's `_Statements`).
# SET takes the columns of the parameters given: one compiled form per set of columns.
_SET = update(applications).where(applications.c.application_id == bindparam("where_id"))
_ADD = insert(applications)
_OF_PERSON = select(applications).where(applications.c.v_nummer == bindparam("v")).with_for_update()
_CRISES = select(crises)
_FAMILY_ROUTE = select(applications.c.route).where(
    applications.c.family_group_id == bindparam("family"),
    applications.c.application_id != bindparam("application_id"),
    applications.c.status.in_(OPEN_STATES),
    applications.c.route.is_not(None),
    applications.c.route != Route.DUBLIN.value,
)
_FAMILY_OUTCOME = select(applications.c.outcome).where(
    applications.c.family_group_id == bindparam("family"),
    applications.c.application_id != bindparam("application_id"),
    applications.c.outcome.is_not(None),
    applications.c.outcome != "DECISION_OUTCOME_DUBLIN_TRANSFER",
    applications.c.route == bindparam("route"),
)
_PLACES_IN_USE = select(func.count()).select_from(border_places)
_RELEASE_PLACE = delete(border_places).where(border_places.c.v_nummer == bindparam("v"))


async def _set(ctx: Ctx, application_id: str, **values: Any) -> None:
    await ctx.uow.conn.execute(_SET, {"where_id": application_id, **values})


def _screened(row: Row[Any]) -> ScreeningCompleted:
    return ScreeningCompleted.FromString(row.screening)


async def _crisis_for(ctx: Ctx, made: datetime) -> Crisis | None:
    for row in (await ctx.uow.conn.execute(_CRISES)).all():
        crisis = Crisis(
            row.crisis_id,
            _at(row.starts_at),
            None if row.ends_at is None else _at(row.ends_at),
            Period(row.registration_weeks, "weeks"),
            Period(row.border_extension_weeks, "weeks"),
            row.threshold,
        )
        if crisis.covers(made):
            return crisis
    return None


# --- arrival and registration ------------------------------------------------------


async def on_screening_completed(screened: ScreeningCompleted, ctx: Ctx) -> None:
    if screened.referral != Referral.REFERRAL_ASYLUM:
        return
    v = screened.v_nummer
    earlier = (await ctx.uow.conn.execute(_OF_PERSON, {"v": v})).all()
    open_case = next((r for r in earlier if r.status in OPEN_STATES), None)
    now = ctx.clock.now()
    if open_case is not None:
        ctx.publish(
            ApplicationSupplemented(
                v_nummer=v,
                application_id=open_case.application_id,
                at=timestamp(now),
                detail="repeated arrival added to the open application (no second application)",
            ),
            key=v,
        )
        return
    made = made_at(screened)
    crisis = await _crisis_for(ctx, made)
    application_id = new_uuid()
    ind = screened.indicators
    await ctx.uow.conn.execute(
        _ADD,
        {
            "application_id": application_id,
            "v_nummer": v,
            "partner_reference": ind.partner_reference,
            "family_group_id": ind.family_group_id,
            "status": "REGISTERING",
            "regime": regime(made, asylum_settings().pact_applies_from).value,
            "reason": "",
            "inadmissibility": False,
            "subsequent": bool(earlier),
            "crisis_id": crisis.crisis_id if crisis else "",
            "made_at": made.timestamp(),
            # The columns' defaults given here: an INSERT with a Python-side default
            # does not take the driver's fast path on SQLite (chainkit.fastsql).
            "dublin_kind": "",
            "member_state": "",
            "screening": screened.SerializeToString(),
            "late_days": 0,
            "penalty_eur": 0,
            "appeals": 0,
        },
    )
    due = decisions.registration_due(made, crisis)
    await ctx.watch(REGISTRATION, v, due, started_at=min(made, now), ref=application_id)
    at = now + timedelta(days=asylum_settings().registration_days)
    await ctx.schedule(REGISTER, v, at, application_id.encode())


async def on_register(timer: Timer, ctx: Ctx) -> None:
    row = await _application(ctx, timer.payload.decode())
    if row is None or row.status != "REGISTERING":
        return
    now = ctx.clock.now()
    met = await ctx.meet(REGISTRATION, row.v_nummer, ref=row.application_id)
    screened = _screened(row)
    made = _at(row.made_at)
    crisis = await _crisis_for(ctx, made)
    applied = Regime(row.regime)
    await _set(ctx, row.application_id, registered_at=now.timestamp())
    dublin, why_not = (None, "") if row.subsequent else claim(evidence(screened))
    if dublin is not None:
        routing = Routing(Route.DUBLIN, dublin.reason)
    else:
        routing = await _national_route(ctx, row, crisis, now)
        if why_not:
            routing = Routing(
                routing.route,
                f"{why_not}; {routing.reason}",
                routing.grounds,
                routing.needs_border_place,
                routing.priority,
                routing.capacity_suspended,
                routing.inadmissibility,
                routing.notes,
            )
    reason = "; ".join((routing.reason, *routing.notes))
    border_due = None
    if routing.route == Route.BORDER:
        border_due = decisions.decision_due(
            Route.BORDER, applied, now, now, crisis=crisis, made_at=made
        )
        await ctx.watch(BORDER_PROCEDURE, row.v_nummer, border_due, ref=row.application_id)
    await _set(
        ctx,
        row.application_id,
        status="DUBLIN" if dublin else "LODGING",
        route=routing.route.value,
        reason=reason[:500],
        inadmissibility=routing.inadmissibility,
        border_due_at=border_due.timestamp() if border_due else None,
        dublin_kind=dublin.kind.value if dublin else "",
        member_state=dublin.member_state if dublin else "",
    )
    planned_lodging = now + timedelta(days=asylum_settings().lodging_days)
    planned_due = border_due or decisions.decision_due(
        routing.route, applied, now, planned_lodging,
        inadmissibility=routing.inadmissibility,
        extension=asylum_settings().old_regime_extension_months,
    )  # fmt: skip
    ind = screened.indicators
    ctx.publish(
        AsylumApplicationRegistered(
            v_nummer=row.v_nummer,
            application_id=row.application_id,
            procedure=PROCEDURE[routing.route],
            registered_at=timestamp(now),
            decision_due_at=timestamp(planned_due),
            minor=is_minor_age(screened.claimed_age),
            family_with_children=ind.family_with_children,
            unaccompanied_minor=ind.unaccompanied_minor,
            made_at=timestamp(made),
            registration_due_at=timestamp(met.due_at) if met else None,
            registration_late=bool(met and met.late_seconds),
            routing_reason=reason,
            regime_name=applied.value,
            subsequent=row.subsequent,
            crisis_id=row.crisis_id,
            dublin_member_state=dublin.member_state if dublin else "",
            border_places_in_use=await _places_in_use(ctx),
        ),
        key=row.v_nummer,
    )
    await ctx.watch(LODGING, row.v_nummer, decisions.lodging_due(now), ref=row.application_id)
    await ctx.schedule(LODGE, row.v_nummer, planned_lodging, row.application_id.encode())
    if dublin is not None:
        await _start_dublin(ctx, row, dublin, now, screened)


async def _national_route(ctx: Ctx, row: Row[Any], crisis: Crisis | None, now: datetime) -> Routing:
    """Route here; a child follows the route of its family; a border place is taken."""
    await _hold_shared(ctx)  # the family's route and the places in use, until commit
    screened = _screened(row)
    person = applicant(screened, subsequent=row.subsequent)
    applied = Regime(row.regime)
    family = await _family_route(ctx, row)
    if family is not None and person.minor and not person.unaccompanied_minor:
        routing = Routing(family, f"follows the route of the family group ({family.value})")
    else:
        found = grounds(person, threshold(person, crisis))
        in_use = await _places_in_use(ctx)
        s = asylum_settings()
        place = admit(
            priority(person, found), in_use, s.border_capacity, s.family_reserve, s.priority_reserve
        )
        routing = route(person, applied, crisis, place)
    if routing.route == Route.BORDER:
        await _take_place(ctx, row, now)
    return routing


async def _family_route(ctx: Ctx, row: Row[Any]) -> Route | None:
    if not row.family_group_id:
        return None
    result = await ctx.uow.conn.execute(
        _FAMILY_ROUTE, {"family": row.family_group_id, "application_id": row.application_id}
    )
    found = result.scalars().first()
    return None if found is None else Route(found)


# --- border capacity ---------------------------------------------------------------


async def _places_in_use(ctx: Ctx) -> int:
    result = await ctx.uow.conn.execute(_PLACES_IN_USE)
    return int(result.scalar_one())


def _take_place_statement(dialect_insert: Any) -> Any:
    """A place for a person who holds none (one place per person)."""
    return dialect_insert(border_places).on_conflict_do_nothing(
        index_elements=[border_places.c.v_nummer]
    )


_TAKE_PLACE = {
    True: _take_place_statement(sqlite.insert),
    False: _take_place_statement(postgresql.insert),
}


async def _take_place(ctx: Ctx, row: Row[Any], now: datetime) -> None:
    """Under the shared lock (taken in `_national_route`)."""
    await _hold_shared(ctx)
    result = await ctx.uow.conn.execute(
        _TAKE_PLACE[ctx.uow.store.is_sqlite],
        {
            "v_nummer": row.v_nummer,
            "application_id": row.application_id,
            "taken_at": now.timestamp(),
        },
    )
    if not result.rowcount:
        return  # already holds one
    in_use = await _places_in_use(ctx)
    if in_use == asylum_settings().border_capacity:
        _capacity_event(ctx, CapacityState.CAPACITY_STATE_REACHED, in_use, now)


async def _release_place(ctx: Ctx, v_nummer: str) -> None:
    await _hold_shared(ctx)
    result = await ctx.uow.conn.execute(_RELEASE_PLACE, {"v": v_nummer})
    if not result.rowcount:
        return
    in_use = await _places_in_use(ctx)
    if in_use == asylum_settings().border_capacity - 1:
        _capacity_event(ctx, CapacityState.CAPACITY_STATE_RELEASED, in_use, ctx.clock.now())


def _capacity_event(ctx: Ctx, state: CapacityState.ValueType, in_use: int, now: datetime) -> None:
    ctx.publish(
        BorderCapacityChanged(
            state=state,
            in_use=in_use,
            capacity=asylum_settings().border_capacity,
            at=timestamp(now),
        ),
        key="border",
    )


async def on_border_procedure_ended(ended: ReturnBorderProcedureEnded, ctx: Ctx) -> None:
    """DTenV's return border procedure ended: the place held since the IND's border
    procedure is free again."""
    await _release_place(ctx, ended.v_nummer)


# --- lodging and the decision ------------------------------------------------------


async def on_lodge(timer: Timer, ctx: Ctx) -> None:
    row = await _application(ctx, timer.payload.decode())
    if row is None or row.lodged_at is not None or row.status not in OPEN_STATES:
        return
    now = ctx.clock.now()
    await ctx.meet(LODGING, row.v_nummer, ref=row.application_id)
    await _set(ctx, row.application_id, lodged_at=now.timestamp())
    if row.status == "DUBLIN":
        ctx.publish(
            ApplicationLodged(
                v_nummer=row.v_nummer,
                application_id=row.application_id,
                lodged_at=timestamp(now),
                lodging_due_at=timestamp(decisions.lodging_due(_at(row.registered_at))),
                procedure=row.route,
                reason="examined when the Netherlands is responsible (APR Art. 35(3))",
            ),
            key=row.v_nummer,
        )
        return
    await _start_examination(ctx, row, now, now)


async def _start_examination(ctx: Ctx, row: Row[Any], lodged: datetime, start: datetime) -> None:
    """The decision limit runs from lodging (or from when NL became responsible); the
    IND decides when a slot of its daily capacity is free."""
    applied = Regime(row.regime)
    rt = Route(row.route)
    s = asylum_settings()
    if rt == Route.BORDER and row.border_due_at:
        due = _at(row.border_due_at)
    else:
        due = decisions.decision_due(
            rt, applied, _at(row.registered_at), start,
            inadmissibility=row.inadmissibility, extension=s.old_regime_extension_months,
        )  # fmt: skip
    await _set(
        ctx, row.application_id, status="DECIDING", examination_from=start.timestamp(),
        decision_due_at=due.timestamp(),
    )  # fmt: skip
    # The border procedure's period runs from registration, the others from `start`.
    started = min(start, due, _at(row.registered_at)) if rt == Route.BORDER else start
    await ctx.watch(
        DECISION, row.v_nummer, due, started_at=started, ref=row.application_id, detail=rt.value
    )
    ctx.publish(
        ApplicationLodged(
            v_nummer=row.v_nummer,
            application_id=row.application_id,
            lodged_at=timestamp(lodged),
            lodging_due_at=timestamp(decisions.lodging_due(_at(row.registered_at))),
            decision_due_at=timestamp(due),
            procedure=rt.value,
            reason=row.reason,
        ),
        key=row.v_nummer,
    )
    await _schedule_decision(ctx, row, rt, start, due)


async def _schedule_decision(
    ctx: Ctx, row: Row[Any], rt: Route, start: datetime, due: datetime
) -> None:
    s = asylum_settings()
    planted = fixtures().decision_for(row.v_nummer, row.partner_reference)
    if planted is not None and planted.late_days:
        at = due + timedelta(days=planted.late_days)
    else:
        ready = start + timedelta(days=s.handling_days.get(rt.value, 30))
        day = await _decision_slot(ctx, rt, ready)
        at = max(ready, datetime.fromtimestamp(day * DAY, UTC))
    await ctx.schedule(DECIDE, row.v_nummer, at, row.application_id.encode())


_DAYS_FROM = select(decision_days.c.day, decision_days.c.used).where(
    decision_days.c.procedure == bindparam("procedure"), decision_days.c.day >= bindparam("first")
)


def _take_slot_statement(dialect_insert: Any) -> Any:
    """One slot of a day, in one statement: the day's first slot, or one more while
    fewer than `per_day` are used; no row returned when the day is full."""
    return (
        dialect_insert(decision_days)
        .values(procedure=bindparam("procedure"), day=bindparam("day"), used=1)
        .on_conflict_do_update(
            index_elements=[decision_days.c.procedure, decision_days.c.day],
            set_={"used": decision_days.c.used + 1},
            where=decision_days.c.used < bindparam("per_day"),
        )
        .returning(decision_days.c.used)
    )


_TAKE_SLOT = {
    True: _take_slot_statement(sqlite.insert),
    False: _take_slot_statement(postgresql.insert),
}


async def _decision_slot(ctx: Ctx, rt: Route, ready: datetime) -> int:
    """Take a slot of the IND's decisions per day for this procedure (backlog forms).
    The capacity is checked again by the statement that takes the slot, so a day never
    gets more than `per_day` decisions, whatever another instance does meanwhile."""
    per_day = asylum_settings().decisions_per_day.get(rt.value, 40)
    first = int(ready.timestamp() // DAY)
    await _hold_shared(ctx)
    conn = ctx.uow.conn
    while True:
        result = await conn.execute(_DAYS_FROM, {"procedure": rt.value, "first": first})
        used = {int(r.day): int(r.used) for r in result.all()}
        day = decisions.next_free_day(first, used, per_day)
        taken = await conn.execute(
            _TAKE_SLOT[ctx.uow.store.is_sqlite],
            {"procedure": rt.value, "day": day, "per_day": per_day},
        )
        if taken.first() is not None:
            return day
        first = day + 1  # filled meanwhile: the next free day after it


async def on_decide(timer: Timer, ctx: Ctx) -> None:
    row = await _application(ctx, timer.payload.decode())
    if row is None or row.status != "DECIDING":
        return
    outcome = await _family_outcome(ctx, row)
    if outcome is None:
        outcome = _merits(ctx, row)
    # A family is decided together: each member's decision (in its own trace) takes
    # the outcome already given to the family group on the same route.
    await _decide(ctx, row, outcome)


def _merits(ctx: Ctx, row: Row[Any]) -> DecisionOutcome.ValueType:
    planted = fixtures().decision_for(row.v_nummer, row.partner_reference)
    if planted is not None and row.appeals == 0:
        return DecisionOutcome.Value(f"DECISION_OUTCOME_{planted.outcome}")
    rate = rate_table().rate(list(_screened(row).form.nationalities))
    rng = ctx.rng("decision", row.v_nummer, row.appeals)
    return decisions.merits(Route(row.route), rate, row.inadmissibility, rng)


async def _family_outcome(ctx: Ctx, row: Row[Any]) -> DecisionOutcome.ValueType | None:
    if not row.family_group_id:
        return None
    await _hold_shared(ctx)  # a member decided meanwhile elsewhere is seen
    result = await ctx.uow.conn.execute(
        _FAMILY_OUTCOME,
        {"family": row.family_group_id, "application_id": row.application_id, "route": row.route},
    )
    found = result.scalars().first()
    return None if found is None else DecisionOutcome.Value(found)


async def _decide(ctx: Ctx, row: Row[Any], outcome: DecisionOutcome.ValueType) -> None:
    now = ctx.clock.now()
    s = asylum_settings()
    rt = Route(row.route)
    met = await ctx.meet(DECISION, row.v_nummer, ref=row.application_id)
    late_days = math.ceil(met.late_seconds / DAY) if met else 0
    penalty = decisions.penalty(late_days, s.penalty_per_day, s.penalty_stretch_days, s.penalty_max)
    decision = decisions.with_return(outcome, rt)
    appeal = decision.return_decision and await _appeal_lodged(ctx, row, now)
    await _set(
        ctx, row.application_id, status="APPEAL" if appeal else "DECIDED",
        outcome=DecisionOutcome.Name(outcome), decided_at=now.timestamp(), late_days=late_days,
        penalty_eur=row.penalty_eur + penalty,
    )  # fmt: skip
    border = rt == Route.BORDER
    if is_granted(outcome) and border:
        await _release_place(ctx, row.v_nummer)
    if border and not appeal:
        await ctx.meet(BORDER_PROCEDURE, row.v_nummer, ref=row.application_id)
    late = f"; decided {late_days} days late, penalty EUR {penalty} (Awb 4:17)" if late_days else ""
    ctx.publish(
        AsylumDecision(
            v_nummer=row.v_nummer,
            application_id=row.application_id,
            procedure=PROCEDURE[rt],
            outcome=outcome,
            return_decision=decision.return_decision,
            departure_period_days=decision.departure_period_days,
            decided_at=timestamp(now),
            suspensive_appeal_pending=appeal,
            reason=f"{decision.grounds}; route: {row.reason}{late}"[:1000],
            regime=REGIME[Regime(row.regime)],
            border_procedure=border,
            decision_due_at=timestamp(met.due_at) if met else None,
            late_days=late_days,
            penalty_eur=penalty,
            family_group_id=row.family_group_id,
        ),
        key=row.v_nummer,
    )


# --- appeals -----------------------------------------------------------------------


async def _appeal_lodged(ctx: Ctx, row: Row[Any], now: datetime) -> bool:
    """Does the applicant appeal (planted or seeded)? If so, lodge it: with suspensive
    effect DTenV and COA wait for the ruling; in the border procedure the ruling falls
    inside the 12 weeks."""
    if row.appeals:
        return False  # a new decision after an upheld appeal: no second simulated appeal
    planted = fixtures().decision_for(row.v_nummer, row.partner_reference)
    s = asylum_settings()
    if planted is not None and planted.appeal is not None:
        appealing = planted.appeal != "NONE"
    else:
        appealing = decisions.appeal_drawn(ctx.rng("appeal", row.v_nummer), s.appeal_share)
    if not appealing:
        return False
    ruling = now + timedelta(days=s.appeal_days)
    if row.route == Route.BORDER.value and row.border_due_at:
        inside = _at(row.border_due_at) - timedelta(hours=1)
        ruling = max(min(ruling, inside), now)
    elif row.route == Route.DUBLIN.value:
        ruling = min(ruling, law.TRANSFER_APPEAL_RULING.after(now) - timedelta(hours=1))
    ctx.publish(
        AppealLodged(
            v_nummer=row.v_nummer,
            application_id=row.application_id,
            lodged_at=timestamp(now),
            ruling_due_at=timestamp(ruling),
            suspensive=True,
            border_procedure=row.route == Route.BORDER.value,
        ),
        key=row.v_nummer,
    )
    await ctx.schedule(APPEAL_RULING, row.v_nummer, ruling, row.application_id.encode())
    return True


async def on_appeal_ruling(timer: Timer, ctx: Ctx) -> None:
    row = await _application(ctx, timer.payload.decode())
    if row is None or row.status != "APPEAL":
        return
    now = ctx.clock.now()
    s = asylum_settings()
    planted = fixtures().decision_for(row.v_nummer, row.partner_reference)
    if planted is not None and planted.appeal in ("DISMISSED", "UPHELD"):
        upheld = planted.appeal == "UPHELD"
    else:
        upheld = decisions.appeal_upheld(
            ctx.rng("appeal-ruling", row.v_nummer), s.appeal_upheld_share
        )
    rt = Route(row.route)
    outcome = DecisionOutcome.Value(row.outcome)
    decision = decisions.with_return(outcome, rt)
    transfer_deadline = law.TRANSFER.after(_at(row.accepted_at)) if row.accepted_at else None
    ctx.publish(
        AppealDecided(
            v_nummer=row.v_nummer,
            application_id=row.application_id,
            procedure=PROCEDURE[rt],
            appeal_outcome=AppealOutcome.APPEAL_OUTCOME_UPHELD
            if upheld
            else AppealOutcome.APPEAL_OUTCOME_DISMISSED,
            outcome_in_force=DecisionOutcome.DECISION_OUTCOME_UNSPECIFIED if upheld else outcome,
            return_decision=not upheld and decision.return_decision,
            departure_period_days=0 if upheld else decision.departure_period_days,
            responsible_member_state="" if upheld else row.member_state,
            transfer_deadline_at=timestamp(transfer_deadline)
            if transfer_deadline and not upheld
            else None,
            decided_at=timestamp(now),
            border_procedure=rt == Route.BORDER,
        ),
        key=row.v_nummer,
    )
    if rt == Route.BORDER:
        await ctx.meet(BORDER_PROCEDURE, row.v_nummer, ref=row.application_id)
    if not upheld:
        await _set(ctx, row.application_id, status="DECIDED")
        return
    await _set(ctx, row.application_id, appeals=row.appeals + 1, outcome=None)
    if rt == Route.DUBLIN:
        fresh = await _application(ctx, row.application_id)
        if fresh is not None:
            await _set(ctx, row.application_id, status="DUBLIN")
            await _continue_here(
                ctx, fresh, "transfer decision annulled on appeal: the Netherlands examines"
            )
        return
    fresh = await _application(ctx, row.application_id)
    if fresh is not None:  # the IND decides again, within the same limit
        await _set(ctx, row.application_id, status="DECIDING")
        await _schedule_decision(ctx, fresh, rt, now, _at(fresh.decision_due_at))
        await ctx.watch(
            DECISION, row.v_nummer, max(_at(fresh.decision_due_at), now),
            started_at=now, ref=row.application_id, detail="new decision after appeal",
        )  # fmt: skip


# --- Dublin ------------------------------------------------------------------------


async def _start_dublin(
    ctx: Ctx, row: Row[Any], c: Claim, now: datetime, screened: ScreeningCompleted
) -> None:
    hit_at = from_timestamp(screened.completed_at) if screened.HasField("completed_at") else now
    due = max(request_due(c, now, hit_at), now)
    _dublin_step(
        ctx,
        row.v_nummer,
        row.application_id,
        c.kind,
        S.DUBLIN_STEP_KIND_STARTED,
        c.member_state,
        now,
        due,
        c.reason,
    )
    await ctx.watch(
        DUBLIN_REQUEST,
        row.v_nummer,
        due,
        started_at=min(hit_at, now),
        ref=row.application_id,
        detail=c.kind.value,
    )
    planted = fixtures().dublin_for(row.v_nummer, row.partner_reference)
    at = now + timedelta(days=asylum_settings().dublin_step_days)
    if planted is not None and planted.ind_late:
        at = due + timedelta(days=1)
    await ctx.schedule(DUBLIN_SEND, row.v_nummer, at, row.application_id.encode())


def _claim_of(row: Row[Any]) -> Claim:
    c, _ = claim(evidence(_screened(row)))
    if c is None:
        raise LookupError("a Dublin case without a claim")
    return c


async def on_dublin_send(timer: Timer, ctx: Ctx) -> None:
    row = await _application(ctx, timer.payload.decode())
    if row is None or row.status != "DUBLIN" or row.accepted_at is not None:
        return
    now = ctx.clock.now()
    c = _claim_of(row)
    met = await ctx.meet(DUBLIN_REQUEST, row.v_nummer, ref=row.application_id)
    if met is not None and met.late_seconds:
        return  # the breach already made the Netherlands responsible
    if needs_hearing(c):
        _dublin_step(
            ctx,
            row.v_nummer,
            row.application_id,
            c.kind,
            S.DUBLIN_STEP_KIND_HEARING_HELD,
            c.member_state,
            now,
            None,
            "the applicant was heard before the request (AMMR Art. 22)",
        )
    due = reply_due(c, now)
    _dublin_step(
        ctx,
        row.v_nummer,
        row.application_id,
        c.kind,
        S.DUBLIN_STEP_KIND_REQUEST_SENT,
        c.member_state,
        now,
        due,
        "reply due; silence is acceptance"
        if c.kind == Kind.TAKE_CHARGE
        else "confirmation due; silence confirms",
    )
    planted = fixtures().dublin_for(row.v_nummer, row.partner_reference)
    s = asylum_settings()
    answer = (
        Answer(planted.answer)
        if planted
        else simulated_dublin_answer(
            ctx.rng("dublin", row.v_nummer), s.dublin_accept_share, s.dublin_reject_share
        )
    )
    at = (
        due
        if answer == Answer.SILENCE
        else min(now + timedelta(days=s.member_state_reply_days), due)
    )
    await ctx.schedule(
        DUBLIN_REPLY, row.v_nummer, at, f"{row.application_id}|{answer.value}".encode()
    )


async def on_dublin_reply(timer: Timer, ctx: Ctx) -> None:
    application_id, _, answer = timer.payload.decode().partition("|")
    row = await _application(ctx, application_id)
    if row is None or row.status != "DUBLIN" or row.accepted_at is not None:
        return
    now = ctx.clock.now()
    c = _claim_of(row)
    if Answer(answer) == Answer.REJECT:
        _dublin_step(
            ctx,
            row.v_nummer,
            row.application_id,
            c.kind,
            S.DUBLIN_STEP_KIND_REJECTED,
            c.member_state,
            now,
            None,
            f"{c.member_state} refused",
        )
        await _continue_here(
            ctx, row, f"{c.member_state} refused the {c.kind.value.lower().replace('_', '-')}"
        )
        return
    step = (
        S.DUBLIN_STEP_KIND_ACCEPTED
        if Answer(answer) == Answer.ACCEPT
        else S.DUBLIN_STEP_KIND_ACCEPTED_BY_SILENCE
    )
    why = (
        "accepted"
        if step == S.DUBLIN_STEP_KIND_ACCEPTED
        else "no reply in time: accepted by silence (AMMR Art. 40(2), 41(2))"
    )
    _dublin_step(
        ctx, row.v_nummer, row.application_id, c.kind, step, c.member_state, now, None, why
    )
    await _set(ctx, row.application_id, accepted_at=now.timestamp())
    due = law.TRANSFER_DECISION.after(now)
    await ctx.watch(TRANSFER_DECISION, row.v_nummer, due, ref=row.application_id)
    await ctx.schedule(
        TRANSFER_DECIDE,
        row.v_nummer,
        now + timedelta(days=asylum_settings().dublin_step_days),
        row.application_id.encode(),
    )


async def on_transfer_decide(timer: Timer, ctx: Ctx) -> None:
    row = await _application(ctx, timer.payload.decode())
    if row is None or row.status != "DUBLIN":
        return
    now = ctx.clock.now()
    c = _claim_of(row)
    met = await ctx.meet(TRANSFER_DECISION, row.v_nummer, ref=row.application_id)
    if met is not None and met.late_seconds:
        return
    accepted = _at(row.accepted_at)
    transfer_deadline = law.TRANSFER.after(accepted)
    _dublin_step(
        ctx,
        row.v_nummer,
        row.application_id,
        c.kind,
        S.DUBLIN_STEP_KIND_TRANSFER_DECIDED,
        c.member_state,
        now,
        met.due_at if met else None,
        "transfer decision handed to DTenV",
    )
    outcome = DecisionOutcome.DECISION_OUTCOME_DUBLIN_TRANSFER
    appeal = await _appeal_lodged(ctx, row, now)
    await _set(
        ctx,
        row.application_id,
        status="APPEAL" if appeal else "DECIDED",
        outcome=DecisionOutcome.Name(outcome),
        decided_at=now.timestamp(),
    )
    ctx.publish(
        AsylumDecision(
            v_nummer=row.v_nummer,
            application_id=row.application_id,
            procedure=AsylumProcedure.ASYLUM_PROCEDURE_DUBLIN,
            outcome=outcome,
            responsible_member_state=c.member_state,
            decided_at=timestamp(now),
            transfer_deadline_at=timestamp(transfer_deadline),
            suspensive_appeal_pending=appeal,
            reason=f"transfer decision (AMMR Art. 42): {c.reason}",
            regime=REGIME[Regime(row.regime)],
            decision_due_at=timestamp(met.due_at) if met else None,
        ),
        key=row.v_nummer,
    )


async def _continue_here(ctx: Ctx, row: Row[Any], why: str) -> None:
    """The Netherlands is responsible: route the case nationally; the examination
    period runs from now (APR Art. 35(3))."""
    now = ctx.clock.now()
    kind = Kind(row.dublin_kind) if row.dublin_kind else Kind.TAKE_CHARGE
    _dublin_step(
        ctx,
        row.v_nummer,
        row.application_id,
        kind,
        S.DUBLIN_STEP_KIND_NL_RESPONSIBLE,
        row.member_state,
        now,
        None,
        why,
    )
    await ctx.unwatch(DUBLIN_REQUEST, row.v_nummer, ref=row.application_id, reason=why)
    await ctx.unwatch(TRANSFER_DECISION, row.v_nummer, ref=row.application_id, reason=why)
    crisis = await _crisis_for(ctx, _at(row.made_at))
    routing = await _national_route(ctx, row, crisis, now)
    reason = "; ".join((why, routing.reason, *routing.notes))[:500]
    border_due = None
    if routing.route == Route.BORDER:
        border_due = decisions.decision_due(
            Route.BORDER, Regime(row.regime), now, now, crisis=crisis, made_at=_at(row.made_at)
        )
        await ctx.watch(BORDER_PROCEDURE, row.v_nummer, border_due, ref=row.application_id)
    await _set(
        ctx, row.application_id, status="LODGING", route=routing.route.value, reason=reason,
        inadmissibility=routing.inadmissibility, accepted_at=None, outcome=None,
        border_due_at=border_due.timestamp() if border_due else None,
    )  # fmt: skip
    fresh = await _application(ctx, row.application_id)
    if fresh is not None and fresh.lodged_at is not None:
        await _start_examination(ctx, fresh, _at(fresh.lodged_at), now)


def _dublin_step(
    ctx: Ctx, v: str, application_id: str, kind: Kind, step: DublinStepKind.ValueType,
    member_state: str, at: datetime, due: datetime | None, reason: str,
) -> None:  # fmt: skip
    ctx.publish(
        DublinStep(
            v_nummer=v,
            application_id=application_id,
            kind=DUBLIN_KIND[kind],
            step=step,
            member_state=member_state,
            at=timestamp(at),
            due_at=timestamp(due) if due else None,
            late=bool(due and at > due),
            reason=reason,
        ),
        key=v,
    )


async def on_transfer_expired(expired: TransferExpired, ctx: Ctx) -> None:
    row = await _application(ctx, expired.application_id)
    if row is None or row.v_nummer != expired.v_nummer:
        raise PoisonMessage(
            "unknown_case", "application_id: no Dublin case of the IND for this V-nummer"
        )
    if row.outcome != "DECISION_OUTCOME_DUBLIN_TRANSFER":
        return
    await _set(ctx, row.application_id, status="DUBLIN")
    fresh = await _application(ctx, row.application_id)
    if fresh is not None:
        await _continue_here(
            ctx,
            fresh,
            "transfer deadline expired (AMMR Art. 46(2)): the Netherlands is responsible",
        )


# --- crisis ------------------------------------------------------------------------


async def on_crisis_declared(declared: CrisisDeclared, ctx: Ctx) -> None:
    if not declared.crisis_id.strip():
        raise PoisonMessage("missing_field", "crisis_id: is required")
    if not declared.HasField("starts_at"):
        raise PoisonMessage("missing_field", "starts_at: is required")
    rate = declared.recognition_rate_threshold or 0.20
    try:
        check_crisis_threshold(rate)
    except ValueError as error:
        raise PoisonMessage("invalid_field", f"recognition_rate_threshold: {error}") from None
    registration = declared.registration_weeks or law.REGISTRATION_CRISIS.amount
    extension = declared.border_extension_weeks or law.BORDER_CRISIS_EXTRA.amount
    if not 0 < registration <= law.REGISTRATION_CRISIS.amount:
        raise PoisonMessage("invalid_field", "registration_weeks: at most 4 (Regulation 2024/1359)")
    if not 0 < extension <= law.BORDER_CRISIS_EXTRA.amount:
        raise PoisonMessage(
            "invalid_field", "border_extension_weeks: at most 6 (Regulation 2024/1359)"
        )
    values = {
        "starts_at": from_timestamp(declared.starts_at).timestamp(),
        "ends_at": from_timestamp(declared.ends_at).timestamp()
        if declared.HasField("ends_at")
        else None,
        "registration_weeks": registration,
        "border_extension_weeks": extension,
        "threshold": rate,
    }
    upsert = postgresql.insert if not ctx.uow.store.is_sqlite else sqlite.insert
    await ctx.uow.conn.execute(
        upsert(crises)
        .values(crisis_id=declared.crisis_id, **values)
        .on_conflict_do_update(index_elements=[crises.c.crisis_id], set_=values)
    )


async def on_crisis_ended(ended: CrisisEnded, ctx: Ctx) -> None:
    result = await ctx.uow.conn.execute(
        update(crises)
        .where(crises.c.crisis_id == ended.crisis_id)
        .values(
            ends_at=(
                from_timestamp(ended.ended_at) if ended.HasField("ended_at") else ctx.clock.now()
            ).timestamp()
        )
    )
    if not result.rowcount:
        raise PoisonMessage("unknown_case", "crisis_id: no crisis with this id was declared")


async def _check_data(_: Any) -> None:
    """Refuse to start with a bad rate table or fixture file (names the file and field)."""
    rate_table()
    fixtures()


SPEC = ServiceSpec(
    name="asylum",
    stage="asylum",
    metadata=metadata,
    handlers={
        ScreeningCompleted: on_screening_completed,
        ReturnBorderProcedureEnded: on_border_procedure_ended,
        TransferExpired: on_transfer_expired,
        CrisisDeclared: on_crisis_declared,
        CrisisEnded: on_crisis_ended,
    },
    timers={
        REGISTER: on_register,
        LODGE: on_lodge,
        DECIDE: on_decide,
        DUBLIN_SEND: on_dublin_send,
        DUBLIN_REPLY: on_dublin_reply,
        TRANSFER_DECIDE: on_transfer_decide,
        APPEAL_RULING: on_appeal_ruling,
    },
    on_start=[_check_data],
)

"""Legal deadlines watched in one way: each service registers the types it owns, stores
each running period, and the kit publishes started, at risk, met, breached, cancelled.

A deadline is a row in the service's own `deadlines` table plus two stored timers (at
risk, breached) on the simulated clock, so it survives restarts and its events continue
the trace of the step that set it. Every change is a `DeadlineEvent` on
chain.deadline.v1; a breach is also a `DeadlineBreached` on chain.deadline-breached.v1.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    Text,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.sql.expression import Executable

from chainkit.clock import timestamp
from chainkit.store import Timer, UnitOfWork
from migratieketen.v1.deadline_pb2 import DeadlineBreached, DeadlineEvent, DeadlineState

if TYPE_CHECKING:
    from chainkit.runtime import Ctx

BreachHandler = Callable[["Deadline", "Ctx"], Awaitable[None]]

AT_RISK_TIMER = "deadline.at_risk"
BREACHED_TIMER = "deadline.breached"

STARTED = DeadlineState.DEADLINE_STATE_STARTED
AT_RISK = DeadlineState.DEADLINE_STATE_AT_RISK
MET = DeadlineState.DEADLINE_STATE_MET
BREACHED = DeadlineState.DEADLINE_STATE_BREACHED
CANCELLED = DeadlineState.DEADLINE_STATE_CANCELLED
RUNNING = (STARTED, AT_RISK)

REGISTRY: dict[str, DeadlineType] = {}


@dataclass(frozen=True)
class DeadlineType:
    """A kind of legal time limit a service owns; creating one registers it."""

    name: str  # "<service>.<what>", e.g. "asylum.registration"
    service: str
    description: str  # the rule and its source, e.g. "register within 5 days (APR Art. 27)"
    on_breach: BreachHandler | None = None  # runs in the breach timer's transaction

    def __post_init__(self) -> None:
        if not self.name.startswith(f"{self.service}."):
            raise ValueError(f"deadline type {self.name!r} must start with {self.service!r}.")
        known = REGISTRY.get(self.name)
        if known is not None and (known.service, known.description) != (
            self.service,
            self.description,
        ):
            raise ValueError(f"deadline type {self.name!r} is registered twice, differently")
        REGISTRY[self.name] = self


@dataclass(frozen=True)
class Deadline:
    """One running (or ended) period for one person."""

    id: int
    type: str
    v_nummer: str
    ref: str
    started_at: datetime
    due_at: datetime
    state: DeadlineState.ValueType
    met_at: datetime | None

    @property
    def late_seconds(self) -> int:
        """Simulated seconds past the limit at which the step was done (0 if on time)."""
        if self.met_at is None:
            return 0
        return max(int((self.met_at - self.due_at).total_seconds()), 0)


def table(metadata: MetaData) -> Table:
    """The service's `deadlines` table, added to its metadata once."""
    existing = metadata.tables.get("deadlines")
    if existing is not None:
        return existing
    return Table(
        "deadlines",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("type", String(100), nullable=False),
        Column("v_nummer", String(10), nullable=False),
        Column("ref", String(100), nullable=False),
        Column("started_at", Float, nullable=False),  # simulated Unix time
        Column("due_at", Float, nullable=False),
        Column("state", Integer, nullable=False),
        Column("met_at", Float, nullable=True),
        Column("detail", Text, nullable=False),
        Index("ix_deadlines_case", "type", "v_nummer", "ref"),
    )


async def watch(
    ctx: Ctx,
    dtype: DeadlineType,
    v_nummer: str,
    due_at: datetime,
    *,
    started_at: datetime | None = None,
    ref: str = "",
    detail: str = "",
) -> Deadline:
    """Start watching a period (again: a second watch of the same one replaces it)."""
    uow = ctx.uow
    deadlines = table(uow.store.metadata)
    # A period already over when it is watched (its start lay earlier, e.g. at a decision
    # read late) is breached at once, not refused.
    start = min(started_at or ctx.clock.now(), due_at)
    row = await _row(uow, dtype.name, v_nummer, ref)
    values = {
        "started_at": start.timestamp(),
        "due_at": due_at.timestamp(),
        "state": STARTED,
        "met_at": None,
        "detail": detail,
    }
    statements = _statements(deadlines, uow)
    if row is None:
        result = await uow.conn.execute(
            statements.insert, {"type": dtype.name, "v_nummer": v_nummer, "ref": ref, **values}
        )
        deadline_id = int(result.scalar_one())
    else:
        deadline_id = row.id
        await _drop_timers(uow, deadline_id, v_nummer)
        await uow.conn.execute(statements.update, {"d_id": deadline_id, **values})
    share = ctx.settings.deadline_at_risk_share
    payload = str(deadline_id).encode()
    await uow.schedule_many(
        [
            (AT_RISK_TIMER, v_nummer, start + (due_at - start) * share, payload),
            (BREACHED_TIMER, v_nummer, due_at, payload),
        ]
    )
    deadline = Deadline(deadline_id, dtype.name, v_nummer, ref, start, due_at, STARTED, None)
    _publish(ctx, deadline, STARTED, start, detail)
    return deadline


async def meet(ctx: Ctx, dtype: DeadlineType, v_nummer: str, *, ref: str = "") -> Deadline | None:
    """The step was done. A step done after the limit is a breach (if the breach timer
    has not fired yet) and then met late. Idempotent; None when nothing was watched."""
    now = ctx.clock.now()
    # The common case, a running period met in time, in one statement instead of a read
    # and a write; anything else (late, already met, breached, unknown) is read first.
    on_time = (
        await ctx.uow.conn.execute(
            _statements(table(ctx.uow.store.metadata), ctx.uow).meet_on_time,
            {
                "d_type": dtype.name,
                "d_v_nummer": v_nummer,
                "d_ref": ref,
                "d_running": list(RUNNING),
                "d_now": now.timestamp(),
                "state": MET,
                "met_at": now.timestamp(),
            },
        )
    ).first()
    if on_time is not None:
        await _drop_timers(ctx.uow, on_time.id, v_nummer)
        met = Deadline(**{**_deadline(on_time).__dict__, "met_at": now})
        _publish(ctx, met, MET, now, on_time.detail)
        return met
    row = await _row(ctx.uow, dtype.name, v_nummer, ref)
    if row is None:
        return None
    deadline = _deadline(row)
    if deadline.state not in (*RUNNING, BREACHED):
        return deadline
    if deadline.state in RUNNING and now > deadline.due_at:
        await _breach(ctx, deadline, row.detail)
    await _set_state(ctx.uow, deadline.id, MET, met_at=now)
    await _drop_timers(ctx.uow, deadline.id, v_nummer)
    met = Deadline(**{**deadline.__dict__, "state": MET, "met_at": now})
    _publish(ctx, met, MET, now, row.detail)
    return met


async def unwatch(
    ctx: Ctx, dtype: DeadlineType, v_nummer: str, *, ref: str = "", reason: str = ""
) -> None:
    """The period no longer applies (the procedure changed, the case ended otherwise)."""
    row = await _row(ctx.uow, dtype.name, v_nummer, ref)
    if row is None or row.state not in RUNNING:
        return
    await _set_state(ctx.uow, row.id, CANCELLED)
    await _drop_timers(ctx.uow, row.id, v_nummer)
    _publish(ctx, _deadline(row), CANCELLED, ctx.clock.now(), reason or row.detail)


async def find(
    uow: UnitOfWork, dtype: DeadlineType, v_nummer: str, ref: str = ""
) -> Deadline | None:
    row = await _row(uow, dtype.name, v_nummer, ref)
    return None if row is None else _deadline(row)


async def on_at_risk(timer: Timer, ctx: Ctx) -> None:
    row = await _advance(ctx.uow, int(timer.payload), (STARTED,), AT_RISK)
    if row is not None:
        _publish(ctx, _deadline(row), AT_RISK, ctx.clock.now(), row.detail)


async def on_breached(timer: Timer, ctx: Ctx) -> None:
    row = await _advance(ctx.uow, int(timer.payload), RUNNING, BREACHED)
    if row is not None:
        await _breached(ctx, _deadline(row), row.detail)


TIMERS = {AT_RISK_TIMER: on_at_risk, BREACHED_TIMER: on_breached}


async def _breach(ctx: Ctx, deadline: Deadline, detail: str) -> None:
    await _set_state(ctx.uow, deadline.id, BREACHED)
    await _breached(ctx, Deadline(**{**deadline.__dict__, "state": BREACHED}), detail)


async def _breached(ctx: Ctx, breached: Deadline, detail: str) -> None:
    """Publish a breach whose state is stored, and run its type's breach handler."""
    now = ctx.clock.now()
    _publish(ctx, breached, BREACHED, now, detail)
    ctx.publish(
        DeadlineBreached(
            v_nummer=breached.v_nummer,
            service=ctx.service,
            stage=ctx.stage,
            rule=breached.type,
            due_at=timestamp(breached.due_at),
            detected_at=timestamp(now),
            detail=detail,
        ),
        key=breached.v_nummer,
    )
    dtype = REGISTRY.get(breached.type)
    if dtype is not None and dtype.on_breach is not None:
        await dtype.on_breach(breached, ctx)


def _publish(
    ctx: Ctx, deadline: Deadline, state: DeadlineState.ValueType, at: datetime, detail: str
) -> None:
    late = max(int((at - deadline.due_at).total_seconds()), 0)
    dtype = REGISTRY.get(deadline.type)
    ctx.publish(
        DeadlineEvent(
            v_nummer=deadline.v_nummer,
            service=ctx.service,
            stage=ctx.stage,
            type=deadline.type,
            state=state,
            started_at=timestamp(deadline.started_at),
            due_at=timestamp(deadline.due_at),
            at=timestamp(at),
            late=state == MET and late > 0,
            late_seconds=late if state in (MET, BREACHED) else 0,
            ref=deadline.ref,
            detail=detail,
            description=dtype.description if dtype else "",
        ),
        key=deadline.v_nummer,
    )


@dataclass(frozen=True)
class _Statements:
    """Built once per service: SQLAlchemy then reuses their compiled form by a cache
    key computed once, instead of building and hashing a statement per call."""

    row: Executable
    insert: Executable
    update: Executable
    advance: Executable
    meet_on_time: Executable
    drop_timers: Executable


_STATEMENTS: dict[Table, _Statements] = {}


def _statements(deadlines: Table, uow: UnitOfWork) -> _Statements:
    known = _STATEMENTS.get(deadlines)
    if known is not None:
        return known
    timers = uow.store.timers
    # The period a (type, V-nummer, ref) names: one row at most.
    period = (
        deadlines.c.type == bindparam("d_type"),
        deadlines.c.v_nummer == bindparam("d_v_nummer"),
        deadlines.c.ref == bindparam("d_ref"),
    )
    built = _Statements(
        row=select(deadlines).where(*period),
        insert=insert(deadlines).returning(deadlines.c.id),
        update=update(deadlines).where(deadlines.c.id == bindparam("d_id")),
        # A timer's change of state, only from the states it may come from: one
        # statement, the row as it now is returned (none: nothing to do).
        advance=update(deadlines)
        .where(
            deadlines.c.id == bindparam("d_id"),
            deadlines.c.state.in_(bindparam("d_from", expanding=True)),
        )
        .returning(*deadlines.c),
        meet_on_time=update(deadlines)
        .where(
            *period,
            deadlines.c.state.in_(bindparam("d_running", expanding=True)),
            deadlines.c.due_at >= bindparam("d_now"),
        )
        .returning(*deadlines.c),
        drop_timers=delete(timers).where(
            timers.c.v_nummer == bindparam("d_v_nummer"),
            timers.c.kind.in_(TIMERS),
            timers.c.payload == bindparam("d_payload"),
        ),
    )
    _STATEMENTS[deadlines] = built
    return built


async def _row(uow: UnitOfWork, type_name: str, v_nummer: str, ref: str) -> Row[Any] | None:
    deadlines = table(uow.store.metadata)
    result = await uow.conn.execute(
        _statements(deadlines, uow).row,
        {"d_type": type_name, "d_v_nummer": v_nummer, "d_ref": ref},
    )
    return result.first()


async def _advance(
    uow: UnitOfWork,
    deadline_id: int,
    from_states: tuple[DeadlineState.ValueType, ...],
    state: DeadlineState.ValueType,
) -> Row[Any] | None:
    """Set the state of a deadline that is in one of `from_states`; its row, or None."""
    deadlines = table(uow.store.metadata)
    result = await uow.conn.execute(
        _statements(deadlines, uow).advance,
        {"d_id": deadline_id, "d_from": list(from_states), "state": state},
    )
    return result.first()


async def _set_state(
    uow: UnitOfWork,
    deadline_id: int,
    state: DeadlineState.ValueType,
    met_at: datetime | None = None,
) -> None:
    deadlines = table(uow.store.metadata)
    values: dict[str, object] = {"d_id": deadline_id, "state": state}
    if met_at is not None:
        values["met_at"] = met_at.timestamp()
    await uow.conn.execute(_statements(deadlines, uow).update, values)


async def _drop_timers(uow: UnitOfWork, deadline_id: int, v_nummer: str) -> None:
    deadlines = table(uow.store.metadata)
    await uow.conn.execute(
        _statements(deadlines, uow).drop_timers,
        {"d_v_nummer": v_nummer, "d_payload": str(deadline_id).encode()},
    )


def _deadline(row: Row[Any]) -> Deadline:
    return Deadline(
        id=row.id,
        type=row.type,
        v_nummer=row.v_nummer,
        ref=row.ref,
        started_at=datetime.fromtimestamp(row.started_at, UTC),
        due_at=datetime.fromtimestamp(row.due_at, UTC),
        state=DeadlineState.ValueType(row.state),
        met_at=None if row.met_at is None else datetime.fromtimestamp(row.met_at, UTC),
    )

"""The gateway's tables and the one way a request is answered: audit record plus result event."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Row,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from chainkit.clock import SimClock, timestamp
from chainkit.store import Store, UnitOfWork
from europaloket.domain import operation_name, operation_of, result_class, system_name
from europaloket.systems import NationalRecord
from migratieketen.v1.common_pb2 import EuSystem, Partner
from migratieketen.v1.europaloket_pb2 import (
    CheckPurpose,
    CheckRequest,
    CheckResult,
    CheckStatus,
    SystemAnswer,
)

PENDING, DONE = "pending", "done"
# Written out in SQL, not bound: the partial index below is defined by it, and a plan
# made before a bound value is known (PostgreSQL's generic plans) could not use it.
_IS_PENDING = f"state = '{PENDING}'"

metadata = MetaData()
# Requests the gateway accepted. A pending row is work for the workers and survives a
# crash; the request itself (fingerprint hash, documents) is dropped once answered.
requests = Table(
    "requests",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("v_nummer", String(10), nullable=False, index=True),
    Column("state", String(10), nullable=False),
    Column("request", LargeBinary, nullable=False),
    Column("trace_context", Text, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("answered_at", Float, nullable=True),
    # The gateway instance working on a pending row, until its lease runs out: two
    # instances on one database never call the systems twice for one request.
    Column("claimed_by", String(100), nullable=True),
    Column("lease_until", Float, nullable=True),
    # The pending rows only, oldest first: a claim walks them and stops at its limit,
    # past at most the rows in flight. An index on state made a claim read and sort every
    # pending row (1 ms with 4,000 waiting in a surge) and marking a request answered
    # cost 150 µs (SQLite moving it among thousands of equal keys); with this one 0.1 ms
    # and 3 µs.
    Index(
        "ix_requests_pending",
        "received_at",
        sqlite_where=text(_IS_PENDING),
        postgresql_where=text(_IS_PENDING),
    ),
)
# The access log eu-LISA requires, one row per request: who, when, why, which systems,
# what class of answer. Never biometrics, names or document numbers.
audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(64), nullable=False, unique=True),
    Column("v_nummer", String(10), nullable=False, index=True),
    Column("partner", String(40), nullable=False),
    Column("purpose", String(60), nullable=False),
    Column("operation", String(40), nullable=False),
    Column("systems", String(200), nullable=False),  # as requested
    Column("answers", String(400), nullable=False),  # per system consulted: SIS=NO_HIT ...
    Column("result_class", String(20), nullable=False),
    Column("reason", Text, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("at", Float, nullable=False),  # real Unix time the request arrived
)
# What the Netherlands wrote into the simulated systems: Eurodac registrations, SIS
# return alerts and the end of their departure period, EES exits.
national_records = Table(
    "national_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("system", String(20), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("v_nummer", String(10), nullable=False, index=True),
    Column("reference", String(40), nullable=False),
    Column("category", String(40), nullable=False),
    Column("occurred_at", Float, nullable=False),  # simulated Unix time
    Column("request_id", String(64), nullable=False),
    UniqueConstraint("kind", "v_nummer", "reference"),
)

# Statements run once or more per request, built once (see chainkit.store._Statements).
_AUDIT = insert(audit)
_NATIONAL_OF = select(national_records).where(national_records.c.v_nummer == bindparam("v_nummer"))
KNOWN = select(requests.c.request_id).where(requests.c.request_id == bindparam("request_id"))
ACCEPT = insert(requests)
_NATIONAL_EXISTS = select(national_records.c.id).where(
    national_records.c.kind == bindparam("kind"),
    national_records.c.v_nummer == bindparam("v_nummer"),
    national_records.c.reference == bindparam("reference"),
)
_NATIONAL_INSERT = insert(national_records)
_R = requests.c
# The rows claim_pending may take (its docstring says when a row is free).
_FREE = (
    select(_R.request_id)
    .where(
        text(_IS_PENDING),
        or_(
            _R.lease_until.is_(None),
            _R.lease_until < bindparam("now"),
            and_(
                _R.claimed_by == bindparam("instance"),
                _R.request_id.not_in(bindparam("busy", expanding=True)),
            ),
        ),
    )
    .order_by(_R.received_at)
    .limit(bindparam("limit", type_=Integer))
    .with_for_update(skip_locked=True)
)
CLAIM = (
    update(requests)
    .where(_R.request_id.in_(_FREE.scalar_subquery()))
    .values(claimed_by=bindparam("instance"), lease_until=bindparam("lease_until"))
    .returning(_R.request_id, _R.request, _R.trace_context, _R.received_at)
)
_FINISH = (
    update(requests)
    .where(
        _R.request_id.in_(bindparam("request_ids", expanding=True)),
        _R.state == PENDING,
        _R.claimed_by == bindparam("instance"),
    )
    .values(state=DONE, answered_at=bindparam("at"), request=b"", lease_until=None)
    .returning(_R.request_id)
)


async def respond(
    uow: UnitOfWork,
    request: CheckRequest,
    status: CheckStatus.ValueType,
    answers: Sequence[SystemAnswer],
    received_at: float,
    clock: SimClock,
    reason: str = "",
) -> None:
    """Audit the request and publish its one result, in the caller's transaction."""
    await uow.conn.execute(
        _AUDIT,
        {
            "request_id": request.request_id,
            "v_nummer": request.v_nummer,
            "partner": Partner.Name(request.partner),
            "purpose": CheckPurpose.Name(request.purpose),
            "operation": operation_name(operation_of(request)),
            "systems": ",".join(system_name(s) for s in request.systems),
            "answers": " ".join(
                f"{system_name(a.system)}={result_class(a.status)}" for a in answers
            ),
            "result_class": result_class(status),
            "reason": reason,
            "latency_ms": max(0.0, (time.time() - received_at) * 1000),
            "at": received_at,
        },
    )
    uow.publish(
        CheckResult(
            request_id=request.request_id,
            v_nummer=request.v_nummer,
            partner=request.partner,
            purpose=request.purpose,
            status=status,
            answers=answers,
            completed_at=timestamp(clock.now()),
            operation=operation_of(request),
        ),
        key=request.v_nummer,
    )


async def claim_pending(
    store: Store, instance: str, busy: set[str], limit: int, lease_seconds: float
) -> list[Row[Any]]:
    """Take up to `limit` pending requests, oldest first, for `instance` until the lease
    runs out. A row is free when nobody holds it, its lease ran out (its claimer died),
    or this instance holds it but no longer works on it (it restarted, or an answer
    failed). On PostgreSQL, rows another instance is claiming at this moment are skipped
    (FOR UPDATE SKIP LOCKED); SQLite has one writer at a time."""
    now = time.time()
    async with store.write() as conn:
        rows = await conn.execute(
            CLAIM,
            {
                "now": now,
                "instance": instance,
                # Never empty (request ids are never ""): one statement, reused as is.
                "busy": [*busy] or [""],
                "limit": limit,
                "lease_until": now + lease_seconds,
            },
        )
        return sorted(rows, key=lambda row: row.received_at)


async def finish(conn: AsyncConnection, instance: str, request_ids: Sequence[str]) -> set[str]:
    """Mark the requests this instance still holds answered, and forget the request
    itself (fingerprint hash, documents); return those marked. One lost to another
    instance after its lease ran out is left to that instance."""
    rows = await conn.execute(
        _FINISH, {"request_ids": list(request_ids), "instance": instance, "at": time.time()}
    )
    return {row.request_id for row in rows}


async def national_of(store: Store, v_nummer: str) -> list[NationalRecord]:
    """What the Netherlands wrote into the simulated systems about one person."""
    async with store.engine.connect() as conn:
        rows = await conn.execute(_NATIONAL_OF, {"v_nummer": v_nummer})
        return [
            NationalRecord(
                EuSystem.Value(f"EU_SYSTEM_{r.system}"),
                r.kind,
                r.v_nummer,
                r.reference,
                r.category,
                r.occurred_at,
            )
            for r in rows
        ]


async def store_national(conn: AsyncConnection, record: NationalRecord, request_id: str) -> None:
    """Writes are idempotent: the same registration or alert is stored once."""
    exists = await conn.execute(
        _NATIONAL_EXISTS,
        {"kind": record.kind, "v_nummer": record.v_nummer, "reference": record.reference},
    )
    if exists.first() is None:
        await conn.execute(
            _NATIONAL_INSERT,
            {
                "system": system_name(record.system),
                "kind": record.kind,
                "v_nummer": record.v_nummer,
                "reference": record.reference,
                "category": record.category,
                "occurred_at": record.occurred_at,
                "request_id": request_id,
            },
        )

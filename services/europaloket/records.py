"""The gateway's tables and the one way a request is answered: audit record plus result event."""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy import (
    Column,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
)

from chainkit.clock import SimClock, timestamp
from chainkit.store import UnitOfWork
from europaloket.domain import operation_name, operation_of, result_class, system_name
from migratieketen.v1.common_pb2 import Partner
from migratieketen.v1.europaloket_pb2 import (
    CheckPurpose,
    CheckRequest,
    CheckResult,
    CheckStatus,
    SystemAnswer,
)

PENDING, DONE = "pending", "done"

metadata = MetaData()
# Requests the gateway accepted. A pending row is work for the workers and survives a
# crash; the request itself (fingerprint hash, documents) is dropped once answered.
requests = Table(
    "requests",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("v_nummer", String(10), nullable=False, index=True),
    Column("state", String(10), nullable=False, index=True),
    Column("request", LargeBinary, nullable=False),
    Column("trace_context", Text, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("answered_at", Float, nullable=True),
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
        insert(audit).values(
            request_id=request.request_id,
            v_nummer=request.v_nummer,
            partner=Partner.Name(request.partner),
            purpose=CheckPurpose.Name(request.purpose),
            operation=operation_name(operation_of(request)),
            systems=",".join(system_name(s) for s in request.systems),
            answers=" ".join(f"{system_name(a.system)}={result_class(a.status)}" for a in answers),
            result_class=result_class(status),
            reason=reason,
            latency_ms=max(0.0, (time.time() - received_at) * 1000),
            at=received_at,
        )
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

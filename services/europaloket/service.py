"""Europaloket handlers and tables: guard, consult, audit, answer once."""

from __future__ import annotations

import time

from opentelemetry import trace
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, insert, select

from chainkit.clock import timestamp
from chainkit.runtime import Ctx, ServiceSpec
from europaloket.domain import denied_systems, overall_status, simulate
from migratieketen.v1.common_pb2 import EuSystem, Partner
from migratieketen.v1.europaloket_pb2 import (
    CheckPurpose,
    CheckRequest,
    CheckResult,
    CheckStatus,
    SystemAnswer,
)

metadata = MetaData()
# Every query, for the access log eu-LISA requires: who, when, why, what class of answer.
audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(64), nullable=False, unique=True),
    Column("v_nummer", String(10), nullable=False, index=True),
    Column("partner", String(40), nullable=False),
    Column("purpose", String(60), nullable=False),
    Column("systems", String(200), nullable=False),
    Column("result_class", String(20), nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("at", Float, nullable=False),
)

_tracer = trace.get_tracer("migratieketen.europaloket")


async def on_check_request(request: CheckRequest, ctx: Ctx) -> None:
    answered = await ctx.uow.conn.execute(
        select(audit.c.id).where(audit.c.request_id == request.request_id)
    )
    if answered.first() is not None:
        return  # one answer per request
    started = time.perf_counter()
    denied = denied_systems(request)
    if denied:
        names = ", ".join(EuSystem.Name(s) for s in denied)
        status = CheckStatus.CHECK_STATUS_DENIED
        answers: list[SystemAnswer] = []
        trace.get_current_span().set_attribute("europaloket.denied", names)
    else:
        answers = []
        for system in request.systems:
            with _tracer.start_as_current_span(f"europaloket {EuSystem.Name(system)}") as span:
                answer = simulate(request, system, ctx.settings.seed)
                span.set_attribute("europaloket.system", EuSystem.Name(system))
                span.set_attribute("europaloket.result", CheckStatus.Name(answer.status))
                span.set_attribute("case.v_nummer", request.v_nummer)
                span.set_attribute("case.stage", "eu-check")
            answers.append(answer)
        status = overall_status(answers)
    await ctx.uow.conn.execute(
        insert(audit).values(
            request_id=request.request_id,
            v_nummer=request.v_nummer,
            partner=Partner.Name(request.partner),
            purpose=CheckPurpose.Name(request.purpose),
            systems=",".join(EuSystem.Name(s) for s in request.systems),
            result_class=CheckStatus.Name(status).removeprefix("CHECK_STATUS_"),
            latency_ms=(time.perf_counter() - started) * 1000,
            at=time.time(),
        )
    )
    ctx.publish(
        CheckResult(
            request_id=request.request_id,
            v_nummer=request.v_nummer,
            partner=request.partner,
            purpose=request.purpose,
            status=status,
            answers=answers,
            completed_at=timestamp(ctx.clock.now()),
        ),
        key=request.v_nummer,
    )


SPEC = ServiceSpec(
    name="europaloket",
    stage="eu-check",
    metadata=metadata,
    handlers={CheckRequest: on_check_request},
)

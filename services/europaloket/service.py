"""Europaloket handler: guard the door, then leave the request to the gateway's workers."""

from __future__ import annotations

import os
import time

from opentelemetry import trace

from chainkit.codec import PoisonMessage
from chainkit.runtime import Ctx, ServiceSpec
from chainkit.telemetry import put_attributes, stored_context
from europaloket.domain import Denied, denied_answers, operation_name, operation_of, plan
from europaloket.gateway import STAGE_NAME, Gateway
from europaloket.records import ACCEPT, DONE, KNOWN, PENDING, metadata, respond
from europaloket.settings import GatewaySettings
from migratieketen.v1.common_pb2 import Partner
from migratieketen.v1.europaloket_pb2 import CheckRequest, CheckStatus

_MAX_REQUEST_ID = 64


async def on_check_request(request: CheckRequest, ctx: Ctx) -> None:
    """Validate, apply need-to-know, and store the request as pending in the same
    transaction as the inbox record; a denial is answered here and then."""
    if not request.request_id:
        raise PoisonMessage("invalid_check_request", "field request_id is required")
    if len(request.request_id) > _MAX_REQUEST_ID:
        raise PoisonMessage(
            "invalid_check_request", f"field request_id is longer than {_MAX_REQUEST_ID}"
        )
    span = trace.get_current_span()
    known = await ctx.uow.conn.execute(KNOWN, {"request_id": request.request_id})
    if known.first() is not None:
        span.set_attribute("europaloket.repeated_request", True)
        return  # one answer per request id, whatever the event id
    put_attributes(
        span,
        {
            "europaloket.partner": Partner.Name(request.partner),
            "europaloket.operation": operation_name(operation_of(request)),
        },
    )
    now = time.time()
    verdict = plan(request)
    if isinstance(verdict, Denied):
        span.set_attribute("europaloket.result", "DENIED")
        await ctx.uow.conn.execute(
            ACCEPT,
            {
                "request_id": request.request_id,
                "v_nummer": request.v_nummer,
                "state": DONE,
                "request": b"",
                "trace_context": "{}",
                "received_at": now,
                "answered_at": now,
            },
        )
        status = CheckStatus.CHECK_STATUS_DENIED
        answers = denied_answers(verdict)
        await respond(ctx.uow, request, status, answers, now, ctx.clock, verdict.reason)
        return
    await ctx.uow.conn.execute(
        ACCEPT,
        {
            "request_id": request.request_id,
            "v_nummer": request.v_nummer,
            "state": PENDING,
            "request": request.SerializeToString(),
            "trace_context": stored_context(),
            "received_at": now,
            "answered_at": None,
        },
    )
    gateway.accepted()


gateway = Gateway(lambda: GatewaySettings.from_environment(os.environ))

SPEC = ServiceSpec(
    name="europaloket",
    stage=STAGE_NAME,
    metadata=metadata,
    handlers={CheckRequest: on_check_request},
    on_start=[gateway.start],
    workers=[gateway.run],
)

"""DTenV and the Europaloket on a real SQLite store (no broker): return alert, departure
records, and asking again when a system was unavailable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message
from sqlalchemy import MetaData, select

from chainkit.runtime import ServiceRuntime, ServiceSpec
from chainkit.settings import Settings
from chainkit.store import Timer
from migratieketen.v1.common_pb2 import Partner
from migratieketen.v1.europaloket_pb2 import (
    CheckOperation,
    CheckRequest,
    CheckResult,
    CheckStatus,
    SystemAnswer,
)
from migratieketen.v1.outcome_pb2 import CaseOutcome
from migratieketen.v1.screening_pb2 import Referral, ScreeningCompleted
from returns.domain import departure_records
from returns.service import (
    DEPARTURE,
    EU_RETRY,
    SPEC,
    eu_requests,
    on_check_result,
    on_due,
    on_eu_retry,
    on_screening_completed,
)

V = "2600000031"
ALERT = CheckOperation.CHECK_OPERATION_CREATE_RETURN_ALERT


class Returns:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def handle(self, handler: Any, event: Any) -> None:
        async with self.runtime.store.begin() as uow:
            await handler(event, self.runtime.ctx(uow))

    async def rows(self, table: Any) -> list[Any]:
        async with self.runtime.store.engine.connect() as conn:
            return list(await conn.execute(select(table)))

    async def published(self) -> list[Message]:
        kinds: dict[str, type[Message]] = {
            "europaloket.check-requested.v1": CheckRequest,
            "case.outcome.v1": CaseOutcome,
        }
        return [
            kinds[row.topic].FromString(row.value)
            for row in await self.rows(self.runtime.store.outbox)
        ]

    async def requests(self) -> list[CheckRequest]:
        return [m for m in await self.published() if isinstance(m, CheckRequest)]

    async def timers(self, kind: str) -> list[Timer]:
        far = self.runtime.clock.now().replace(year=2100)
        return [t for t in await self.runtime.store.due_timers(far) if t.kind == kind]

    async def answer(self, request: CheckRequest, status: CheckStatus.ValueType) -> None:
        result = CheckResult(
            request_id=request.request_id,
            v_nummer=request.v_nummer,
            partner=Partner.PARTNER_DTENV,
            status=status,
            answers=[SystemAnswer(status=status, recorded_reference="SIS-NL-00000001")],
            operation=request.operation,
        )
        await self.handle(on_check_result, result)


@pytest.fixture
async def returns(tmp_path: Path) -> AsyncIterator[Returns]:
    fresh = MetaData()
    for table in SPEC.metadata.tables.values():
        if table.name not in ("outbox", "inbox", "timers"):
            table.to_metadata(fresh)
    spec = ServiceSpec("returns", "return", fresh, handlers=SPEC.handlers, timers=SPEC.timers)
    runtime = ServiceRuntime(spec, Settings(data_dir=tmp_path, bootstrap_servers="127.0.0.1:9"))
    await runtime.store.start()
    try:
        yield Returns(runtime)
    finally:
        await runtime.store.close()
        await runtime.producer.stop()
        runtime.provider.shutdown()


async def open_departure(returns: Returns) -> CheckRequest:
    await returns.handle(
        on_screening_completed, ScreeningCompleted(v_nummer=V, referral=Referral.REFERRAL_RETURN)
    )
    (request,) = await returns.requests()
    return request


async def test_a_return_decision_enters_a_sis_return_alert(returns: Returns) -> None:
    request = await open_departure(returns)
    assert request.operation == ALERT and request.v_nummer == V
    assert request.partner == Partner.PARTNER_DTENV
    (row,) = await returns.rows(eu_requests)
    assert (row.request_id, row.state, row.attempt) == (request.request_id, "waiting", 1)
    await returns.answer(request, CheckStatus.CHECK_STATUS_RECORDED)
    (row,) = await returns.rows(eu_requests)
    assert (row.state, row.status, row.reference) == (
        "answered",
        "CHECK_STATUS_RECORDED",
        "SIS-NL-00000001",
    )
    assert await returns.timers(EU_RETRY) == []


async def test_the_end_of_the_departure_period_is_recorded_with_the_outcome(
    returns: Returns,
) -> None:
    await open_departure(returns)
    (timer,) = await returns.timers(DEPARTURE)
    async with returns.runtime.store.begin() as uow:
        await on_due(timer, returns.runtime.ctx(uow))
    published = await returns.published()
    (outcome,) = [m for m in published if isinstance(m, CaseOutcome)]
    later = [m.operation for m in published if isinstance(m, CheckRequest)][1:]
    assert later == departure_records(outcome.outcome) and later


async def test_an_unavailable_system_is_asked_again_under_a_new_request_id(
    returns: Returns,
) -> None:
    first = await open_departure(returns)
    await returns.answer(first, CheckStatus.CHECK_STATUS_UNAVAILABLE)
    (timer,) = await returns.timers(EU_RETRY)
    async with returns.runtime.store.begin() as uow:
        await on_eu_retry(timer, returns.runtime.ctx(uow))
    first_again, second = await returns.requests()
    assert first_again == first
    assert second.request_id != first.request_id
    assert (second.operation, second.v_nummer, second.occurred_at) == (
        first.operation,
        first.v_nummer,
        first.occurred_at,
    )
    attempts = {r.request_id: r.attempt for r in await returns.rows(eu_requests)}
    assert attempts == {first.request_id: 1, second.request_id: 2}


@pytest.mark.parametrize(
    "status", [CheckStatus.CHECK_STATUS_DENIED, CheckStatus.CHECK_STATUS_NOT_APPLICABLE]
)
async def test_a_refusal_is_final(returns: Returns, status: CheckStatus.ValueType) -> None:
    await returns.answer(await open_departure(returns), status)
    assert await returns.timers(EU_RETRY) == []


async def test_answers_to_others_and_repeated_answers_change_nothing(returns: Returns) -> None:
    request = await open_departure(returns)
    other = CheckResult(request_id=request.request_id, partner=Partner.PARTNER_SCREENING)
    await returns.handle(on_check_result, other)
    assert (await returns.rows(eu_requests))[0].state == "waiting"
    await returns.answer(request, CheckStatus.CHECK_STATUS_UNAVAILABLE)
    await returns.answer(request, CheckStatus.CHECK_STATUS_UNAVAILABLE)
    assert len(await returns.timers(EU_RETRY)) == 1

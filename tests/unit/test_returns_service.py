"""DTenV on a real SQLite store (no broker): return alert, departure with EES exit and
the alert deleted, detention never above capacity, MOB from COA, the return border
procedure, an expired transfer, waiting for a suspensive appeal, retries to SIS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message
from sqlalchemy import MetaData, select

from chainkit.catalogue import topics
from chainkit.runtime import ServiceRuntime, ServiceSpec
from chainkit.settings import Settings
from chainkit.store import Timer
from migratieketen.v1.asylum_pb2 import (
    AppealDecided,
    AppealOutcome,
    AsylumDecision,
    DecisionOutcome,
)
from migratieketen.v1.common_pb2 import Partner
from migratieketen.v1.europaloket_pb2 import (
    CheckOperation,
    CheckRequest,
    CheckResult,
    CheckStatus,
    SystemAnswer,
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
from returns import service
from returns.settings import returns_settings

V = "2600000031"
Op = CheckOperation
REJECTED = DecisionOutcome.DECISION_OUTCOME_REJECTED_UNFOUNDED
PLANTS = """
[[case]]
v_nummer = "2600000031"
outcome = "DEPARTED_VOLUNTARY"
after_days = 3

[[case]]
v_nummer = "2600000041"
outcome = "DEPARTED_FORCED"
detention = true

[[case]]
v_nummer = "2600000042"
outcome = "DEPARTED_FORCED"
detention = true

[[case]]
v_nummer = "2600000051"
outcome = "TRANSFER_EXPIRED"

[[case]]
v_nummer = "2600000061"
outcome = "DEPARTED_FORCED"
"""


class Returns:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def handle(self, handler: Any, event: Any) -> None:
        async with self.runtime.store.begin() as uow:
            await handler(event, self.runtime.ctx(uow))

    async def rows(self, table: Any) -> list[Any]:
        async with self.runtime.store.engine.connect() as conn:
            return list(await conn.execute(select(table)))

    async def published(self, kind: type[Message] | None = None) -> list[Any]:
        messages = [
            topics()[row.topic].message.FromString(row.value)
            for row in await self.rows(self.runtime.store.outbox)
        ]
        return [m for m in messages if kind is None or isinstance(m, kind)]

    async def requests(self) -> list[CheckRequest]:
        return await self.published(CheckRequest)

    async def timers(self, kind: str, v_nummer: str = "") -> list[Timer]:
        far = self.runtime.clock.now().replace(year=2200)
        return [
            t
            for t in await self.runtime.store.due_timers(far, limit=10_000)
            if t.kind == kind and (not v_nummer or t.v_nummer == v_nummer)
        ]

    async def fire(self, kind: str, v_nummer: str) -> None:
        timers = await self.timers(kind, v_nummer)
        assert timers, f"no {kind} timer for {v_nummer}"
        async with self.runtime.store.begin() as uow:
            assert await self.runtime.store.claim_timers(uow, [timers[0].id]) == {timers[0].id}
            await self.runtime.spec.timers[kind](timers[0], self.runtime.ctx(uow))

    async def answer(self, request: CheckRequest, status: CheckStatus.ValueType) -> None:
        result = CheckResult(
            request_id=request.request_id,
            v_nummer=request.v_nummer,
            partner=Partner.PARTNER_DTENV,
            status=status,
            answers=[SystemAnswer(status=status, recorded_reference="SIS-NL-00000001")],
            operation=request.operation,
        )
        await self.handle(service.on_check_result, result)


@pytest.fixture
async def returns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Returns]:
    (tmp_path / "plants.toml").write_text(PLANTS)
    monkeypatch.setenv("MK_RETURNS_FIXTURES", str(tmp_path / "plants.toml"))
    monkeypatch.setenv("MK_RETURNS_DETENTION_CAPACITY", "1")
    returns_settings.cache_clear()
    fresh = MetaData()
    for table in service.SPEC.metadata.tables.values():
        if table.name not in ("outbox", "inbox", "timers"):
            table.to_metadata(fresh)
    spec = ServiceSpec(
        "returns", "return", fresh, handlers=service.SPEC.handlers, timers=service.SPEC.timers
    )
    runtime = ServiceRuntime(spec, Settings(data_dir=tmp_path, bootstrap_servers="127.0.0.1:9"))
    await runtime.store.start()
    try:
        yield Returns(runtime)
    finally:
        await runtime.store.close()
        await runtime.producer.stop()
        runtime.provider.shutdown()
        returns_settings.cache_clear()


async def open_departure(returns: Returns, v: str = V) -> CheckRequest:
    await returns.handle(
        service.on_screening_completed,
        ScreeningCompleted(v_nummer=v, referral=Referral.REFERRAL_RETURN),
    )
    return next(r for r in await returns.requests() if r.v_nummer == v)


async def test_a_return_decision_enters_a_sis_return_alert(returns: Returns) -> None:
    request = await open_departure(returns)
    assert request.operation == Op.CHECK_OPERATION_CREATE_RETURN_ALERT and request.v_nummer == V
    (opened,) = await returns.published(ReturnCaseOpened)
    assert opened.track == ReturnTrack.RETURN_TRACK_DEPARTURE
    assert opened.departure_period_days == 28  # 4 weeks
    await returns.answer(request, CheckStatus.CHECK_STATUS_RECORDED)
    (row,) = await returns.rows(service.eu_requests)
    assert (row.state, row.status) == ("answered", "CHECK_STATUS_RECORDED")


async def test_a_departure_records_the_exit_and_deletes_the_alert(returns: Returns) -> None:
    await open_departure(returns)  # planted: leaves voluntarily after 3 days
    await returns.fire(service.DEPART, V)
    (outcome,) = await returns.published(CaseOutcome)
    assert outcome.outcome == Outcome.OUTCOME_DEPARTED_VOLUNTARY and not outcome.entry_ban
    operations = [r.operation for r in await returns.requests()]
    assert operations == [
        Op.CHECK_OPERATION_CREATE_RETURN_ALERT,
        Op.CHECK_OPERATION_RECORD_EXIT,
        Op.CHECK_OPERATION_DELETE_RETURN_ALERT,
    ]
    assert await returns.timers(service.PERIOD_END, V) == []  # nothing left to do


async def test_detention_is_never_above_its_capacity(returns: Returns) -> None:
    first, second = "2600000041", "2600000042"  # both planted: forced, from detention
    for v in (first, second):
        await open_departure(returns, v)
        await returns.fire(service.PERIOD_END, v)
    (taken,) = await returns.published(DetentionChanged)
    assert (taken.v_nummer, taken.detained, taken.occupancy, taken.capacity) == (first, True, 1, 1)
    assert not await returns.timers(service.REMOVE, second)  # waits for a place
    assert not await returns.timers(service.DETAIN, second), "no retry per day: a queue"
    await returns.fire(service.REMOVE, first)  # frees the place: the next one waiting
    assert await returns.timers(service.REMOVE, second)
    changes = await returns.published(DetentionChanged)
    assert [(c.v_nummer, c.detained) for c in changes] == [
        (first, True),
        (first, False),
        (second, True),
    ]
    assert max(c.occupancy for c in changes) <= 1
    (outcome,) = await returns.published(CaseOutcome)
    assert outcome.outcome == Outcome.OUTCOME_DEPARTED_FORCED
    assert outcome.entry_ban and outcome.detained


async def test_mob_reported_by_coa_ends_the_case_absconded(returns: Returns) -> None:
    await open_departure(returns, "2600000061")
    ended = ReceptionEnded(
        v_nummer="2600000061",
        reason=ReceptionEndReason.RECEPTION_END_REASON_ABSCONDED,
        detail="3 reports missed",
    )
    await returns.handle(service.on_reception_ended, ended)
    await returns.handle(service.on_reception_ended, ended)  # once only
    (outcome,) = await returns.published(CaseOutcome)
    assert outcome.outcome == Outcome.OUTCOME_ABSCONDED and outcome.entry_ban
    operations = [r.operation for r in await returns.requests()]
    assert operations == [
        Op.CHECK_OPERATION_CREATE_RETURN_ALERT,
        Op.CHECK_OPERATION_RECORD_DEPARTURE_PERIOD_END,
    ]


async def test_mob_without_a_return_case_is_still_one_outcome(returns: Returns) -> None:
    ended = ReceptionEnded(
        v_nummer="2600000071", reason=ReceptionEndReason.RECEPTION_END_REASON_ABSCONDED
    )
    await returns.handle(service.on_reception_ended, ended)
    decision = AsylumDecision(v_nummer="2600000071", outcome=REJECTED, return_decision=True)
    await returns.handle(service.on_decision, decision)  # a later decision opens nothing
    (outcome,) = await returns.published(CaseOutcome)
    assert outcome.outcome == Outcome.OUTCOME_ABSCONDED
    assert await returns.published(ReturnCaseOpened) == []


async def test_a_border_procedure_rejection_goes_to_the_return_border_procedure(
    returns: Returns,
) -> None:
    v = "2600000081"
    decision = AsylumDecision(
        v_nummer=v,
        outcome=REJECTED,
        return_decision=True,
        departure_period_days=28,
        border_procedure=True,
    )
    await returns.handle(service.on_decision, decision)
    (opened,) = await returns.published(ReturnCaseOpened)
    assert opened.track == ReturnTrack.RETURN_TRACK_RETURN_BORDER_PROCEDURE
    assert opened.departure_period_days == 15
    days = (opened.procedure_due_at.seconds - opened.opened_at.seconds) / 86400
    assert days == 84  # 12 weeks
    await returns.fire(service.RBP_END, v)
    (ended,) = await returns.published(ReturnBorderProcedureEnded)
    (outcome,) = await returns.published(CaseOutcome)
    assert ended.v_nummer == v and outcome.v_nummer == v


async def test_a_transfer_not_made_in_time_goes_back_to_the_ind(returns: Returns) -> None:
    v = "2600000051"  # planted: the transfer does not happen
    decision = AsylumDecision(
        v_nummer=v,
        application_id="app-51",
        outcome=DecisionOutcome.DECISION_OUTCOME_DUBLIN_TRANSFER,
        responsible_member_state="IT",
    )
    await returns.handle(service.on_decision, decision)
    assert not await returns.timers(service.TRANSFER, v)
    await returns.fire("deadline.breached", v)
    (expired,) = await returns.published(TransferExpired)
    assert (expired.application_id, expired.member_state) == ("app-51", "IT")
    assert await returns.published(CaseOutcome) == []
    # The IND decides again: a new case may open.
    await returns.handle(
        service.on_decision,
        AsylumDecision(
            v_nummer=v, outcome=REJECTED, return_decision=True, departure_period_days=28
        ),
    )
    assert len(await returns.published(ReturnCaseOpened)) == 2


async def test_a_suspensive_appeal_is_waited_for(returns: Returns) -> None:
    v = "2600000091"
    pending = AsylumDecision(
        v_nummer=v, outcome=REJECTED, return_decision=True, suspensive_appeal_pending=True
    )
    await returns.handle(service.on_decision, pending)
    assert await returns.published(ReturnCaseOpened) == []
    dismissed = AppealDecided(
        v_nummer=v,
        appeal_outcome=AppealOutcome.APPEAL_OUTCOME_DISMISSED,
        outcome_in_force=REJECTED,
        return_decision=True,
        departure_period_days=28,
    )
    await returns.handle(service.on_appeal, dismissed)
    (opened,) = await returns.published(ReturnCaseOpened)
    assert opened.departure_period_days == 28


async def test_an_unavailable_system_is_asked_again_under_a_new_request_id(
    returns: Returns,
) -> None:
    first = await open_departure(returns)
    await returns.answer(first, CheckStatus.CHECK_STATUS_UNAVAILABLE)
    await returns.fire(service.EU_RETRY, V)
    first_again, second = await returns.requests()
    assert first_again == first and second.request_id != first.request_id
    attempts = {r.request_id: r.attempt for r in await returns.rows(service.eu_requests)}
    assert attempts == {first.request_id: 1, second.request_id: 2}


async def test_answers_to_others_and_repeated_answers_change_nothing(returns: Returns) -> None:
    request = await open_departure(returns)
    other = CheckResult(request_id=request.request_id, partner=Partner.PARTNER_SCREENING)
    await returns.handle(service.on_check_result, other)
    assert (await returns.rows(service.eu_requests))[0].state == "waiting"
    await returns.answer(request, CheckStatus.CHECK_STATUS_UNAVAILABLE)
    await returns.answer(request, CheckStatus.CHECK_STATUS_UNAVAILABLE)
    assert len(await returns.timers(service.EU_RETRY)) == 1

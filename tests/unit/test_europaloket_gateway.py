"""The gateway's handler and worker on a real SQLite store (no broker): one answer per
request, retries, circuit breaker, outages, restart, spans and the audit record."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import MetaData, create_engine, event, select

from chainkit.clock import SimClock
from chainkit.codec import PoisonMessage
from chainkit.runtime import ServiceRuntime, ServiceSpec
from chainkit.settings import Settings
from europaloket.domain import DATA_SYSTEMS, Consult
from europaloket.gateway import Consultant, Gateway
from europaloket.records import (
    CLAIM,
    audit,
    claim_pending,
    finish,
    metadata,
    national_records,
    requests,
)
from europaloket.resilience import Outage
from europaloket.service import on_check_request
from europaloket.settings import GatewaySettings, SystemProfile
from europaloket.simulation import SimulatedSystem
from europaloket.systems import Population
from migratieketen.v1.common_pb2 import EuSystem, Partner
from migratieketen.v1.europaloket_pb2 import (
    CheckOperation,
    CheckPurpose,
    CheckRequest,
    CheckResult,
    CheckStatus,
)

S = EuSystem
HASH = "f" * 64
UNAVAILABLE = CheckStatus.CHECK_STATUS_UNAVAILABLE
FAST = SystemProfile(hit_share=0.0, latency_median_ms=1, latency_p95_ms=1)
ALWAYS_DOWN = (Outage(start_s=0, end_s=1e9),)


def check_request(
    n: int = 1,
    partner: Partner.ValueType = Partner.PARTNER_SCREENING,
    purpose: CheckPurpose.ValueType = CheckPurpose.CHECK_PURPOSE_SCREENING_SECURITY,
    systems: list[EuSystem.ValueType] | None = None,
    operation: CheckOperation.ValueType = CheckOperation.CHECK_OPERATION_QUERY,
) -> CheckRequest:
    return CheckRequest(
        request_id=f"req-{n}",
        v_nummer=f"{2_600_000_000 + n:010d}",
        partner=partner,
        purpose=purpose,
        systems=systems or [S.EU_SYSTEM_EURODAC, S.EU_SYSTEM_SIS, S.EU_SYSTEM_MID],
        biometric_template_hash=HASH,
        document_numbers=["DOC-SECRET-1"],
        claimed_age=30,
        operation=operation,
    )


# --- the consultant: timeout, retries, breaker, faults -------------------------------------


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def consultant(provider: TracerProvider, profile: SystemProfile, **settings: Any) -> Consultant:
    config = GatewaySettings(
        **{"backoff_base_ms": 1, "backoff_max_ms": 4, "timeout_ms": 200, **settings}
    )
    clock = SimClock(time.time(), 0.05)
    systems = {s: SimulatedSystem(s, profile, 1, clock) for s in DATA_SYSTEMS}
    return Consultant(config, systems, provider.get_tracer("test"), seed=1)


POPULATION = Population(seed=1, hit_share={})


async def ask(c: Consultant, n: int = 1, system: EuSystem.ValueType = S.EU_SYSTEM_SIS) -> Any:
    reply, _ = await c.consult(Consult(system), check_request(n), POPULATION, ())
    return reply


def attempts(exporter: InMemorySpanExporter) -> list[Any]:
    return [s.attributes["europaloket.attempts"] for s in exporter.get_finished_spans()]  # type: ignore[index]


async def test_a_healthy_system_answers_at_the_first_attempt(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    reply = await ask(consultant(provider, FAST))
    assert reply.status == CheckStatus.CHECK_STATUS_NO_HIT
    (span,) = exporter.get_finished_spans()
    assert span.name == "europaloket SIS"
    assert dict(span.attributes or {}) == {
        "europaloket.system": "SIS",
        "europaloket.operation": "QUERY",
        "case.v_nummer": "2600000001",
        "case.stage": "eu-check",
        "europaloket.result": "NO_HIT",
        "europaloket.attempts": 1,
    }


async def test_a_system_in_an_outage_is_unavailable_after_every_retry(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    down = SystemProfile(0.0, 1, 1, outages=ALWAYS_DOWN)
    reply = await ask(consultant(provider, down, retries=3, breaker_failures=100))
    assert reply.status == UNAVAILABLE
    assert reply.reason == "SIS did not answer after 4 attempts (outage)"
    assert attempts(exporter) == [4]


async def test_the_breaker_opens_and_later_requests_fail_fast(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    down = SystemProfile(0.0, 1, 1, outages=ALWAYS_DOWN)
    c = consultant(provider, down, retries=3, breaker_failures=2, breaker_reset_ms=60_000)
    first = await ask(c, 1)
    second = await ask(c, 2)
    assert first.reason == "SIS did not answer after 3 attempts (circuit open)"
    assert second.reason == "SIS did not answer after 1 attempts (circuit open)"
    assert attempts(exporter) == [3, 1]
    # Other systems have breakers of their own.
    c.systems[S.EU_SYSTEM_VIS].profile = FAST
    assert (await ask(c, 3, S.EU_SYSTEM_VIS)).status == CheckStatus.CHECK_STATUS_NO_HIT


async def test_the_breaker_probes_again_and_closes_when_the_system_is_back(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, _ = spans
    c = consultant(provider, FAST, retries=0, breaker_failures=1, breaker_reset_ms=50)
    sis = c.systems[S.EU_SYSTEM_SIS]
    sis.profile = SystemProfile(0.0, 1, 1, outages=ALWAYS_DOWN)
    assert (await ask(c, 1)).status == UNAVAILABLE
    sis.profile = FAST  # the outage is over
    assert (await ask(c, 2)).reason.endswith("(circuit open)")
    await asyncio.sleep(0.06)
    assert (await ask(c, 3)).status == CheckStatus.CHECK_STATUS_NO_HIT


async def test_requests_wait_for_the_probe_instead_of_failing(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    slow = SystemProfile(0.0, 30, 30)
    c = consultant(
        provider, slow, retries=3, breaker_failures=1, backoff_base_ms=20, backoff_max_ms=200
    )
    c.breakers[S.EU_SYSTEM_SIS].failure(time.monotonic() - 10)  # opened long ago
    replies = await asyncio.gather(*(ask(c, n) for n in range(5)))
    assert {r.status for r in replies} == {CheckStatus.CHECK_STATUS_NO_HIT}
    assert sorted(attempts(exporter))[0] == 1 and max(attempts(exporter)) > 1


async def test_a_slow_system_times_out(spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, _ = spans
    slow = SystemProfile(0.0, 300, 300)
    reply = await ask(consultant(provider, slow, retries=1, timeout_ms=20))
    assert reply.reason == "SIS did not answer after 2 attempts (timeout)"


async def test_server_errors_are_retried(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    flaky = SystemProfile(0.0, 1, 1, error_rate=0.3)
    c = consultant(provider, flaky, retries=6, breaker_failures=100)
    replies = [await ask(c, n) for n in range(40)]
    assert all(r.status == CheckStatus.CHECK_STATUS_NO_HIT for r in replies)
    assert max(attempts(exporter)) > 1
    broken = SystemProfile(0.0, 1, 1, error_rate=1.0)
    reply = await ask(consultant(provider, broken, retries=2, breaker_failures=100))
    assert reply.reason == "SIS did not answer after 3 attempts (server error)"


async def test_a_rate_limit_slows_callers_down_without_opening_the_breaker(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    limited = SystemProfile(0.0, 1, 1, rate_limit_per_s=20)
    c = consultant(
        provider, limited, retries=4, breaker_failures=1, backoff_base_ms=60, backoff_max_ms=500
    )
    replies = await asyncio.gather(*(ask(c, n) for n in range(24)))
    assert all(r.status == CheckStatus.CHECK_STATUS_NO_HIT for r in replies)
    assert max(attempts(exporter)) > 1


async def test_a_system_that_does_not_offer_the_operation_is_not_called(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, _ = spans
    c = consultant(provider, SystemProfile(0.0, 1, 1, outages=ALWAYS_DOWN))
    request = check_request(operation=CheckOperation.CHECK_OPERATION_RECORD_EXIT)
    not_offered = Consult(S.EU_SYSTEM_SIS, offered=False)
    reply, written = await c.consult(not_offered, request, POPULATION, ())
    assert reply.status == CheckStatus.CHECK_STATUS_NOT_APPLICABLE and written is None
    assert reply.reason == "SIS does not offer RECORD_EXIT"


# --- handler and worker on the store ----------------------------------------------------------


class Gw:
    """A gateway with its own store, driven by hand."""

    def __init__(self, runtime: ServiceRuntime, exporter: InMemorySpanExporter) -> None:
        self.runtime = runtime
        self.exporter = exporter

    async def receive(self, request: CheckRequest) -> None:
        with self.runtime.tracer.start_as_current_span("europaloket.check-requested.v1 process"):
            async with self.runtime.store.begin() as uow:
                await on_check_request(request, self.runtime.ctx(uow))

    async def serve_until_answered(self, timeout: float = 10.0) -> None:
        gateway = Gateway(lambda: GatewaySettings.from_environment(os.environ))
        await gateway.start(self.runtime)
        self.runtime.stopping.clear()
        task = asyncio.create_task(gateway.run(self.runtime))
        try:
            deadline = time.monotonic() + timeout
            while await self.pending():
                assert time.monotonic() < deadline, "requests still pending"
                await asyncio.sleep(0.01)
        finally:
            self.runtime.stopping.set()
            await task

    async def rows(self, table: Any) -> list[Any]:
        async with self.runtime.store.engine.connect() as conn:
            return list(await conn.execute(select(table)))

    async def pending(self) -> list[str]:
        return [r.request_id for r in await self.rows(requests) if r.state == "pending"]

    async def results(self) -> list[CheckResult]:
        return [CheckResult.FromString(r.value) for r in await self.rows(self.runtime.store.outbox)]

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())


@pytest.fixture
async def gw(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Gw]:
    for system in ("EURODAC", "SIS", "VIS", "EES", "ETIAS", "ECRIS_TCN", "MID"):
        monkeypatch.setenv(f"MK_EUROPALOKET_{system}__LATENCY_MEDIAN_MS", "2")
        monkeypatch.setenv(f"MK_EUROPALOKET_{system}__LATENCY_P95_MS", "5")
    monkeypatch.setenv("MK_EUROPALOKET_POLL_MS", "5")
    # Each test gets fresh table definitions: the kit adds its own tables to the metadata.
    fresh = MetaData()
    for table in metadata.tables.values():
        table.to_metadata(fresh)
    spec = ServiceSpec("europaloket", "eu-check", fresh, handlers={CheckRequest: on_check_request})
    runtime = ServiceRuntime(spec, Settings(data_dir=tmp_path, bootstrap_servers="127.0.0.1:9"))
    exporter = InMemorySpanExporter()
    runtime.provider.add_span_processor(SimpleSpanProcessor(exporter))
    await runtime.store.start()
    try:
        yield Gw(runtime, exporter)
    finally:
        await runtime.store.close()
        await runtime.producer.stop()  # never started, but it holds a connection object
        runtime.provider.shutdown()


async def test_an_accepted_request_waits_in_the_store_with_its_trace_context(gw: Gw) -> None:
    await gw.receive(check_request())
    (row,) = await gw.rows(requests)
    assert row.state == "pending" and CheckRequest.FromString(row.request) == check_request()
    assert "traceparent" in json.loads(row.trace_context)
    assert await gw.results() == [] and await gw.rows(audit) == []


async def test_the_worker_answers_once_audits_and_forgets_the_request(gw: Gw) -> None:
    await gw.receive(check_request())
    await gw.serve_until_answered()
    (result,) = await gw.results()
    assert result.request_id == "req-1" and result.partner == Partner.PARTNER_SCREENING
    assert [a.system for a in result.answers] == [
        S.EU_SYSTEM_EURODAC,
        S.EU_SYSTEM_SIS,
        S.EU_SYSTEM_MID,
    ]
    (row,) = await gw.rows(requests)
    assert row.state == "done" and row.request == b"", "the fingerprint hash is not kept"
    (entry,) = await gw.rows(audit)
    assert (entry.request_id, entry.partner, entry.operation) == (
        "req-1",
        "PARTNER_SCREENING",
        "QUERY",
    )
    assert entry.systems == "EURODAC,SIS,MID" and entry.latency_ms >= 0
    assert entry.answers == " ".join(
        f"{n}={CheckStatus.Name(a.status).removeprefix('CHECK_STATUS_')}"
        for n, a in zip(("EURODAC", "SIS", "MID"), result.answers, strict=True)
    )
    await gw.serve_until_answered()
    assert len(await gw.results()) == 1, "a second run answers nothing again"


async def test_system_spans_continue_the_requesting_case_trace(gw: Gw) -> None:
    await gw.receive(check_request())
    await gw.serve_until_answered()
    by_name = {s.name: s for s in gw.spans()}
    process = by_name["europaloket.check-requested.v1 process"]
    answer = by_name["europaloket answer"]
    assert answer.parent is not None and answer.parent.span_id == process.context.span_id
    for name in ("EURODAC", "SIS", "MID"):
        span = by_name[f"europaloket {name}"]
        assert span.context.trace_id == process.context.trace_id
        assert span.parent is not None and span.parent.span_id == answer.context.span_id
        assert span.attributes and span.attributes["europaloket.system"] == name
        assert span.attributes["case.v_nummer"] == "2600000001"
    for span in gw.spans():
        for value in (span.attributes or {}).values():
            assert HASH not in str(value) and "DOC-SECRET" not in str(value)
    # The result event continues from the answer span.
    (event,) = await gw.rows(gw.runtime.store.outbox)
    traceparent = json.loads(event.headers)["traceparent"]
    assert traceparent.split("-")[2] == f"{answer.context.span_id:016x}"


async def test_a_denied_request_is_answered_and_audited_at_once(gw: Gw) -> None:
    await gw.receive(check_request(partner=Partner.PARTNER_COA, systems=[S.EU_SYSTEM_SIS]))
    assert await gw.pending() == []
    (result,) = await gw.results()
    assert result.status == CheckStatus.CHECK_STATUS_DENIED
    (answer,) = result.answers
    assert answer.status == CheckStatus.CHECK_STATUS_DENIED
    assert answer.reason == "PARTNER_COA may not consult SIS for CHECK_PURPOSE_SCREENING_SECURITY"
    (entry,) = await gw.rows(audit)
    assert (entry.result_class, entry.reason) == ("DENIED", answer.reason)


async def test_a_repeated_request_id_gets_no_second_answer(gw: Gw) -> None:
    await gw.receive(check_request())
    await gw.receive(check_request())
    await gw.serve_until_answered()
    await gw.receive(check_request())
    assert len(await gw.rows(requests)) == 1
    assert len(await gw.results()) == 1


@pytest.mark.parametrize("request_id", ["", "x" * 65])
async def test_a_request_without_a_usable_id_is_poison(gw: Gw, request_id: str) -> None:
    request = check_request()
    request.request_id = request_id
    with pytest.raises(PoisonMessage) as caught:
        await gw.receive(request)
    assert caught.value.code == "invalid_check_request"


async def test_requests_in_flight_when_the_gateway_stops_are_answered_after_restart(
    gw: Gw, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MK_EUROPALOKET_SIS__LATENCY_MEDIAN_MS", "300")
    monkeypatch.setenv("MK_EUROPALOKET_SIS__LATENCY_P95_MS", "300")
    for n in range(5):
        await gw.receive(check_request(n))
    gateway = Gateway(lambda: GatewaySettings.from_environment(os.environ))
    await gateway.start(gw.runtime)
    gw.runtime.stopping.clear()
    worker = asyncio.create_task(gateway.run(gw.runtime))
    await asyncio.sleep(0.1)  # the calls to SIS are under way
    worker.cancel()  # as the kit does on shutdown; a crash leaves even less behind
    with pytest.raises(asyncio.CancelledError):
        await worker
    assert len(await gw.pending()) == 5 and await gw.results() == []
    await gw.serve_until_answered()
    results = await gw.results()
    assert sorted(r.request_id for r in results) == [f"req-{n}" for n in range(5)]
    assert len(await gw.rows(audit)) == 5


async def test_dutch_writes_are_stored_and_seen_by_later_requests(gw: Gw) -> None:
    def dtenv(n: int, operation: CheckOperation.ValueType) -> CheckRequest:
        request = check_request(
            n, Partner.PARTNER_DTENV, CheckPurpose.CHECK_PURPOSE_RETURN, [S.EU_SYSTEM_SIS]
        )
        request.v_nummer, request.operation = "2600000077", operation
        return request

    await gw.receive(dtenv(1, CheckOperation.CHECK_OPERATION_CREATE_RETURN_ALERT))
    await gw.serve_until_answered()
    await gw.receive(dtenv(2, CheckOperation.CHECK_OPERATION_RECORD_DEPARTURE_PERIOD_END))
    await gw.receive(dtenv(3, CheckOperation.CHECK_OPERATION_CREATE_RETURN_ALERT))  # again
    await gw.serve_until_answered()
    results = {r.request_id: r for r in await gw.results()}
    statuses = {results[f"req-{n}"].status for n in (1, 2, 3)}
    assert statuses == {CheckStatus.CHECK_STATUS_RECORDED}
    kinds = sorted(r.kind for r in await gw.rows(national_records))
    assert kinds == ["SIS_DEPARTURE_PERIOD_END", "SIS_RETURN_ALERT"], "an alert is stored once"


async def test_a_claimed_request_is_not_claimed_by_a_second_instance_until_its_lease_ends(
    gw: Gw,
) -> None:
    for n in range(3):
        await gw.receive(check_request(n))
    store = gw.runtime.store
    first = await claim_pending(store, "gateway-a", set(), 2, lease_seconds=60)
    assert [r.request_id for r in first] == ["req-0", "req-1"], "oldest first, up to the limit"
    second = await claim_pending(store, "gateway-b", set(), 10, lease_seconds=0.05)
    assert [r.request_id for r in second] == ["req-2"], "only what nobody holds"
    assert await claim_pending(store, "gateway-a", {"req-0", "req-1"}, 10, 60) == []
    await asyncio.sleep(0.1)  # gateway-b died: its lease runs out, gateway-a takes over
    (taken,) = await claim_pending(store, "gateway-a", {"req-0", "req-1"}, 10, 60)
    assert taken.request_id == "req-2"
    async with store.begin() as uow:
        assert await finish(uow.conn, "gateway-b", ["req-2"]) == set(), "no longer b's"
        assert await finish(uow.conn, "gateway-a", ["req-0", "req-2"]) == {"req-0", "req-2"}
    assert await gw.pending() == ["req-1"]


async def test_an_instance_takes_back_at_once_what_it_held_before_a_restart(gw: Gw) -> None:
    await gw.receive(check_request())
    store = gw.runtime.store
    assert len(await claim_pending(store, "gateway-a", set(), 10, lease_seconds=60)) == 1
    # Restarted under the same instance name: nothing is busy, its own claim is free.
    assert len(await claim_pending(store, "gateway-a", set(), 10, lease_seconds=60)) == 1
    assert await claim_pending(store, "gateway-b", set(), 10, lease_seconds=60) == []


def test_a_claim_walks_the_pending_requests_by_index_oldest_first() -> None:
    """In a surge thousands of requests wait: a claim stops at its limit instead of
    reading and sorting every pending row each time (a temporary B-tree)."""
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    executed: list[tuple[str, Any]] = []
    event.listen(
        engine,
        "before_cursor_execute",
        lambda _conn, _cursor, sql, parameters, *_: executed.append((sql, parameters)),
    )
    with engine.begin() as conn:
        claim = {"busy": ["req-0"], "now": 0.0, "instance": "a", "limit": 10, "lease_until": 1.0}
        conn.execute(CLAIM, claim)
        sql, parameters = executed[-1]
        plan = [row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", parameters)]
    assert any("ix_requests_pending" in step for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan

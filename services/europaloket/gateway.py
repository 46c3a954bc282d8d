"""The gateway's worker: answers pending requests by calling the simulated systems, guarded
by a timeout, retries with backoff and a circuit breaker per system."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from opentelemetry import trace
from sqlalchemy import select, update

from chainkit.clock import DAY, SimClock
from chainkit.pact import limits
from chainkit.runtime import ServiceRuntime, is_transient
from chainkit.store import Store
from chainkit.telemetry import STAGE, V_NUMMER, extract
from europaloket.domain import (
    DATA_SYSTEMS,
    Consult,
    Denied,
    denied_answers,
    not_offered,
    operation_name,
    operation_of,
    overall_status,
    plan,
    result_class,
    system_name,
)
from europaloket.fixtures import Fixtures, load_fixtures
from europaloket.records import DONE, PENDING, national_records, requests, respond
from europaloket.resilience import (
    BreakerState,
    CircuitBreaker,
    RateLimit,
    backoff_schedule,
    draw_latency_ms,
)
from europaloket.settings import GatewaySettings, SystemProfile
from europaloket.systems import NationalRecord, Population, answer
from migratieketen.v1.common_pb2 import EuSystem
from migratieketen.v1.europaloket_pb2 import CheckRequest, CheckStatus, SystemAnswer

log = logging.getLogger("europaloket")
T = TypeVar("T")
STAGE_NAME = "eu-check"


class SystemFault(Exception):
    """The simulated system did not answer: outage, server error or rate limit."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class SimulatedSystem:
    """One eu-LISA system as the gateway meets it over the network: it takes time,
    fails now and then, limits the call rate and has scheduled outages."""

    def __init__(
        self, system: EuSystem.ValueType, profile: SystemProfile, seed: int, clock: SimClock
    ) -> None:
        self.system = system
        self.profile = profile
        self.seed = seed
        self.clock = clock
        self.started = time.monotonic()
        self.rate = RateLimit(profile.rate_limit_per_s)

    def down(self) -> bool:
        elapsed = time.monotonic() - self.started
        sim_day = (self.clock.now().timestamp() - self.clock.epoch) / DAY
        return any(o.active(elapsed, sim_day) for o in self.profile.outages)

    async def call(self, call_id: str, work: Callable[[], T]) -> T:
        if self.down():
            await asyncio.sleep(0.005)  # a refused connection is quick
            raise SystemFault("outage")
        if not self.rate.take(time.monotonic()):
            raise SystemFault("rate limited")
        # Seeded per call, so a seed replays the same latencies and errors.
        rng = random.Random(f"{self.seed}|call|{self.system}|{call_id}")
        profile = self.profile
        await asyncio.sleep(
            draw_latency_ms(rng, profile.latency_median_ms, profile.latency_p95_ms) / 1000
        )
        if rng.random() < profile.error_rate:
            raise SystemFault("server error")
        return work()


class Consultant:
    """Calls the systems for one request each: timeout per call, retries with
    exponential backoff, one circuit breaker per system shared by all requests."""

    def __init__(
        self,
        config: GatewaySettings,
        systems: dict[EuSystem.ValueType, SimulatedSystem],
        tracer: trace.Tracer,
        seed: int,
    ) -> None:
        self.config = config
        self.systems = systems
        self.tracer = tracer
        self.seed = seed
        self.breakers = {
            s: CircuitBreaker(config.breaker_failures, config.breaker_reset_ms / 1000)
            for s in systems
        }

    async def consult(
        self,
        consult: Consult,
        request: CheckRequest,
        population: Population,
        national: Sequence[NationalRecord],
    ) -> tuple[SystemAnswer, NationalRecord | None]:
        name = system_name(consult.system)
        with self.tracer.start_as_current_span(f"europaloket {name}") as span:
            span.set_attribute("europaloket.system", name)
            span.set_attribute("europaloket.operation", operation_name(operation_of(request)))
            span.set_attribute(V_NUMMER, request.v_nummer)
            span.set_attribute(STAGE, STAGE_NAME)
            if consult.via:
                span.set_attribute("europaloket.via", system_name(consult.via))
            if consult.offered:
                reply, written, attempts = await self._call(consult, request, population, national)
            else:
                reply, written, attempts = not_offered(consult, operation_of(request)), None, 0
            span.set_attribute("europaloket.result", result_class(reply.status))
            span.set_attribute("europaloket.attempts", attempts)
            return reply, written

    async def _call(
        self,
        consult: Consult,
        request: CheckRequest,
        population: Population,
        national: Sequence[NationalRecord],
    ) -> tuple[SystemAnswer, NationalRecord | None, int]:
        system = self.systems[consult.system]
        breaker = self.breakers[consult.system]
        config = self.config
        rng = random.Random(f"{self.seed}|backoff|{request.request_id}|{consult.system}")
        waits = backoff_schedule(
            config.retries, config.backoff_base_ms / 1000, config.backoff_max_ms / 1000, rng
        )
        span = trace.get_current_span()
        failure = ""
        attempt = 0
        for attempt, wait in enumerate([0.0, *waits], start=1):
            if wait:
                await asyncio.sleep(wait)
            if not breaker.allow(time.monotonic()):
                failure = "circuit open"
                span.add_event("circuit open", {"attempt": attempt})
                if breaker.state == BreakerState.HALF_OPEN:
                    continue  # a probe is under way and decides soon: back off, try again
                break  # failing fast is the breaker's point: the system is known to be down
            try:
                reply, written = await asyncio.wait_for(
                    system.call(
                        f"{request.request_id}|{attempt}",
                        lambda: answer(consult, request, population, national),
                    ),
                    config.timeout_ms / 1000,
                )
            except TimeoutError:
                failure = "timeout"
                breaker.failure(time.monotonic())
            except SystemFault as fault:
                failure = fault.kind
                if fault.kind == "rate limited":
                    breaker.success()  # the system is up, only busy
                else:
                    breaker.failure(time.monotonic())
            else:
                breaker.success()
                return reply, written, attempt
            span.add_event("attempt failed", {"attempt": attempt, "error": failure})
        name = system_name(consult.system)
        reason = f"{name} did not answer after {attempt} attempts ({failure})"
        unavailable = SystemAnswer(
            system=consult.system,
            via=consult.via,
            status=CheckStatus.CHECK_STATUS_UNAVAILABLE,
            reason=reason,
        )
        return unavailable, None, attempt


@dataclass(frozen=True)
class _Setup:
    config: GatewaySettings
    population: Population
    profiles: dict[EuSystem.ValueType, SystemProfile]


class Gateway:
    """The service's start hook and worker: pending rows in, one answer each out."""

    def __init__(self) -> None:
        self._setup: _Setup | None = None

    async def start(self, runtime: ServiceRuntime) -> None:
        """Read the settings and the fixture file; a bad one stops the service at once."""
        config = GatewaySettings.from_environment(os.environ)
        fixtures = load_fixtures(config.fixtures) if config.fixtures else Fixtures()
        profiles = {s: config.profile(s) for s in DATA_SYSTEMS}
        population = Population(
            seed=runtime.settings.seed,
            hit_share={s: p.hit_share for s, p in profiles.items()},
            eurodac_rejected_share=config.eurodac_rejected_share,
            eurodac_min_age=limits().eurodac_min_age,
            fixtures=fixtures,
        )
        self._setup = _Setup(config, population, profiles)

    async def run(self, runtime: ServiceRuntime) -> None:
        """Take pending requests, oldest first, up to `concurrency` at a time; after a
        restart the rows still pending are simply taken again."""
        if self._setup is None:
            raise RuntimeError("the gateway's start hook has not run")
        config, population = self._setup.config, self._setup.population
        seed = runtime.settings.seed
        # Created here, so outage seconds count from when the gateway starts serving.
        systems = {
            s: SimulatedSystem(s, p, seed, runtime.clock) for s, p in self._setup.profiles.items()
        }
        consultant = Consultant(config, systems, runtime.tracer, seed)
        busy: set[str] = set()
        async with asyncio.TaskGroup() as group:
            while not runtime.stopping.is_set():
                runtime.store.committed.clear()
                free = config.concurrency - len(busy)
                rows = await self._pending(runtime.store, busy, free) if free else []
                for row in rows:
                    busy.add(row.request_id)
                    group.create_task(self._serve(runtime, consultant, population, row, busy))
                # A commit (a new pending request, or an answer freeing a slot) wakes
                # the loop; polling is only the fallback.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(runtime.store.committed.wait(), config.poll_ms / 1000)

    async def _pending(self, store: Store, busy: set[str], limit: int) -> list[Any]:
        async with store.engine.connect() as conn:
            rows = await conn.execute(
                select(requests)
                .where(requests.c.state == PENDING)
                .order_by(requests.c.received_at)
                .limit(limit + len(busy))
            )
            return [r for r in rows if r.request_id not in busy][:limit]

    async def _serve(
        self,
        runtime: ServiceRuntime,
        consultant: Consultant,
        population: Population,
        row: Any,
        busy: set[str],
    ) -> None:
        try:
            await self._answer(runtime, consultant, population, row)
        except Exception as error:
            # The row stays pending and is taken again: nothing is lost. A defect must
            # not spin, so wait before the next try.
            level = logging.WARNING if is_transient(error) else logging.ERROR
            log.log(level, "answering a request failed with %s; retrying", type(error).__name__)
            await asyncio.sleep(1.0)
        finally:
            busy.discard(row.request_id)

    async def _answer(
        self, runtime: ServiceRuntime, consultant: Consultant, population: Population, row: Any
    ) -> None:
        request = CheckRequest.FromString(row.request)
        context = extract(json.loads(row.trace_context))
        with runtime.tracer.start_as_current_span("europaloket answer", context=context) as span:
            span.set_attribute(V_NUMMER, request.v_nummer)
            span.set_attribute(STAGE, STAGE_NAME)
            span.set_attribute("europaloket.operation", operation_name(operation_of(request)))
            steps = plan(request)
            # The handler answers denials itself; this one was accepted before a rule change.
            if isinstance(steps, Denied):
                answers, written, reason = denied_answers(steps), [], steps.reason
                status = CheckStatus.CHECK_STATUS_DENIED
            else:
                national = await self._national(runtime.store, request.v_nummer)
                results = await asyncio.gather(
                    *(consultant.consult(c, request, population, national) for c in steps)
                )
                answers = [reply for reply, _ in results]
                written = [w for _, w in results if w is not None]
                status = overall_status(answers)
                reason = "; ".join(
                    a.reason for a in answers if a.status == CheckStatus.CHECK_STATUS_UNAVAILABLE
                )
            span.set_attribute("europaloket.result", result_class(status))
            async with runtime.store.begin() as uow:
                claimed = await uow.conn.execute(
                    update(requests)
                    .where(requests.c.request_id == row.request_id, requests.c.state == PENDING)
                    .values(state=DONE, answered_at=time.time(), request=b"")
                )
                if claimed.rowcount != 1:
                    return  # another gateway instance answered it
                for record in written:
                    await _store_national(uow.conn, record, request.request_id)
                await respond(uow, request, status, answers, row.received_at, runtime.clock, reason)

    async def _national(self, store: Store, v_nummer: str) -> list[NationalRecord]:
        t = national_records
        async with store.engine.connect() as conn:
            rows = await conn.execute(select(t).where(t.c.v_nummer == v_nummer))
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


async def _store_national(conn: Any, record: NationalRecord, request_id: str) -> None:
    """Writes are idempotent: the same registration or alert is stored once."""
    t = national_records
    exists = await conn.execute(
        select(t.c.id).where(
            t.c.kind == record.kind,
            t.c.v_nummer == record.v_nummer,
            t.c.reference == record.reference,
        )
    )
    if exists.first() is None:
        await conn.execute(
            t.insert().values(
                system=system_name(record.system),
                kind=record.kind,
                v_nummer=record.v_nummer,
                reference=record.reference,
                category=record.category,
                occurred_at=record.occurred_at,
                request_id=request_id,
            )
        )

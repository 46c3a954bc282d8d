"""The gateway's worker: answers pending requests by calling the simulated systems, guarded
by a timeout, retries with backoff and a circuit breaker per system."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span

from chainkit.consumer import is_transient
from chainkit.pact import limits
from chainkit.polling import IdlePoll
from chainkit.runtime import ServiceRuntime
from chainkit.telemetry import (
    STAGE,
    V_NUMMER,
    extract,
    load_context,
    put_attributes,
    start_span,
)
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
from europaloket.records import claim_pending, finish, national_of, respond, store_national
from europaloket.resilience import BreakerState, CircuitBreaker, backoff_schedule
from europaloket.settings import GatewaySettings, SystemProfile
from europaloket.simulation import SimulatedSystem, SystemFault
from europaloket.systems import NationalRecord, Population, answer
from migratieketen.v1.common_pb2 import EuSystem
from migratieketen.v1.europaloket_pb2 import CheckRequest, CheckStatus, SystemAnswer

log = logging.getLogger("europaloket")
STAGE_NAME = "eu-check"


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
        attributes = {
            "europaloket.system": name,
            "europaloket.operation": operation_name(operation_of(request)),
            V_NUMMER: request.v_nummer,
            STAGE: STAGE_NAME,
        }
        if consult.via:
            attributes["europaloket.via"] = system_name(consult.via)
        span = start_span(self.tracer, f"europaloket {name}", attributes)
        with trace.use_span(span, end_on_exit=True):
            if consult.offered:
                reply, written, attempts = await self._call(consult, request, population, national)
            else:
                reply, written, attempts = not_offered(consult, operation_of(request)), None, 0
            result = result_class(reply.status)
            put_attributes(span, {"europaloket.result": result, "europaloket.attempts": attempts})
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
        waits: list[float] = []  # drawn at the first failure: most calls need none
        span = trace.get_current_span()
        failure = ""
        attempt = 0
        for attempt in range(1, config.retries + 2):
            if attempt > 1:
                if not waits:
                    rng = random.Random(
                        f"{self.seed}|backoff|{request.request_id}|{consult.system}"
                    )
                    waits = backoff_schedule(
                        config.retries,
                        config.backoff_base_ms / 1000,
                        config.backoff_max_ms / 1000,
                        rng,
                    )
                await asyncio.sleep(waits[attempt - 2])
            if not breaker.allow(time.monotonic()):
                failure = "circuit open"
                span.add_event("circuit open", {"attempt": attempt})
                if breaker.state == BreakerState.HALF_OPEN:
                    continue  # a probe is under way and decides soon: back off, try again
                break  # failing fast is the breaker's point: the system is known to be down
            try:
                # asyncio.timeout, not wait_for: no task of its own per call.
                async with asyncio.timeout(config.timeout_ms / 1000):
                    reply, written = await system.call(
                        f"{request.request_id}|{attempt}",
                        lambda: answer(consult, request, population, national),
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


@dataclass
class _Answer:
    """One request answered by the systems, waiting to be committed with others."""

    request_id: str
    request: CheckRequest
    received_at: float
    status: CheckStatus.ValueType
    answers: list[SystemAnswer]
    written: list[NationalRecord]
    reason: str
    span: Span


class _GroupCommit:
    """Commits answers in one transaction per group: an answer that arrives while a
    commit runs waits for the next one, which takes every answer waiting by then. The
    first answer of a group waits `linger` seconds for others (answers come one by one,
    as the systems reply: without it most groups held one answer)."""

    def __init__(self, runtime: ServiceRuntime, instance: str, linger: float = 0.005) -> None:
        self._runtime = runtime
        self._instance = instance
        self._linger = linger
        self._waiting: list[tuple[_Answer, asyncio.Future[bool]]] = []
        self._committing = False

    async def submit(self, answer: _Answer) -> bool:
        """Commit `answer`; False when another instance took the request meanwhile."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((answer, done))
        if not self._committing:
            self._committing = True
            try:
                await asyncio.sleep(self._linger)
                while self._waiting:
                    group, self._waiting = self._waiting, []
                    try:
                        kept = await self._commit([a for a, _ in group])
                    except Exception as error:
                        for _, waiter in group:
                            waiter.set_exception(error)
                    else:
                        for a, waiter in group:
                            waiter.set_result(a.request_id in kept)
            finally:
                self._committing = False
        return await done

    async def _commit(self, group: list[_Answer]) -> set[str]:
        runtime = self._runtime
        async with runtime.store.begin() as uow:
            kept = await finish(uow.conn, self._instance, [a.request_id for a in group])
            for a in group:
                if a.request_id not in kept:
                    continue
                with trace.use_span(a.span, end_on_exit=False):  # the result continues it
                    for record in a.written:
                        await store_national(uow.conn, record, a.request_id)
                    await respond(
                        uow, a.request, a.status, a.answers, a.received_at, runtime.clock, a.reason
                    )
        return kept


class Gateway:
    """The service's start hook and worker: pending rows in, one answer each out."""

    def __init__(self, settings: Callable[[], GatewaySettings]) -> None:
        self._settings = settings
        self._setup: _Setup | None = None
        # A request was accepted (or an answer failed) since the last claim found it:
        # without it, and with fewer rows pending than this instance could take, a
        # commit (an answer, another event) is no reason to claim again.
        self._new_work = True

    def accepted(self) -> None:
        """A pending request was stored: claim at the next wake."""
        self._new_work = True

    async def start(self, runtime: ServiceRuntime) -> None:
        """Take the settings and read the fixture file; a bad one stops the service."""
        config = self._settings()
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
        """Claim pending requests, oldest first, up to `concurrency` at a time; after a
        restart the rows still pending are claimed again."""
        if self._setup is None:
            raise RuntimeError("the gateway's start hook has not run")
        config, population = self._setup.config, self._setup.population
        seed = runtime.settings.seed
        # Created here, so outage seconds count from when the gateway starts serving.
        systems = {
            s: SimulatedSystem(s, p, seed, runtime.clock) for s, p in self._setup.profiles.items()
        }
        consultant = Consultant(config, systems, runtime.tracer, seed)
        instance = runtime.settings.instance_of(runtime.spec.name)
        commits = _GroupCommit(runtime, instance)
        busy: set[str] = set()
        poll = IdlePoll(config.poll_ms / 1000)
        more = True  # rows may be pending beyond what this instance holds
        async with asyncio.TaskGroup() as group:
            while not runtime.stopping.is_set():
                runtime.store.committed.clear()
                free = config.concurrency - len(busy)
                rows = []
                if free and (more or self._new_work):
                    asked, self._new_work = self._new_work, False
                    try:
                        rows = await claim_pending(
                            runtime.store,
                            instance,
                            busy,
                            free,
                            config.lease_seconds,
                        )
                    except Exception as error:
                        if not is_transient(error):
                            raise
                        log.warning("claiming requests failed: database unavailable")
                        self._new_work = True
                    more = len(rows) == free
                    poll.found(bool(rows))
                    if asked and not rows:
                        # On PostgreSQL the request's transaction may not have committed
                        # yet: look again at the next wake (its commit is one).
                        self._new_work = True
                for row in rows:
                    busy.add(row.request_id)
                    task = self._serve(runtime, consultant, population, commits, row, busy)
                    group.create_task(task)
                # A commit (a new pending request, or an answer freeing a slot) wakes
                # the loop; polling is the fallback, and finds what no commit here
                # announced (another instance's requests, a lease run out).
                try:
                    await asyncio.wait_for(runtime.store.committed.wait(), poll.seconds)
                except TimeoutError:
                    more = True

    async def _serve(
        self,
        runtime: ServiceRuntime,
        consultant: Consultant,
        population: Population,
        commits: _GroupCommit,
        row: Any,
        busy: set[str],
    ) -> None:
        try:
            await self._answer(runtime, consultant, population, commits, row)
        except Exception as error:
            # The row stays pending and this instance claims it again: nothing is lost.
            # A defect must not spin, so wait before the next try.
            level = logging.WARNING if is_transient(error) else logging.ERROR
            log.log(level, "answering a request failed with %s; retrying", type(error).__name__)
            await asyncio.sleep(1.0)
            self._new_work = True
        finally:
            busy.discard(row.request_id)

    async def _answer(
        self,
        runtime: ServiceRuntime,
        consultant: Consultant,
        population: Population,
        commits: _GroupCommit,
        row: Any,
    ) -> None:
        request = CheckRequest.FromString(row.request)
        context = extract(load_context(row.trace_context))
        span = runtime.tracer.start_span("europaloket answer", context=context)
        try:
            with trace.use_span(span, end_on_exit=False):
                answer = await self._consult(runtime, consultant, population, request, row)
            if not await commits.submit(answer):
                span.set_attribute("europaloket.taken_over", True)
        finally:
            span.end()

    async def _consult(
        self,
        runtime: ServiceRuntime,
        consultant: Consultant,
        population: Population,
        request: CheckRequest,
        row: Any,
    ) -> _Answer:
        span = trace.get_current_span()
        put_attributes(
            span,
            {
                V_NUMMER: request.v_nummer,
                STAGE: STAGE_NAME,
                "europaloket.operation": operation_name(operation_of(request)),
            },
        )
        steps = plan(request)
        # The handler answers denials itself; this one was accepted before a rule change.
        if isinstance(steps, Denied):
            answers, written, reason = denied_answers(steps), [], steps.reason
            status = CheckStatus.CHECK_STATUS_DENIED
        else:
            national = await national_of(runtime.store, request.v_nummer)
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
        return _Answer(
            row.request_id,
            request,
            row.received_at,
            status,
            list(answers),
            written,
            reason,
            span,
        )

"""Runs one service: FastStream subscriber, store, outbox relay and timer loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from google.protobuf.message import Message
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from sqlalchemy import MetaData
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from chainkit import deadlines, metrics
from chainkit.catalogue import consumed_by
from chainkit.clock import SimClock, timestamp
from chainkit.codec import PoisonMessage, decode, header_dict
from chainkit.kafka_security import broker_security, client_args
from chainkit.metrics import setup_metrics
from chainkit.relay import OutboxRelay
from chainkit.settings import Settings
from chainkit.store import Store, Timer, UnitOfWork
from chainkit.telemetry import extract, setup_telemetry, tag_case
from migratieketen.v1.deadletter_pb2 import DeadLetter

log = logging.getLogger("chainkit")


@dataclass
class Ctx:
    """What a handler gets: its transaction, the clock and the settings."""

    uow: UnitOfWork
    clock: SimClock
    settings: Settings
    service: str
    stage: str = ""

    def publish(self, message: Message, key: str | bytes | None) -> None:
        self.uow.publish(message, key)
        metrics.published(self.service, message)

    async def schedule(self, kind: str, v_nummer: str, due_at: datetime, payload: bytes) -> None:
        await self.uow.schedule(kind, v_nummer, due_at, payload)

    async def watch(
        self,
        dtype: deadlines.DeadlineType,
        v_nummer: str,
        due_at: datetime,
        *,
        started_at: datetime | None = None,
        ref: str = "",
        detail: str = "",
    ) -> deadlines.Deadline:
        """Watch a legal deadline: started now, at risk, breached unless met in time."""
        return await deadlines.watch(
            self, dtype, v_nummer, due_at, started_at=started_at, ref=ref, detail=detail
        )

    async def meet(
        self, dtype: deadlines.DeadlineType, v_nummer: str, *, ref: str = ""
    ) -> deadlines.Deadline | None:
        """The step a watched deadline governs was done (late if after the limit)."""
        return await deadlines.meet(self, dtype, v_nummer, ref=ref)

    async def unwatch(
        self, dtype: deadlines.DeadlineType, v_nummer: str, *, ref: str = "", reason: str = ""
    ) -> None:
        """The period no longer applies."""
        await deadlines.unwatch(self, dtype, v_nummer, ref=ref, reason=reason)

    def rng(self, *parts: object) -> random.Random:
        """A deterministic random source for one decision: same seed and parts, same draw."""
        return random.Random("|".join(str(p) for p in (self.settings.seed, *parts)))


Handler = Callable[[Any, Ctx], Awaitable[None]]
TimerHandler = Callable[[Timer, Ctx], Awaitable[None]]
# A long-running task of a service, started once the service is up, cancelled on stop.
Worker = Callable[["ServiceRuntime"], Coroutine[Any, Any, None]]
StartHook = Callable[["ServiceRuntime"], Awaitable[None]]


@dataclass
class ServiceSpec:
    name: str
    stage: str
    metadata: MetaData
    handlers: dict[type[Message], Handler]
    timers: dict[str, TimerHandler] = field(default_factory=dict)
    on_start: list[StartHook] = field(default_factory=list)  # after the store is ready
    workers: list[Worker] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Every service can watch legal deadlines: the kit's table and timers come along.
        deadlines.table(self.metadata)
        self.timers = {**deadlines.TIMERS, **self.timers}


def is_transient(error: BaseException) -> bool:
    """Errors of the infrastructure, not of the message: leave the offset uncommitted and
    let the message be delivered again once the database or broker answers."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, OperationalError | InterfaceError | ConnectionError | TimeoutError)


class ServiceRuntime:
    def __init__(self, spec: ServiceSpec, settings: Settings) -> None:
        self.spec = spec
        self.settings = settings
        self.provider = setup_telemetry(spec.name, settings.trace_dir, settings.otlp_endpoint)
        self.tracer = self.provider.get_tracer(f"migratieketen.{spec.name}")
        self.meters = setup_metrics(
            spec.name,
            self.provider,
            port=settings.metrics_port,
            host=settings.metrics_host,
            otlp_endpoint=settings.otlp_endpoint,
        )
        self.store = Store(settings.database_url_for(spec.name), spec.metadata, spec.name)
        self.clock = SimClock(settings.clock_epoch or time.time(), settings.clock_seconds_per_day)
        self.broker = KafkaBroker(
            settings.bootstrap_servers,
            client_id=spec.name,
            security=broker_security(settings, spec.name),
            logger=log,
            log_level=logging.DEBUG,  # no INFO line per message
        )
        topics = [topic.name for topic in consumed_by(spec.name)]
        if not topics:
            raise ValueError(f"the catalogue names no topic that {spec.name} consumes")
        subscriber = self.broker.subscriber(
            *topics,
            batch=True,
            max_records=settings.consume_batch_size,
            batch_timeout_ms=settings.fetch_max_wait_ms,
            group_id=spec.name,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            fetch_max_wait_ms=settings.fetch_max_wait_ms,
            title=f"{spec.name}",
            description=f"All topics the {spec.name} service consumes.",
        )
        subscriber(self.on_batch)
        self.producer = AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap_servers,
            client_id=f"{spec.name}-relay",
            **client_args(settings, spec.name),
            acks="all",
            enable_idempotence=settings.idempotent_producer,
            max_batch_size=256 * 1024,
        )
        self.relay = OutboxRelay(
            self.store,
            self.producer,
            self.tracer,
            settings.relay_batch_size,
            settings.relay_poll_seconds,
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self.app = FastStream(
            self.broker,
            on_startup=[self._before_start],
            after_startup=[self._after_start],
            on_shutdown=[self._on_shutdown],
        )

    @property
    def stopping(self) -> asyncio.Event:
        return self._stopping

    def ctx(self, uow: UnitOfWork) -> Ctx:
        return Ctx(uow, self.clock, self.settings, self.spec.name, self.spec.stage)

    async def on_batch(self, bodies: list[bytes], message: KafkaMessage) -> None:
        """One database transaction and one offset commit for a whole batch; each record
        gets its own consumer span and savepoint, so a poison record is dead-lettered
        without undoing its neighbours. A failing database fails the batch, which is
        then redelivered."""
        records = cast(tuple[ConsumerRecord, ...], message.raw_message)
        try:
            async with self.store.begin() as uow:
                headers = [header_dict(r.headers) for r in records]
                ids = [_event_id(r, h) for r, h in zip(records, headers, strict=True)]
                seen = await uow.seen_many(ids)
                for record, record_headers, event_id in zip(records, headers, ids, strict=True):
                    await self._handle(uow, record, record_headers, event_id, seen)
        except Exception as error:
            if is_transient(error):
                log.warning("transient failure; %d messages will be redelivered", len(records))
                await asyncio.sleep(1.0)
            raise

    async def _handle(
        self,
        uow: UnitOfWork,
        record: ConsumerRecord,
        headers: dict[str, str],
        event_id: str,
        seen: set[str],
    ) -> None:
        with self.tracer.start_as_current_span(
            f"{record.topic} process",
            context=extract(headers),
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation": "process",
                "messaging.destination.name": record.topic,
                "messaging.destination.partition.id": str(record.partition),
                "messaging.kafka.message.offset": record.offset,
                metrics.RECORD_TIMESTAMP: record.timestamp,
                "messaging.message.id": event_id,
            },
        ) as span:
            if event_id in seen:
                span.set_attribute("case.duplicate", True)
                return
            seen.add(event_id)
            published = uow.mark()
            try:
                event = decode(record.topic, record.value or b"", headers)
                handler = self.spec.handlers.get(type(event))
                if handler is None:
                    raise PoisonMessage(
                        "no_handler", f"{self.spec.name} has no handler for {type(event).__name__}"
                    )
                tag_case(getattr(event, "v_nummer", None), self.spec.stage, type(event).__name__)
                async with uow.conn.begin_nested():
                    await uow.mark_seen(event_id, record.topic)
                    await handler(event, self.ctx(uow))
            except PoisonMessage as poison:
                uow.rollback_to(published)
                await self._dead_letter(uow, record, headers, event_id, poison.code, poison.reason)
            except Exception as error:  # a defect must not stop the chain: park the message
                if is_transient(error):
                    raise
                uow.rollback_to(published)
                log.error(
                    "%s failed on %s at %s; sent to the dead-letter topic",
                    type(error).__name__,
                    record.topic,
                    _where(error),
                )
                await self._dead_letter(
                    uow,
                    record,
                    headers,
                    event_id,
                    "processing_error",
                    f"{type(error).__name__} in the {self.spec.name} handler",
                )

    async def _dead_letter(
        self,
        uow: UnitOfWork,
        record: ConsumerRecord,
        headers: dict[str, str],
        event_id: str,
        code: str,
        reason: str,
    ) -> None:
        span = trace.get_current_span()
        span.set_status(Status(StatusCode.ERROR, code))
        span.set_attribute("case.dead_letter_reason", code)
        letter = DeadLetter(
            service=self.spec.name,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key or b"",
            payload=record.value or b"",
            reason_code=code,
            reason=reason,
            original_ce_type=headers.get("ce_type", ""),
            failed_at=timestamp(datetime.now(UTC)),
        )
        await uow.mark_seen(event_id, record.topic)
        uow.publish(
            letter,
            record.key,
            {
                "dlq_reason_code": code,
                "dlq_reason": reason,
                "dlq_service": self.spec.name,
                "dlq_original_topic": record.topic,
                "dlq_original_offset": str(record.offset),
            },
        )
        log.warning("dead-lettered a message from %s: %s", record.topic, code)

    async def _timer_loop(self) -> None:
        """Fire due timers; sleep until the next one is due, or a commit schedules one."""
        while not self._stopping.is_set():
            self.store.timers_changed.clear()
            due: list[Timer] = []
            wait = self.settings.timer_poll_seconds
            try:
                due = await self.store.due_timers(self.clock.now())
                if due:
                    async with self.store.begin() as uow:
                        for timer in due:
                            await self._fire(uow, timer)
                    continue
                upcoming = await self.store.next_due()
                if upcoming is not None:
                    wait = min(wait, max(self.clock.real_seconds_until(upcoming), 0.0))
            except Exception as error:
                if not is_transient(error):
                    raise
                log.warning("timer loop: database unavailable; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_timers(), wait)

    async def _wake_timers(self) -> None:
        stop = asyncio.ensure_future(self._stopping.wait())
        changed = asyncio.ensure_future(self.store.timers_changed.wait())
        try:
            await asyncio.wait({stop, changed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            changed.cancel()

    async def _fire(self, uow: UnitOfWork, timer: Timer) -> None:
        """Fire one timer inside the loop's transaction; a defect parks only this timer."""
        handler = self.spec.timers.get(timer.kind)
        with self.tracer.start_as_current_span(
            f"{self.spec.name} timer {timer.kind}", context=extract(timer.trace_context)
        ) as span:
            tag_case(timer.v_nummer, self.spec.stage, timer.kind)
            published = uow.mark()
            try:
                async with uow.conn.begin_nested():
                    if not await self.store.claim_timer(uow, timer.id):
                        return
                    if handler is None:
                        raise LookupError(f"no handler for timer kind {timer.kind}")
                    await handler(timer, self.ctx(uow))
            except Exception as error:
                if is_transient(error):
                    raise
                uow.rollback_to(published)
                await self.store.claim_timer(uow, timer.id)  # fired, with an error: parked
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                log.error(
                    "timer %s failed with %s at %s; parked",
                    timer.kind,
                    type(error).__name__,
                    _where(error),
                )

    async def _before_start(self) -> None:
        for folder in (self.settings.data_dir, self.settings.trace_dir):
            folder.mkdir(parents=True, exist_ok=True)
        await self.store.start()
        await self.producer.start()
        for hook in self.spec.on_start:
            await hook(self)

    async def _after_start(self) -> None:
        self._tasks = [
            asyncio.create_task(self.relay.run(), name="outbox-relay"),
            asyncio.create_task(self._timer_loop(), name="timers"),
            *(asyncio.create_task(worker(self)) for worker in self.spec.workers),
        ]
        ready = self.settings.data_dir / "ready"
        ready.mkdir(parents=True, exist_ok=True)
        (ready / self.spec.name).write_text(str(time.time()))
        log.warning("%s ready", self.spec.name)

    async def _on_shutdown(self) -> None:
        self._stopping.set()
        self.relay.stop()
        for task in self._tasks[2:]:  # workers: cancel; relay and timers stop themselves
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.producer.stop()
        await self.store.close()
        self.provider.shutdown()
        self.meters.shutdown()


def _event_id(record: ConsumerRecord, headers: dict[str, str]) -> str:
    """The CloudEvents id. A record without one is dead-lettered (`missing_header`) by
    decode; its position then keys that dead letter in the inbox, so it is parked once."""
    ce_id = headers.get("ce_id")
    return ce_id or f"{record.topic}:{record.partition}:{record.offset}"


def _where(error: BaseException) -> str:
    """File and line where an error was raised: enough to find the defect, no data."""
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    return f"{frame.tb_frame.f_code.co_filename}:{frame.tb_lineno}" if frame else "unknown"


def run(spec: ServiceSpec) -> None:
    """Entry point of `python -m <service>`."""
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format=f"%(asctime)s {spec.name} %(levelname)s %(name)s: %(message)s",
    )

    async def main() -> None:
        await ServiceRuntime(spec, settings).app.run()

    asyncio.run(main())

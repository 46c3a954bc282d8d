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
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.middlewares import AckPolicy
from google.protobuf.message import Message
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from sqlalchemy import MetaData
from sqlalchemy.exc import DBAPIError, OperationalError

from chainkit.catalogue import consumed_by
from chainkit.clock import SimClock, timestamp
from chainkit.codec import PoisonMessage, decode, header_dict
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

    def publish(self, message: Message, key: str | bytes | None) -> None:
        self.uow.publish(message, key)

    async def schedule(self, kind: str, v_nummer: str, due_at: datetime, payload: bytes) -> None:
        await self.uow.schedule(kind, v_nummer, due_at, payload)

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


# Errors of the infrastructure, not of the message: leave the offset uncommitted and
# let the message be delivered again once the database answers.
_TRANSIENT = (OperationalError, DBAPIError, ConnectionError, TimeoutError)


class ServiceRuntime:
    def __init__(self, spec: ServiceSpec, settings: Settings) -> None:
        self.spec = spec
        self.settings = settings
        self.provider = setup_telemetry(spec.name, settings.trace_dir, settings.otlp_endpoint)
        self.tracer = self.provider.get_tracer(f"migratieketen.{spec.name}")
        self.store = Store(settings.database_url_for(spec.name), spec.metadata, spec.name)
        self.clock = SimClock(settings.clock_epoch or time.time(), settings.clock_seconds_per_day)
        self.broker = KafkaBroker(
            settings.bootstrap_servers,
            client_id=spec.name,
            middlewares=[KafkaTelemetryMiddleware(tracer_provider=self.provider)],
            logger=log,
            log_level=logging.DEBUG,  # no INFO line per message
        )
        topics = [topic.name for topic in consumed_by(spec.name)]
        if not topics:
            raise ValueError(f"the catalogue names no topic that {spec.name} consumes")
        subscriber = self.broker.subscriber(
            *topics,
            group_id=spec.name,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            fetch_max_wait_ms=settings.fetch_max_wait_ms,
            title=f"{spec.name}",
            description=f"All topics the {spec.name} service consumes.",
        )
        subscriber(self.on_message)
        self.producer = AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap_servers,
            client_id=f"{spec.name}-relay",
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
        return Ctx(uow, self.clock, self.settings, self.spec.name)

    async def on_message(self, body: bytes, message: KafkaMessage) -> None:
        record = cast(ConsumerRecord, message.raw_message)
        headers = header_dict(record.headers)
        event_id = headers.get("ce_id") or f"{record.topic}:{record.partition}:{record.offset}"
        try:
            event = decode(record.topic, record.value or b"", headers)
            handler = self.spec.handlers.get(type(event))
            if handler is None:
                raise PoisonMessage(
                    "no_handler", f"{self.spec.name} has no handler for {type(event).__name__}"
                )
            tag_case(getattr(event, "v_nummer", None), self.spec.stage, type(event).__name__)
            async with self.store.begin() as uow:
                if await uow.seen(event_id):
                    trace.get_current_span().set_attribute("case.duplicate", True)
                    return
                await uow.mark_seen(event_id, record.topic)
                await handler(event, self.ctx(uow))
        except PoisonMessage as poison:
            await self._dead_letter(record, headers, event_id, poison.code, poison.reason)
        except _TRANSIENT:
            log.warning("transient failure on %s; the message will be redelivered", record.topic)
            await asyncio.sleep(1.0)
            raise
        except Exception as error:  # a defect must not stop the chain: park the message
            where = error.__traceback__
            while where is not None and where.tb_next is not None:
                where = where.tb_next
            location = (
                f"{where.tb_frame.f_code.co_filename}:{where.tb_lineno}" if where else "unknown"
            )
            log.error(
                "%s failed on %s at %s; sent to the dead-letter topic",
                type(error).__name__,
                record.topic,
                location,
            )
            await self._dead_letter(
                record,
                headers,
                event_id,
                "processing_error",
                f"{type(error).__name__} in the {self.spec.name} handler",
            )

    async def _dead_letter(
        self, record: Any, headers: dict[str, str], event_id: str, code: str, reason: str
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
        async with self.store.begin() as uow:
            if await uow.seen(event_id):
                return
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
        while not self._stopping.is_set():
            try:
                for timer in await self.store.due_timers(self.clock.now()):
                    await self._fire(timer)
            except _TRANSIENT:
                log.warning("timer loop: database unavailable; retrying")
                await asyncio.sleep(1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.settings.timer_poll_seconds)

    async def _fire(self, timer: Timer) -> None:
        handler = self.spec.timers.get(timer.kind)
        with self.tracer.start_as_current_span(
            f"{self.spec.name} timer {timer.kind}", context=extract(timer.trace_context)
        ) as span:
            tag_case(timer.v_nummer, self.spec.stage, timer.kind)
            async with self.store.begin() as uow:
                if not await self.store.claim_timer(uow, timer.id):
                    return
                if handler is None:
                    span.set_status(Status(StatusCode.ERROR, "no timer handler"))
                    log.error("%s has no handler for timer kind %s", self.spec.name, timer.kind)
                    return
                await handler(timer, self.ctx(uow))

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

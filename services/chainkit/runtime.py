"""Runs one service: wires the batch consumer, store, outbox relay and timer loop to
FastStream, and owns their life cycle."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from google.protobuf.message import Message
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncConnection

from chainkit import deadlines, metrics
from chainkit.catalogue import consumed_by
from chainkit.clock import SimClock
from chainkit.consumer import BatchConsumer, FetchPacer, OffsetCommits
from chainkit.consumer import is_transient as is_transient
from chainkit.kafka_security import broker_security, client_args
from chainkit.metrics import setup_metrics
from chainkit.relay import KeyPartitioner, OutboxRelay
from chainkit.settings import Settings
from chainkit.store import Store, Timer, UnitOfWork
from chainkit.telemetry import setup_telemetry
from chainkit.timers import TimerLoop

log = logging.getLogger("chainkit")
_STOP_POLL_SECONDS = 1.0


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

    def chance(self, *parts: object) -> float:
        """One deterministic draw in [0, 1) for one decision, as `rng(...)` gives a
        source: for a draw made many times per event (seeding a Random costs 5 µs)."""
        return chance(self.settings.seed, *parts)

    def chances(self, *parts: object) -> Callable[[object], float]:
        """`chances(*parts)(last)` is `chance(*parts, last)`, for a series of draws that
        differ only in their last part (the first parts are hashed once)."""
        return chances(self.settings.seed, *parts)


def chance(*parts: object) -> float:
    """A uniform draw in [0, 1) fixed by `parts` (a hash, not a random source)."""
    *head, last = parts or ("",)
    return _unit(hashlib.blake2b((_prefix(head) + str(last)).encode(), digest_size=8))


def chances(*parts: object) -> Callable[[object], float]:
    """The draws `chance(*parts, last)` for any `last`, with `parts` hashed once."""
    prefix = hashlib.blake2b(_prefix(parts).encode(), digest_size=8)

    def draw(last: object) -> float:
        digest = prefix.copy()
        digest.update(str(last).encode())
        return _unit(digest)

    return draw


def _prefix(parts: Iterable[object]) -> str:
    """What a draw hashes before its last part: every other part and a `|` after each."""
    return "".join(str(p) + "|" for p in parts)


def _unit(digest: Any) -> float:
    return int.from_bytes(digest.digest(), "big") / 2**64


Handler = Callable[[Any, Ctx], Awaitable[None]]
TimerHandler = Callable[[Timer, Ctx], Awaitable[None]]
# A long-running task of a service, started once the service is up, cancelled on stop.
Worker = Callable[["ServiceRuntime"], Coroutine[Any, Any, None]]
StartHook = Callable[["ServiceRuntime"], Awaitable[None]]
Lock = Callable[[AsyncConnection], Awaitable[None]]


@dataclass
class ServiceSpec:
    name: str
    stage: str
    metadata: MetaData
    handlers: dict[type[Message], Handler]
    timers: dict[str, TimerHandler] = field(default_factory=dict)
    on_start: list[StartHook] = field(default_factory=list)  # after the store is ready
    workers: list[Worker] = field(default_factory=list)
    # Runs first in every consumer batch's and timer round's transaction, before the
    # kit's inbox and timer statements: a service whose instances share rows on
    # PostgreSQL takes its lock here, so every transaction locks in one order.
    lock: Lock | None = None
    # The partners (`Partner` names) this service acts for. A record addressed to
    # another partner (header `ce_partner`, chainkit.codec) is skipped unread: no
    # decode, span, inbox row or transaction. Empty: every record is handled.
    partners: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        # Every service can watch legal deadlines: the kit's table and timers come along.
        deadlines.table(self.metadata)
        self.timers = {**deadlines.TIMERS, **self.timers}


async def raw_records(message: StreamMessage[Any]) -> Any:
    """The subscriber's decoder: the batch's records as aiokafka gave them. The kit reads
    each record itself (chainkit.consumer); FastStream's own decoder would first make a
    message object per record and copy its body, for nothing (2% of a service's CPU)."""
    return message.raw_message


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
            # getmany returns as soon as records are there: this only bounds idle loops.
            batch_timeout_ms=settings.batch_timeout_ms,
            group_id=spec.name,
            auto_offset_reset="earliest",
            # Offsets are committed by the consumer's OffsetCommits, a failed batch is
            # rewound by the consumer itself.
            ack_policy=AckPolicy.MANUAL,
            fetch_max_wait_ms=settings.fetch_max_wait_ms,
            title=f"{spec.name}",
            description=f"All topics the {spec.name} service consumes.",
            decoder=raw_records,
        )
        self.pacer = FetchPacer(
            settings.fetch_max_wait_ms,
            settings.idle_fetch_max_wait_ms,
            settings.idle_after_seconds,
            surge_ms=settings.surge_fetch_max_wait_ms,
            surge_rate=settings.surge_records_per_second,
        )
        self.consumer = BatchConsumer(
            spec,
            self.store,
            self.tracer,
            self.ctx,
            self.pacer,
            # Read per batch: the application replaces the broker's context when it starts.
            current=lambda: self.broker.context.get_local("message"),
            commits=OffsetCommits(settings.commit_interval_ms / 1000),
        )
        subscriber(self.consumer.on_batch)
        self.subscriber = subscriber
        partitioner = KeyPartitioner()  # the relay's batches and any send: one hash cache
        self.producer = AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap_servers,
            client_id=f"{spec.name}-relay",
            **client_args(settings, spec.name),
            acks="all",
            enable_idempotence=settings.idempotent_producer,
            max_batch_size=256 * 1024,
            partitioner=partitioner,
        )
        self.relay = OutboxRelay(
            self.store,
            self.producer,
            self.tracer,
            settings.relay_batch_size,
            settings.relay_poll_seconds,
            settings.relay_chunk_size,
            partitioner,
        )
        self.timers = TimerLoop(
            self.store,
            self.clock,
            self.tracer,
            spec.name,
            spec.stage,
            spec.timers,
            self.ctx,
            settings.timer_poll_seconds,
            spec.lock,
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
            asyncio.create_task(self.timers.run(), name="timers"),
            asyncio.create_task(
                self.pacer.run(lambda: getattr(self.subscriber, "consumer", None), self._stopping),
                name="fetch-pacer",
            ),
            *(asyncio.create_task(worker(self)) for worker in self.spec.workers),
        ]
        ready = self.settings.data_dir / "ready"
        ready.mkdir(parents=True, exist_ok=True)
        (ready / (self.settings.instance or self.spec.name)).write_text(str(time.time()))
        log.warning("%s ready", self.spec.name)

    async def _on_shutdown(self) -> None:
        self._stopping.set()
        await self.consumer.commits.stop()
        self.relay.stop()
        self.timers.stop()
        for task in self._tasks[3:]:  # workers: cancel; relay, timers, pacer stop themselves
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.producer.stop()
        await self.store.close()
        self.provider.shutdown()
        self.meters.shutdown()


def run(spec: ServiceSpec) -> None:
    """Entry point of `python -m <service>`."""
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format=f"%(asctime)s {spec.name} %(levelname)s %(name)s: %(message)s",
    )

    async def main() -> None:
        runtime = ServiceRuntime(spec, settings)
        runtime.app.after_startup(_freeze_start_up)
        # FastStream looks for a stop request this often (default 0.1 s): ten wake-ups a
        # second of an idle service cost more than the rest of its idling.
        await runtime.app.run(sleep_time=_STOP_POLL_SECONDS)

    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(settings.gc_gen0_threshold, middle, oldest)
    asyncio.run(main())


async def _freeze_start_up() -> None:
    """Take start-up's objects (modules, tables, compiled statements) out of the garbage
    collector's reach: every collection of the oldest generation walked them all again.
    Only in a service's own process (`run`), not where tests start runtimes in theirs."""
    gc.freeze()

"""Batch consumption: one transaction and one offset commit for a whole batch of records.

Each record gets its own consumer span. A batch first runs without savepoints (two
statements fewer per record); if a handler fails on a record, the transaction is rolled
back and the batch runs again with a savepoint per record, so the failing record is
dead-lettered without undoing its neighbours. Spans are ended only once the batch has
committed: a batch that is rolled back leaves no spans behind, and each record's span
shows the work that took effect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

from aiokafka.structs import ConsumerRecord
from faststream.kafka.annotations import KafkaMessage
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from chainkit import metrics
from chainkit.clock import timestamp
from chainkit.codec import PoisonMessage, decode, header_dict
from chainkit.store import Store, UnitOfWork
from chainkit.telemetry import extract, tag_case
from migratieketen.v1.deadletter_pb2 import DeadLetter

if TYPE_CHECKING:
    from chainkit.runtime import Ctx, ServiceSpec

log = logging.getLogger("chainkit")
# How long a failed batch waits before it is given back for redelivery.
REDELIVERY_PAUSE_SECONDS = 1.0


def is_transient(error: BaseException) -> bool:
    """Errors of the infrastructure, not of the message: leave the offset uncommitted and
    let the message be delivered again once the database or broker answers."""
    if isinstance(error, DBAPIError) and (
        error.connection_invalidated or _sqlstate(error) in _RETRY_SQLSTATES
    ):
        return True
    return isinstance(error, OperationalError | InterfaceError | ConnectionError | TimeoutError)


# PostgreSQL: serialization failure, deadlock detected, lock not available. Instances
# of one service touching the same rows in another order: try the batch again.
_RETRY_SQLSTATES = frozenset({"40001", "40P01", "55P03"})


def _sqlstate(error: DBAPIError) -> str | None:
    for candidate in (error.orig, getattr(error.orig, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def where(error: BaseException) -> str:
    """File and line where an error was raised: enough to find the defect, no data."""
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    return f"{frame.tb_frame.f_code.co_filename}:{frame.tb_lineno}" if frame else "unknown"


class Redo(Exception):
    """A handler failed in a run without savepoints (a batch, a timer round): run it
    again with a savepoint per record or timer."""


class BatchConsumer:
    """The FastStream batch subscriber's handler for one service."""

    def __init__(
        self,
        spec: ServiceSpec,
        store: Store,
        tracer: trace.Tracer,
        ctx: Callable[[UnitOfWork], Ctx],
        pacer: FetchPacer | None,
        current: Callable[[], KafkaMessage],
    ) -> None:
        self._spec = spec
        self._store = store
        self._tracer = tracer
        self._ctx = ctx
        self._pacer = pacer
        self._current = current

    async def on_batch(self, bodies: list[bytes]) -> None:
        """FastStream's handler. The batch's records are taken from FastStream's context
        (`current`): a `message: KafkaMessage` parameter is resolved by FastDepends in a
        worker thread, a thread hand-over per batch."""
        await self.handle(self._current())

    async def handle(self, message: KafkaMessage) -> None:
        """One batch. A failing database fails the batch, which is then redelivered."""
        records = cast(tuple[ConsumerRecord, ...], message.raw_message)
        if self._pacer is not None:
            self._pacer.batch(getattr(message, "consumer", None))
        try:
            try:
                await self._consume(records, careful=False)
            except Redo:
                await self._consume(records, careful=True)
        except Exception as error:
            # The batch is redelivered. A defect outside the handlers (the kit's own)
            # fails it again at once: wait as for an outage, so it does not spin.
            if is_transient(error):
                log.warning("transient failure; %d messages will be redelivered", len(records))
            else:
                log.error(
                    "%s at %s; %d messages will be redelivered",
                    type(error).__name__,
                    where(error),
                    len(records),
                )
            await asyncio.sleep(REDELIVERY_PAUSE_SECONDS)
            raise

    async def _consume(self, records: tuple[ConsumerRecord, ...], careful: bool) -> None:
        finished: list[tuple[Span, int]] = []
        async with self._store.begin() as uow:
            if self._spec.lock is not None:
                await self._spec.lock(uow.conn)
            headers = [header_dict(r.headers) for r in records]
            ids = [_event_id(r, h) for r, h in zip(records, headers, strict=True)]
            seen = await uow.seen_many(ids)
            # Taken first, in one statement: on PostgreSQL the inbox rows also make a
            # second instance handling the same records wait here, then fail and retry.
            await uow.mark_seen(
                {i: r.topic for i, r in zip(ids, records, strict=True) if i not in seen}
            )
            for record, record_headers, event_id in zip(records, headers, ids, strict=True):
                span = self._tracer.start_span(
                    f"{record.topic} process",
                    context=extract(record_headers),
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
                )
                with trace.use_span(span, end_on_exit=False):
                    await self._handle(uow, record, record_headers, event_id, seen, careful)
                finished.append((span, time.time_ns()))
        for span, ended in finished:
            span.end(end_time=ended)

    async def _handle(
        self,
        uow: UnitOfWork,
        record: ConsumerRecord,
        headers: dict[str, str],
        event_id: str,
        seen: set[str],
        careful: bool,
    ) -> None:
        if event_id in seen:
            trace.get_current_span().set_attribute("case.duplicate", True)
            return
        seen.add(event_id)
        try:
            event = decode(record.topic, record.value or b"", headers)
            handler = self._spec.handlers.get(type(event))
            if handler is None:
                raise PoisonMessage(
                    "no_handler", f"{self._spec.name} has no handler for {type(event).__name__}"
                )
        except PoisonMessage as poison:  # nothing written yet: no savepoint needed
            self._dead_letter(uow, record, headers, poison.code, poison.reason)
            return
        tag_case(getattr(event, "v_nummer", None), self._spec.stage, type(event).__name__)
        published = uow.mark()
        try:
            if careful:
                async with uow.conn.begin_nested():
                    await handler(event, self._ctx(uow))
            else:
                await handler(event, self._ctx(uow))
        except PoisonMessage as poison:
            if not careful:
                raise Redo from poison
            uow.rollback_to(published)
            self._dead_letter(uow, record, headers, poison.code, poison.reason)
        except Exception as error:  # a defect must not stop the chain: park the message
            if is_transient(error):
                raise
            if not careful:
                raise Redo from error
            uow.rollback_to(published)
            log.error(
                "%s failed on %s at %s; sent to the dead-letter topic",
                type(error).__name__,
                record.topic,
                where(error),
            )
            reason = f"{type(error).__name__} in the {self._spec.name} handler"
            self._dead_letter(uow, record, headers, "processing_error", reason)

    def _dead_letter(
        self,
        uow: UnitOfWork,
        record: ConsumerRecord,
        headers: dict[str, str],
        code: str,
        reason: str,
    ) -> None:
        span = trace.get_current_span()
        span.set_status(Status(StatusCode.ERROR, code))
        span.set_attribute("case.dead_letter_reason", code)
        letter = DeadLetter(
            service=self._spec.name,
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
        uow.publish(
            letter,
            record.key,
            {
                "dlq_reason_code": code,
                "dlq_reason": reason,
                "dlq_service": self._spec.name,
                "dlq_original_topic": record.topic,
                "dlq_original_offset": str(record.offset),
            },
        )
        log.warning("dead-lettered a message from %s: %s", record.topic, code)


class FetchPacer:
    """Short fetches while records flow, long ones when a service is idle.

    A consumer's fetch waits up to `fetch_max_wait_ms` at the broker, and the embedded
    broker answers late in that wait even when records arrive: the wait sets the latency
    of every hop, and an idle consumer sends a fetch per wait. So a service fetches with
    the short wait while batches arrive, and after `idle_after` seconds without one
    switches to the long wait (an idle chain then costs almost nothing; the first record
    after a quiet spell waits a fraction of the long wait, then the short wait is back).
    """

    def __init__(self, busy_ms: int, idle_ms: int, idle_after: float) -> None:
        self.busy_ms = busy_ms
        self.idle_ms = max(idle_ms, busy_ms)
        self.idle_after = idle_after
        self._last_batch = time.monotonic()
        self.idle = False

    def batch(self, consumer: object) -> None:
        """Records arrived: fetch with the short wait from now on."""
        self._last_batch = time.monotonic()
        if self.idle:
            self.idle = False
            _set_fetch_wait(consumer, self.busy_ms)

    def tick(self, consumer: object) -> None:
        """Called now and then: switch to the long wait once the service is idle."""
        quiet = time.monotonic() - self._last_batch >= self.idle_after
        if not self.idle and quiet and _set_fetch_wait(consumer, self.idle_ms):
            self.idle = True

    async def run(self, consumer: Callable[[], object], stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.idle_after / 2)
            self.tick(consumer())


def _set_fetch_wait(consumer: object, wait_ms: int) -> bool:
    """aiokafka reads the wait from its fetcher for every fetch request it builds."""
    fetcher = getattr(consumer, "_fetcher", None)
    if fetcher is None or not hasattr(fetcher, "_fetch_max_wait_ms"):
        return False
    fetcher._fetch_max_wait_ms = wait_ms
    return True


def _event_id(record: ConsumerRecord, headers: dict[str, str]) -> str:
    """The CloudEvents id, or the record's position when a partner sent none."""
    ce_id = headers.get("ce_id")
    return ce_id or f"{record.topic}:{record.partition}:{record.offset}"

"""Batch consumption: one transaction for a whole batch of records, offsets committed at
most once per `commit_interval_ms` (`OffsetCommits`).

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
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata, TopicPartition
from faststream.kafka.annotations import KafkaMessage
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from chainkit import metrics
from chainkit.clock import timestamp
from chainkit.codec import (
    DEAD_LETTER_KEY_BYTES,
    DEAD_LETTER_VALUE_BYTES,
    PoisonMessage,
    addressed_elsewhere,
    decode,
    header_dict,
)
from chainkit.store import Store, UnitOfWork
from chainkit.telemetry import extract, start_span, tag_case
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
        commits: OffsetCommits | None = None,
    ) -> None:
        self._spec = spec
        self._store = store
        self._tracer = tracer
        self._ctx = ctx
        self._pacer = pacer
        self._current = current
        self.commits = commits if commits is not None else OffsetCommits(0.0)

    async def on_batch(self, records: Any) -> None:
        """FastStream's handler, given the records undecoded (`runtime.raw_records`).
        The batch's message is taken from FastStream's context (`current`): a
        `message: KafkaMessage` parameter is resolved by FastDepends in a worker
        thread, a thread hand-over per batch."""
        await self.handle(self._current())

    async def handle(self, message: KafkaMessage) -> None:
        """One batch. A failing database fails the batch, which is then redelivered."""
        records = cast(tuple[ConsumerRecord, ...], message.raw_message)
        kafka_consumer = getattr(message, "consumer", None)
        if self._pacer is not None:
            self._pacer.batch(kafka_consumer, len(records))
        try:
            try:
                await self._consume(records, careful=False)
            except Redo:
                await self._consume(records, careful=True)
            self.commits.handled(records, kafka_consumer)
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
            # Rewind every partition of the batch to its first record (FastStream's nack).
            nack = getattr(message, "nack", None)
            if nack is not None:
                await nack()
            raise

    async def _consume(self, all_records: tuple[ConsumerRecord, ...], careful: bool) -> None:
        records: Sequence[ConsumerRecord] = all_records
        headers = [header_dict(r.headers) for r in records]
        partners = self._spec.partners
        if partners:  # records addressed to another partner are not this service's
            kept = [
                (r, h)
                for r, h in zip(records, headers, strict=True)
                if not addressed_elsewhere(h, partners)
            ]
            if len(kept) < len(records):
                if not kept:
                    return
                records = [r for r, _ in kept]
                headers = [h for _, h in kept]
        finished: list[tuple[Span, int]] = []
        async with self._store.begin() as uow:
            if self._spec.lock is not None:
                await self._spec.lock(uow.conn)
            ids = [_event_id(r, h) for r, h in zip(records, headers, strict=True)]
            seen = await uow.seen_many(ids)
            # Taken first, in one statement: on PostgreSQL the inbox rows also make a
            # second instance handling the same records wait here, then fail and retry.
            await uow.mark_seen(
                {i: r.topic for i, r in zip(ids, records, strict=True) if i not in seen}
            )
            for record, record_headers, event_id in zip(records, headers, ids, strict=True):
                span = start_span(
                    self._tracer,
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
        key, value = record.key or b"", record.value or b""
        # A dead letter must fit where the record came from: one too large to send
        # would hold up every event after it. What it leaves out stays on the topic.
        left_out = []
        if len(key) > DEAD_LETTER_KEY_BYTES:
            left_out.append(f"its {len(key)}-byte key")
            key = b""
        if len(value) > DEAD_LETTER_VALUE_BYTES:
            left_out.append(f"its {len(value)}-byte value")
            value = b""
        if left_out:
            reason += (
                f" ({' and '.join(left_out)} not copied: read the record at {record.topic} "
                f"partition {record.partition} offset {record.offset})"
            )
        letter = DeadLetter(
            service=self._spec.name,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=key,
            payload=value,
            reason_code=code,
            reason=reason,
            original_ce_type=headers.get("ce_type", "")[:200],
            failed_at=timestamp(datetime.now(UTC)),
        )
        uow.publish(
            letter,
            key or None,
            {
                "dlq_reason_code": code,
                "dlq_reason": reason,
                "dlq_service": self._spec.name,
                "dlq_original_topic": record.topic,
                "dlq_original_offset": str(record.offset),
            },
        )
        log.warning("dead-lettered a message from %s: %s", record.topic, code)


class OffsetCommits:
    """Offsets of handled batches, committed at most once per `interval` seconds.

    Every record is handled in a transaction that also takes its CloudEvents id into the
    inbox, so a record delivered again (after a crash, a rebalance, a stop between two
    commits) is dropped there without a second effect: the committed offset only bounds
    how much is delivered again. A commit after every batch (10-40 records during a
    surge) was a round trip to the broker each time: committing once a second took a
    tenth off the chain's CPU on the 12,200-case run. Only offsets of batches whose
    transaction committed are committed, never the consumer's position (it runs ahead
    while a batch is being handled).
    `interval` 0 commits after every batch.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.commits = 0
        self._pending: dict[TopicPartition, int] = {}
        self._consumer: Any = None
        self._last = 0.0
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def handled(self, records: Sequence[ConsumerRecord], consumer: Any) -> None:
        """The batch's transaction committed: its offsets are due for the next commit."""
        if consumer is None or not records:
            return
        self._consumer = consumer
        pending = self._pending
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            if record.offset >= pending.get(tp, 0):
                pending[tp] = record.offset + 1
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._commit_later(), name="offset-commits")

    async def _commit_later(self) -> None:
        # Until nothing is pending: batches handled while a commit was on its way are
        # committed next, also when no batch follows them.
        while self._pending:
            delay = self._last + self.interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.flush()

    async def flush(self) -> None:
        """Commit the offsets handled so far (also when the service stops)."""
        async with self._lock:
            if not self._pending:
                return
            offsets, self._pending = self._pending, {}
            self._last = time.monotonic()
            # A partition taken away by a rebalance is the new owner's to commit.
            assigned = self._consumer.assignment()
            due = {tp: OffsetAndMetadata(o, "") for tp, o in offsets.items() if tp in assigned}
            if not due:
                return
            try:
                await self._consumer.commit(due)
                self.commits += 1
            except KafkaError as error:
                # A rebalance took the partitions away: their records are delivered to
                # the new owner again from the last commit, and its inbox drops them.
                log.info("offsets not committed (%s); they are delivered again", error)

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()


# A surge ends when the rate of records falls below this share of the surge rate.
SURGE_ENDS_BELOW = 0.75


class FetchPacer:
    """Short fetches while records flow, longer ones in a surge, long ones when idle.

    A consumer's fetch waits up to `fetch_max_wait_ms` at the broker, and the embedded
    broker answers late in that wait even when records arrive: the wait sets the latency
    of every hop, and a consumer sends a fetch per wait whether records come or not. A
    fetch costs the broker the same for every topic and partition it names, records or
    none (six consumers with the short wait: 0.2 of a core at the broker and 0.1 in the
    services, with no record at all). So a service fetches:

    - with the short wait (`busy_ms`) while records flow: the latency of each hop;
    - with the surge wait (`surge_ms`) while it receives `surge_rate` records a second
      or more: queues, not the wait, set the latency then, and each fetch brings four
      times the records for the same cost; below three quarters of that rate, the
      short wait again;
    - with the long wait (`idle_ms`) after `idle_after` seconds without a batch: an idle
      chain then costs almost nothing; the first batch brings the short wait back.
    """

    BUSY = "busy"
    SURGE = "surge"
    IDLE = "idle"

    def __init__(
        self,
        busy_ms: int,
        idle_ms: int,
        idle_after: float,
        surge_ms: int | None = None,
        surge_rate: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.busy_ms = busy_ms
        self.idle_ms = max(idle_ms, busy_ms)
        self.surge_ms = busy_ms if surge_ms is None else min(max(surge_ms, busy_ms), self.idle_ms)
        self.surge_rate = surge_rate  # 0: no surge wait
        self._waits = {self.BUSY: self.busy_ms, self.SURGE: self.surge_ms, self.IDLE: self.idle_ms}
        self.idle_after = idle_after
        self._clock = clock
        self._last_batch = clock()
        self._since = self._last_batch  # the records counted since then
        self._records = 0
        self.mode = self.BUSY

    @property
    def idle(self) -> bool:
        return self.mode == self.IDLE

    def batch(self, consumer: object, records: int = 1) -> None:
        """A batch of `records` arrived: from idle, the short wait at once."""
        self._last_batch = self._clock()
        self._records += records
        if self.mode == self.IDLE:
            self._switch(consumer, self.BUSY)

    def tick(self, consumer: object) -> None:
        """Called now and then: the wait for the rate of records since the last tick."""
        now = self._clock()
        elapsed, records = now - self._since, self._records
        self._since, self._records = now, 0
        if self.mode == self.IDLE:
            return  # only a batch ends it
        if now - self._last_batch >= self.idle_after:
            self._switch(consumer, self.IDLE)
        elif self.surge_rate > 0 and elapsed > 0:
            rate = records / elapsed
            if self.mode == self.BUSY and rate >= self.surge_rate:
                self._switch(consumer, self.SURGE)
            elif self.mode == self.SURGE and rate < self.surge_rate * SURGE_ENDS_BELOW:
                self._switch(consumer, self.BUSY)

    def _switch(self, consumer: object, mode: str) -> None:
        wait = self._waits[mode]
        if _set_fetch_wait(consumer, wait):
            if mode != self.mode:
                log.debug("fetching with the %s wait (%d ms)", mode, wait)
            self.mode = mode

    async def run(self, consumer: Callable[[], object], stopping: asyncio.Event) -> None:
        # Every half `idle_after`, idle or not: a surge that follows a quiet spell is
        # seen within a second (a wake-up a second costs an idle service next to nothing).
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.idle_after / 2)
            self.tick(consumer())


# aiokafka's fetcher looks for work at least this often (its default consumer_timeout),
# and while fetches wait longer than that, as often as they return and at least this often.
_FETCHER_TIMEOUT_SECONDS = 0.2
_IDLE_FETCHER_TIMEOUT_SECONDS = 5.0


def _set_fetch_wait(consumer: object, wait_ms: int) -> bool:
    """aiokafka reads the wait from its fetcher for every fetch request it builds. Its
    fetcher also wakes every 0.2 s to look for work when no fetch returns: while the
    fetches wait longer than that, it looks as often as they return (a wake-up of an
    idle process costs more CPU than the little it does): a fetch's answer, a record
    consumed or a new assignment wakes it anyway."""
    fetcher = getattr(consumer, "_fetcher", None)
    if fetcher is None or not hasattr(fetcher, "_fetch_max_wait_ms"):
        return False
    fetcher._fetch_max_wait_ms = wait_ms
    if hasattr(fetcher, "_fetcher_timeout"):
        idle = wait_ms / 1000 > _FETCHER_TIMEOUT_SECONDS
        fetcher._fetcher_timeout = (
            _IDLE_FETCHER_TIMEOUT_SECONDS if idle else _FETCHER_TIMEOUT_SECONDS
        )
    return True


def _event_id(record: ConsumerRecord, headers: dict[str, str]) -> str:
    """The CloudEvents id, or the record's position when a partner sent none."""
    ce_id = headers.get("ce_id")
    return ce_id or f"{record.topic}:{record.partition}:{record.offset}"

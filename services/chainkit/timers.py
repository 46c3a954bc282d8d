"""The timer loop: fires stored timers when the simulated clock reaches them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

from chainkit.clock import SimClock
from chainkit.consumer import Redo, is_transient, where
from chainkit.polling import IdlePoll
from chainkit.store import Store, Timer, UnitOfWork
from chainkit.telemetry import extract, tag_case

if TYPE_CHECKING:
    from chainkit.runtime import Ctx, Lock, TimerHandler

log = logging.getLogger("chainkit")


class TimerLoop:
    """Fires due timers in one transaction per round; sleeps until the next one is due,
    or until a commit schedules one. A claimed timer is fired once: a defect in its
    handler parks it (its savepoint is undone, the claim stays)."""

    def __init__(
        self,
        store: Store,
        clock: SimClock,
        tracer: trace.Tracer,
        service: str,
        stage: str,
        handlers: Mapping[str, TimerHandler],
        ctx: Callable[[UnitOfWork], Ctx],
        poll_seconds: float,
        lock: Lock | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._tracer = tracer
        self._service = service
        self._stage = stage
        self._handlers = handlers
        self._ctx = ctx
        self._poll = IdlePoll(poll_seconds)
        self._lock = lock
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()
        self._store.timers_changed.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            self._store.timers_changed.clear()
            wait = self._poll.seconds
            try:
                due = await self._store.due_timers(self._clock.now())
                self._poll.found(bool(due))
                if due:
                    try:
                        await self._round(due, careful=False)
                    except Redo:
                        await self._round(due, careful=True)
                    continue
                upcoming = await self._store.next_due()
                if upcoming is not None:
                    wait = min(wait, max(self._clock.real_seconds_until(upcoming), 0.0))
            except Exception as error:
                if not is_transient(error):
                    raise
                log.warning("timer loop: database unavailable; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._store.timers_changed.wait(), wait)

    async def _round(self, due: list[Timer], careful: bool) -> None:
        """Fire the due timers in one transaction. A round first runs without a savepoint
        per timer (two statements fewer each); if a handler fails, the round is rolled
        back and run again with savepoints, so only the failing timer is parked. Spans
        end once the round has committed: a rolled-back round leaves none behind."""
        finished: list[tuple[Span, int]] = []
        async with self._store.begin() as uow:
            if self._lock is not None:
                await self._lock(uow.conn)
            claimed = await self._store.claim_timers(uow, [t.id for t in due])
            for timer in due:
                if timer.id in claimed:
                    span = await self._fire(uow, timer, careful)
                    finished.append((span, time.time_ns()))
        for span, ended in finished:
            span.end(end_time=ended)

    async def _fire(self, uow: UnitOfWork, timer: Timer, careful: bool) -> Span:
        handler = self._handlers.get(timer.kind)
        span = self._tracer.start_span(
            f"{self._service} timer {timer.kind}", context=extract(timer.trace_context)
        )
        with trace.use_span(span, end_on_exit=False):
            tag_case(timer.v_nummer, self._stage, timer.kind)
            published = uow.mark()
            try:
                if handler is None:
                    raise LookupError(f"no handler for timer kind {timer.kind}")
                if careful:
                    async with uow.conn.begin_nested():
                        await handler(timer, self._ctx(uow))
                else:
                    await handler(timer, self._ctx(uow))
            except Exception as error:
                if is_transient(error):
                    raise
                if not careful:
                    raise Redo from error
                uow.rollback_to(published)
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                log.error(
                    "timer %s failed with %s at %s; parked",
                    timer.kind,
                    type(error).__name__,
                    where(error),
                )
        return span

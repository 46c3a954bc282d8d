"""Per-service SQL store with the outbox, the inbox and stored timers.

A state change and the events it causes are committed in one transaction (outbox);
the relay sends them to Kafka afterwards. Processed event ids are recorded (inbox) so
a redelivered event has no second effect. Timers hold deadlines on the simulated clock
together with the trace context of the step that set them.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from google.protobuf.message import Message
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    event,
    exc,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from chainkit.catalogue import topic_for
from chainkit.codec import (
    MAX_EVENT_BYTES,
    PoisonMessage,
    addressee_headers,
    cloudevent_headers,
)
from chainkit.fastsql import FastEngine
from chainkit.sqlite import inline_creator
from chainkit.telemetry import inject_current, load_context, stored_context

_ID = BigInteger().with_variant(Integer, "sqlite")


def _kit_tables(metadata: MetaData) -> tuple[Table, Table, Table]:
    outbox = Table(
        "outbox",
        metadata,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("topic", String(200), nullable=False),
        Column("key", LargeBinary, nullable=True),
        Column("value", LargeBinary, nullable=False),
        Column("headers", Text, nullable=False),
        Column("created_at", Float, nullable=False),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("event_id", String(200), primary_key=True),
        Column("topic", String(200), nullable=False),
        Column("processed_at", Float, nullable=False),
    )
    timers = Table(
        "timers",
        metadata,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("kind", String(100), nullable=False),
        Column("v_nummer", String(10), nullable=False),
        Column("due_at", Float, nullable=False),  # simulated Unix time
        Column("payload", LargeBinary, nullable=False),
        Column("trace_context", Text, nullable=False),
        Column("fired", Boolean, nullable=False, default=False),
        Index("ix_timers_due", "fired", "due_at"),
        # Cancelling a person's timers (a met deadline, a changed procedure) finds them
        # by V-nummer, not by scanning every timer the service ever set.
        Index("ix_timers_case", "v_nummer", "kind"),
    )
    return outbox, inbox, timers


@dataclass
class Timer:
    id: int
    kind: str
    v_nummer: str
    due_at: datetime
    payload: bytes
    trace_context: dict[str, str]


@dataclass
class UnitOfWork:
    """One transaction: the service's own writes, processed ids, events and timers."""

    conn: AsyncConnection
    store: Store
    _events: list[dict[str, object]] = field(default_factory=list)
    scheduled: bool = False

    async def seen_many(self, event_ids: list[str]) -> set[str]:
        rows = await self.conn.execute(self.store.statements.seen, {"event_ids": event_ids})
        return {row.event_id for row in rows}

    def mark(self) -> int:
        """A point to roll the queued events back to (see rollback_to)."""
        return len(self._events)

    def rollback_to(self, mark: int) -> None:
        """Forget events queued after `mark`, when their savepoint was rolled back."""
        del self._events[mark:]

    async def mark_seen(self, events: dict[str, str]) -> None:
        """Record event ids (id -> topic) as processed, in one statement."""
        if events:
            now = time.time()
            await self.conn.execute(
                self.store.statements.mark_seen,
                [{"event_id": e, "topic": t, "processed_at": now} for e, t in events.items()],
            )

    def publish(
        self,
        message: Message,
        key: str | bytes | None,
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        """Queue an event; it is written to the outbox with this transaction."""
        topic = topic_for(message)
        key_bytes = key.encode() if isinstance(key, str) else key
        subject = key_bytes.decode("utf-8", "replace") if key_bytes else ""
        headers = cloudevent_headers(topic, self.store.service, subject)
        headers.update(inject_current())
        if topic.addressee:
            headers.update(addressee_headers(topic, message))
        headers.update(extra_headers or {})
        value = message.SerializeToString()
        encoded = orjson.dumps(headers).decode()
        size = len(value) + len(encoded) + (len(key_bytes) if key_bytes else 0)
        if size > MAX_EVENT_BYTES:
            # Refused here, with the step that made it: the broker would refuse it on
            # every send, and the events committed after it would never leave.
            raise PoisonMessage(
                "event_too_large",
                f"an event of {size} bytes on {topic.name} is over the {MAX_EVENT_BYTES}-byte"
                " limit",
            )
        self._events.append(
            {
                "topic": topic.name,
                "key": key_bytes,
                "value": value,
                "headers": encoded,
                "created_at": time.time(),
            }
        )

    async def schedule(self, kind: str, v_nummer: str, due_at: datetime, payload: bytes) -> None:
        """Store a deadline; the timer loop fires it under the current trace."""
        await self.schedule_many([(kind, v_nummer, due_at, payload)])

    async def schedule_many(self, timers: list[tuple[str, str, datetime, bytes]]) -> None:
        """Store several timers (kind, V-nummer, due, payload) in one statement."""
        self.scheduled = True
        context = stored_context()
        await self.conn.execute(
            self.store.statements.schedule,
            [
                {
                    "kind": kind,
                    "v_nummer": v_nummer,
                    "due_at": due_at.timestamp(),
                    "payload": payload,
                    "trace_context": context,
                    "fired": False,
                }
                for kind, v_nummer, due_at, payload in timers
            ],
        )

    async def cancel(self, kind: str, v_nummer: str) -> None:
        """Drop the pending timers of this kind for this person (their reason is gone)."""
        await self.conn.execute(
            self.store.statements.cancel, {"cancel_kind": kind, "cancel_v_nummer": v_nummer}
        )

    async def exclusive(self) -> None:
        """Hold the service's lock until this transaction ends, so instances of one
        service seeding their tables at start-up do it one after another (PostgreSQL;
        SQLite has one writer anyway)."""
        if not self.store.is_sqlite:
            await _service_lock(self.conn, self.store.service)

    async def _flush(self) -> int:
        if self._events:
            await self.conn.execute(self.store.statements.outbox, self._events)
        return len(self._events)


class _Statements:
    """The kit's statements, built once: SQLAlchemy then finds their compiled form by a
    cache key it computed once, instead of building and hashing a statement per record."""

    def __init__(self, outbox: Table, inbox: Table, timers: Table) -> None:
        self.outbox = insert(outbox)
        # The relay: the oldest committed events, and those the broker confirmed.
        self.pending = (
            select(outbox).order_by(outbox.c.id).limit(bindparam("pending_limit", type_=Integer))
        )
        self.sent = delete(outbox).where(outbox.c.id.in_(bindparam("sent_ids", expanding=True)))
        self.mark_seen = insert(inbox)
        self.seen = select(inbox.c.event_id).where(
            inbox.c.event_id.in_(bindparam("event_ids", expanding=True))
        )
        self.schedule = insert(timers)
        self.due = (
            select(timers)
            .where(timers.c.fired.is_(False), timers.c.due_at <= bindparam("due_now"))
            .order_by(timers.c.due_at)
            .limit(bindparam("due_limit", type_=Integer))
        )
        self.next_due = select(func.min(timers.c.due_at)).where(timers.c.fired.is_(False))
        claimable = (
            select(timers.c.id)
            .where(timers.c.id.in_(bindparam("timer_ids", expanding=True)))
            .with_for_update(skip_locked=True)
        )
        self.claim = (
            delete(timers)
            .where(timers.c.id.in_(claimable.scalar_subquery()))
            .returning(timers.c.id)
        )
        # A fired or cancelled timer is deleted: the table holds only what is pending,
        # and a person's timers are found through ix_timers_case (a `fired` condition
        # would lead SQLite to scan ix_timers_due instead).
        self.cancel = delete(timers).where(
            timers.c.v_nummer == bindparam("cancel_v_nummer"),
            timers.c.kind == bindparam("cancel_kind"),
        )


class Store:
    def __init__(self, url: str, metadata: MetaData, service: str) -> None:
        self.service = service
        self.metadata = metadata
        self.outbox, self.inbox, self.timers = _kit_tables(metadata)
        self.statements = _Statements(self.outbox, self.inbox, self.timers)
        self.is_sqlite = url.startswith("sqlite")
        options: dict[str, object] = {}
        options_engine: dict[str, Any] = {}
        if self.is_sqlite:
            database = make_url(url).database or ":memory:"
            options_engine["async_creator"] = inline_creator(database)
            # Connections to a local SQLite file are cheap to keep and costly to open
            # (a file, pragmas, the schema read): keep enough for a service's concurrent
            # readers (the gateway answers 32 requests at a time) instead of opening and
            # closing overflow connections under load.
            options_engine["pool_size"] = 48
        else:
            # Each service owns its own schema in a shared PostgreSQL database.
            options["schema_translate_map"] = {None: service}
        # An error's text never carries a statement's values (names, fingerprint hashes).
        engine = create_async_engine(
            url, execution_options=options, hide_parameters=True, **options_engine
        )
        if self.is_sqlite:
            # Reused statements run straight on the driver (chainkit.fastsql).
            engine = FastEngine(engine.sync_engine)
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(engine.sync_engine, "begin", _sqlite_begin)
        self.engine: AsyncEngine = engine
        # SQLite has one writer: serialise this process's transactions instead of
        # letting them fail with "database is locked".
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._writer: AsyncConnection | None = None
        self.outbox_ready = asyncio.Event()
        self.timers_changed = asyncio.Event()
        # Set after every commit: wakes a service's workers instead of polling.
        self.committed = asyncio.Event()

    async def start(self) -> None:
        async with self.engine.begin() as conn:
            if not self.is_sqlite:
                # Instances of one service starting together create the schema once.
                await _service_lock(conn, self.service)
                await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.service}"'))
            await conn.run_sync(self.metadata.create_all)

    async def close(self) -> None:
        if self._writer is not None:
            await self._writer.close()
            self._writer = None
        await self.engine.dispose()

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[UnitOfWork]:
        async with self._locked(), self._transaction() as conn:
            uow = UnitOfWork(conn, self)
            yield uow
            published = await uow._flush()
        if published:
            self.outbox_ready.set()
        if uow.scheduled:
            self.timers_changed.set()
        self.committed.set()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A bare write transaction, for the kit's and a worker's own bookkeeping: wakes
        nobody (a commit through `begin` wakes the relay, the timers and the workers)."""
        async with self._locked(), self._transaction() as conn:
            yield conn

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction. On SQLite (one writer, under the lock) always on the same
        connection: taking one from the pool and giving it back cost twice the
        transaction itself."""
        if not self.is_sqlite:
            async with self.engine.begin() as conn:
                yield conn
            return
        if self._writer is None or self._writer.closed or self._writer.invalidated:
            self._writer = await self.engine.connect()
        async with self._writer.begin():
            yield self._writer

    @asynccontextmanager
    async def _locked(self) -> AsyncIterator[None]:
        if self._write_lock is None:
            yield
        else:
            async with self._write_lock:
                yield

    async def due_timers(self, now: datetime, limit: int = 200) -> list[Timer]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                self.statements.due, {"due_now": now.timestamp(), "due_limit": limit}
            )
            return [
                Timer(
                    id=r.id,
                    kind=r.kind,
                    v_nummer=r.v_nummer,
                    due_at=datetime.fromtimestamp(r.due_at, UTC),
                    payload=r.payload,
                    trace_context=load_context(r.trace_context),
                )
                for r in rows
            ]

    async def next_due(self) -> datetime | None:
        async with self.engine.connect() as conn:
            due = (await conn.execute(self.statements.next_due)).scalar_one_or_none()
        return None if due is None else datetime.fromtimestamp(due, UTC)

    async def claim_timers(self, uow: UnitOfWork, timer_ids: list[int]) -> set[int]:
        """Take timers (delete them) inside the transaction that acts on them, in one
        statement; return those this transaction claimed. On PostgreSQL, timers another
        instance is firing at this moment are skipped (FOR UPDATE SKIP LOCKED), not
        waited for. A timer whose handler fails stays taken: it is fired once."""
        result = await uow.conn.execute(self.statements.claim, {"timer_ids": timer_ids})
        return {row.id for row in result}


async def _service_lock(conn: AsyncConnection, service: str) -> None:
    """Hold one lock per service until the transaction ends (PostgreSQL)."""
    await conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:service))"), {"service": service}
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT: let SQLAlchemy emit BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # On the driver itself: SQLAlchemy's execution of a driver statement (a cursor, its
    # events, a result) cost more than the BEGIN.
    driver = getattr(conn.connection.driver_connection, "driver", None)
    if driver is None:
        conn.exec_driver_sql("BEGIN")
        return
    try:
        driver.execute("BEGIN")
    except sqlite3.Error as error:  # as SQLAlchemy would raise it (is_transient reads it)
        raise exc.DBAPIError.instance(
            "BEGIN", None, error, sqlite3.Error, hide_parameters=True, dialect=conn.dialect
        ) from error

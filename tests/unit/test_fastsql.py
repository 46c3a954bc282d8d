"""Reused statements on SQLite run straight on the driver and answer exactly as
SQLAlchemy does; what the fast path cannot run the same way still goes through it."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError

from chainkit import fastsql
from chainkit.store import Store

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(20), nullable=False, unique=True),
    Column("weight", Float, nullable=True),
    Column("done", Boolean, nullable=False),
    Column("blob", LargeBinary, nullable=True),
    Column("seen", DateTime, nullable=True),  # not a plain type: SQLAlchemy converts it
    Column("tries", Integer, nullable=False, default=0),  # a Python-side default
)

INSERT = insert(things)
PLAIN = [c for c in things.c if c.name != "seen"]
BY_NAME = select(*PLAIN).where(things.c.name == bindparam("name"))
BY_NAMES = select(things.c.name).where(things.c.name.in_(bindparam("names", expanding=True)))
OPEN = select(things.c.name).where(things.c.done.is_(False), things.c.weight > 1.5)
NOT_DONE = select(things.c.name).where(things.c.done.is_(False))
HEAVIER = select(func.count()).select_from(things).where(things.c.weight > bindparam("w"))
MARK = update(things).where(things.c.name == bindparam("n")).values(done=True)
RETURNING = insert(things).returning(things.c.id, things.c.name)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    own = MetaData()  # the store adds its kit tables to it
    things.to_metadata(own)
    s = Store(f"sqlite+aiosqlite:///{tmp_path / 'fast.db'}", own, "fast")
    await s.start()
    yield s
    await s.close()


def _row(name: str, weight: float | None = 1.0, done: bool = False) -> dict[str, Any]:
    return {"name": name, "weight": weight, "done": done, "blob": b"\x00\x01", "tries": 1}


def _planned(statement: Any) -> bool:
    plans = fastsql._PLANS.get(statement) or {}
    return any(plan is not None for plan in plans.values())


async def test_a_reused_statement_runs_on_the_driver_and_answers_like_sqlalchemy(
    store: Store,
) -> None:
    async with store.begin() as uow:
        await uow.conn.execute(INSERT, [_row("a", 1.0), _row("b", 2.0, True), _row("c", 3.0)])
        first = (await uow.conn.execute(BY_NAME, {"name": "b"})).one()  # SQLAlchemy's
        again = (await uow.conn.execute(BY_NAME, {"name": "b"})).one()  # the driver's
    assert _planned(BY_NAME)
    assert tuple(again) == tuple(first)
    assert again.done is True and again.blob == b"\x00\x01" and again.weight == 2.0
    assert again._mapping == dict(first._mapping)
    assert again[1] == "b"


async def test_in_lists_literals_scalars_and_counts(store: Store) -> None:
    async with store.begin() as uow:
        await uow.conn.execute(INSERT, [_row("a", 1.0), _row("b", 2.0, True), _row("c", 3.0)])
        for _ in range(2):
            names = await uow.conn.execute(BY_NAMES, {"names": ["a", "c", "x"]})
            assert sorted(n for (n,) in names) == ["a", "c"]
            assert (await uow.conn.execute(BY_NAMES, {"names": []})).all() == []
            assert (await uow.conn.execute(OPEN)).scalars().all() == ["c"]
            assert (await uow.conn.execute(HEAVIER, {"w": 1.5})).scalar_one() == 2
            assert (await uow.conn.execute(BY_NAME, {"name": "x"})).first() is None
    assert _planned(BY_NAMES) and _planned(OPEN) and _planned(HEAVIER)


async def test_updates_count_rows_and_returning_gives_the_new_key(store: Store) -> None:
    async with store.begin() as uow:
        keys = []
        for name in ("a", "b", "c"):
            keys.append((await uow.conn.execute(RETURNING, _row(name))).one())
        assert [k.name for k in keys] == ["a", "b", "c"]
        assert [k.id for k in keys] == [1, 2, 3]
        for name, expected in (("a", 1), ("zz", 0), ("b", 1)):
            assert (await uow.conn.execute(MARK, {"n": name})).rowcount == expected
    assert _planned(MARK) and _planned(RETURNING)
    async with store.engine.connect() as conn:
        for _ in range(2):  # a read outside a transaction, on the driver the second time
            left = (await conn.execute(NOT_DONE)).scalars().all()
            assert left == ["c"]
    assert _planned(NOT_DONE)


async def test_a_driver_error_is_sqlalchemys_error_and_the_transaction_rolls_back(
    store: Store,
) -> None:
    async with store.begin() as uow:
        await uow.conn.execute(INSERT, _row("a"))
        await uow.conn.execute(INSERT, _row("b"))
    assert _planned(INSERT)
    with pytest.raises(IntegrityError) as raised:
        async with store.begin() as uow:
            await uow.conn.execute(INSERT, _row("c"))
            await uow.conn.execute(INSERT, _row("a"))  # unique name
    assert "'a'" not in str(raised.value), "an error's text carries no values"
    async with store.engine.connect() as conn:
        names = (await conn.execute(select(things.c.name))).scalars().all()
    assert sorted(names) == ["a", "b"]


async def test_a_missing_parameter_is_sqlalchemys_error_not_a_null(store: Store) -> None:
    async with store.begin() as uow:
        await uow.conn.execute(INSERT, [_row("a"), _row("b")])
        await uow.conn.execute(MARK, {"n": "a"})
        await uow.conn.execute(MARK, {"n": "b"})
        assert _planned(MARK)
        with pytest.raises(StatementError, match="A value is required for bind parameter 'n'"):
            await uow.conn.execute(MARK, {})


async def test_a_savepoint_rolled_back_undoes_statements_run_on_the_driver(store: Store) -> None:
    async with store.begin() as uow:
        await uow.conn.execute(INSERT, _row("a"))
        await uow.conn.execute(INSERT, _row("b"))
        nested = await uow.conn.begin_nested()
        await uow.conn.execute(INSERT, _row("c"))
        await uow.conn.execute(MARK, {"n": "a"})
        await nested.rollback()
    async with store.engine.connect() as conn:
        rows = (await conn.execute(select(things.c.name, things.c.done))).all()
    assert sorted(tuple(r) for r in rows) == [("a", False), ("b", False)]


async def test_what_the_driver_cannot_do_the_same_way_stays_with_sqlalchemy(
    store: Store,
) -> None:
    stamp = datetime(2026, 6, 12, 8, 30, tzinfo=UTC).replace(tzinfo=None)
    with_date = select(things.c.seen).where(things.c.name == bindparam("name"))
    async with store.begin() as uow:
        for name in ("a", "b"):
            row = _row(name) | {"seen": stamp}
            del row["tries"]  # filled by the Python-side default
            await uow.conn.execute(INSERT, row)
        for _ in range(2):
            seen = (await uow.conn.execute(with_date, {"name": "a"})).scalar_one()
            assert seen == stamp  # a datetime, not SQLite's text
    assert not _planned(with_date)
    # An insert that leaves a column to its constant default is run on the driver.
    async with store.begin() as uow:
        for name in ("c", "d"):
            row = _row(name)
            del row["tries"]
            await uow.conn.execute(INSERT, row)
    assert fastsql._PLANS[INSERT][("name", "weight", "done", "blob")] is not None
    async with store.engine.connect() as conn:
        tries = (await conn.execute(select(things.c.tries))).scalars().all()
    assert tries == [0, 0, 0, 0]


def test_postgresql_is_left_to_sqlalchemy() -> None:
    """The fast path is for SQLite only: a PostgreSQL store keeps SQLAlchemy's engine."""
    s = Store("postgresql+asyncpg://postgres@127.0.0.1:5432/postgres", MetaData(), "fast")
    assert not isinstance(s.engine, fastsql.FastEngine)
    asyncio.run(s.close())


async def test_many_rows_in_one_statement(store: Store, tmp_path: Path) -> None:
    rows = [_row(f"n{i}", float(i)) for i in range(50)]
    for _ in range(2):
        async with store.begin() as uow:
            await uow.conn.execute(INSERT, [r | {"name": r["name"] + str(_)} for r in rows])
    raw = sqlite3.connect(tmp_path / "fast.db")
    assert raw.execute("SELECT count(*) FROM things").fetchone() == (100,)
    raw.close()


async def test_a_transaction_begins_on_the_driver_and_its_error_is_sqlalchemys(
    store: Store,
) -> None:
    """BEGIN goes straight to sqlite3 (not through SQLAlchemy's execution of a driver
    statement), and a failing BEGIN still reaches the kit as SQLAlchemy's error, which
    `is_transient` reads."""
    async with store.begin() as uow:
        await uow.conn.execute(INSERT, _row("a"))
        driver = uow.conn.sync_connection.connection.driver_connection.driver  # type: ignore[union-attr]
        assert driver.in_transaction
    assert not driver.in_transaction
    driver.execute("BEGIN")  # a transaction the kit did not start: BEGIN must fail
    try:
        with pytest.raises(DBAPIError) as raised:
            async with store.begin():
                pass
        assert isinstance(raised.value.orig, sqlite3.OperationalError)
    finally:
        driver.execute("ROLLBACK")
    async with store.begin() as uow:  # and the store goes on
        await uow.conn.execute(INSERT, _row("b"))

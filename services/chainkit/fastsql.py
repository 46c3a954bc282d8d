"""Reused statements on SQLite, run straight on the driver.

SQLAlchemy spends about 35 µs on a cached statement before and after the driver's 2-3 µs
(execution context, parameter and result processing, the async hand-over): with about
180 statements per case that was the largest single cost of the chain. A service builds
its hot statements once (module constants, `_Statements` classes); the second time one
statement object is executed here, it is compiled for SQLite once per set of parameter
names and from then on runs on the service's sqlite3 connection in the same transaction.

Only what runs the same either way takes this path: plain column types (integer, float,
string, text, binary, boolean), Python-side column defaults that are constants, no
renamed parameters.
A read outside a transaction (a connection from `engine.connect()`) runs in SQLite's
autocommit mode instead of an opened and rolled-back transaction: the same snapshot
for one statement. Anything else, a statement seen once, an empty `IN` list and every
statement on PostgreSQL go through SQLAlchemy as before, on the same connection and
transaction.
Driver errors are raised as SQLAlchemy's (an `IntegrityError` stays an `IntegrityError`),
their text without the statement's values, as the store's engine does.
"""

from __future__ import annotations

import sqlite3
import weakref
from collections import namedtuple
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import ClauseElement, Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import Boolean, Float, Integer, LargeBinary, NullType, String

from chainkit.sqlite import InlineConnection

_PLAIN = (Integer, Float, String, LargeBinary, Boolean, NullType)
_REQUIRED = object()
_POSTCOMPILE = "__[POSTCOMPILE_{}]"


class _Unsuited(Exception):
    """A statement that must keep going through SQLAlchemy."""


class _Plan:
    """One statement compiled for SQLite for one set of parameter names."""

    __slots__ = ("binds", "booleans", "expanding", "lastrowid_key", "row", "sql")

    def __init__(self, statement: ClauseElement, keys: Sequence[str], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        if not isinstance(compiled, SQLCompiler):
            raise _Unsuited
        if compiled.escaped_bind_names or compiled.positiontup is None:
            raise _Unsuited
        # Python-side column defaults a statement leaves to SQLAlchemy: a constant is
        # written in as a fixed value; one computed per row keeps SQLAlchemy.
        defaults: dict[str, Any] = {}
        for filled, default in [
            *((c, c.default) for c in compiled.insert_prefetch),
            *((c, c.onupdate) for c in compiled.update_prefetch),
        ]:
            if default is None or not default.is_scalar:
                raise _Unsuited
            defaults[filled.key] = default.arg  # type: ignore[attr-defined]
        self.sql: str = compiled.string
        # Each positional parameter: its name and, for a value written into the
        # statement (a literal in a WHERE, a constant default), that value; _REQUIRED
        # for one the caller must give (missing, SQLAlchemy raises its own error).
        binds: list[tuple[str, Any]] = []
        self.expanding: list[str] = []
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            if not isinstance(bind.type, _PLAIN) or bind.callable is not None:
                raise _Unsuited
            if bind.expanding:
                self.expanding.append(name)
            if name in defaults:
                binds.append((name, defaults[name]))
            else:
                binds.append((name, _REQUIRED if bind.required else bind.value))
        self.binds = tuple(binds)
        columns = compiled._result_columns or []
        for column in columns:
            if not isinstance(column.type, _PLAIN):
                raise _Unsuited
        self.row: type[_Row] | None = (
            _row_class(tuple(c.keyname for c in columns)) if columns else None
        )
        self.booleans = tuple(i for i, c in enumerate(columns) if isinstance(c.type, Boolean))
        # `inserted_primary_key` of an INSERT without RETURNING, for a table whose key is
        # one integer column (the row id); None: SQLAlchemy's own rules apply.
        key = list(statement.table.primary_key) if isinstance(statement, Insert) else []
        self.lastrowid_key = not columns and len(key) == 1 and isinstance(key[0].type, Integer)

    def args(self, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        values = [
            params[name] if fixed is _REQUIRED else params.get(name, fixed)
            for name, fixed in self.binds
        ]
        if not self.expanding:
            return self.sql, values
        sql = self.sql
        flat: list[Any] = []
        for (name, _), value in zip(self.binds, values, strict=True):
            if name in self.expanding:
                if not value:
                    raise _Unsuited  # SQLAlchemy renders an empty IN its own way
                sql = sql.replace(_POSTCOMPILE.format(name), ", ".join("?" * len(value)), 1)
                flat.extend(value)
            else:
                flat.append(value)
        return sql, flat

    def rows(self, cursor: sqlite3.Cursor) -> list[Any]:
        fetched = cursor.fetchall()
        if self.row is None:
            return fetched
        make = self.row._make
        if self.booleans:
            out = []
            for raw in fetched:
                values = list(raw)
                for i in self.booleans:
                    if values[i] is not None:
                        values[i] = bool(values[i])
                out.append(make(values))
            return out
        return [make(raw) for raw in fetched]


class _Row(tuple[Any, ...]):
    """A result row: by position, by attribute and through `_mapping`, like SQLAlchemy's."""

    _fields: tuple[str, ...]

    @property
    def _mapping(self) -> dict[str, Any]:
        return dict(zip(self._fields, self, strict=True))

    def _asdict(self) -> dict[str, Any]:
        return self._mapping

    @classmethod
    def _make(cls, values: Sequence[Any]) -> _Row:
        raise NotImplementedError


_ROW_CLASSES: dict[tuple[str, ...], type[_Row]] = {}


def _row_class(fields: tuple[str, ...]) -> type[_Row]:
    known = _ROW_CLASSES.get(fields)
    if known is None:
        base = namedtuple("Row", fields, rename=True)  # type: ignore[misc]
        known = type("Row", (base, _Row), {"__slots__": ()})
        _ROW_CLASSES[fields] = known
    return known


class FastResult:
    """The part of SQLAlchemy's Result the services use, over rows already fetched."""

    def __init__(self, rows: list[Any], rowcount: int, lastrowid: int | None) -> None:
        self._rows = rows
        self.rowcount = rowcount
        self._lastrowid = lastrowid

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        return list(self._rows)

    fetchall = all

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    fetchone = first

    def one(self) -> Any:
        if len(self._rows) != 1:
            raise exc.NoResultFound if not self._rows else exc.MultipleResultsFound
        return self._rows[0]

    def one_or_none(self) -> Any:
        if len(self._rows) > 1:
            raise exc.MultipleResultsFound
        return self._rows[0] if self._rows else None

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalar_one_or_none(self) -> Any:
        row = self.one_or_none()
        return None if row is None else row[0]

    def scalars(self) -> FastResult:
        return FastResult([row[0] for row in self._rows], self.rowcount, self._lastrowid)

    def mappings(self) -> FastResult:
        return FastResult([row._mapping for row in self._rows], self.rowcount, self._lastrowid)

    @property
    def inserted_primary_key(self) -> tuple[Any, ...]:
        if self._lastrowid is None:
            raise exc.InvalidRequestError("no inserted primary key for this statement")
        return (self._lastrowid,)


# Statements seen: an empty dict the first time; then, per set of parameter names, its
# plan (None: it goes through SQLAlchemy). Weak: a statement built per call leaves.
_PLANS: weakref.WeakKeyDictionary[ClauseElement, dict[tuple[str, ...], _Plan | None]] = (
    weakref.WeakKeyDictionary()
)


def _plan_for(statement: ClauseElement, keys: tuple[str, ...], dialect: Dialect) -> _Plan | None:
    try:
        plans = _PLANS.get(statement)
    except TypeError:  # not weakly referable
        return None
    if plans is None:
        _PLANS[statement] = {}  # first sighting: it may be built per call
        return None
    if keys in plans:
        return plans[keys]
    try:
        plan: _Plan | None = _Plan(statement, keys, dialect)
    except (_Unsuited, exc.CompileError, KeyError):
        plan = None
    plans[keys] = plan
    return plan


class FastConnection(AsyncConnection):
    """A connection of a SQLite store (chainkit.sqlite's inline connection underneath)
    that runs reused statements straight on the driver (see the module's docstring);
    everything else is SQLAlchemy's own."""

    async def execute(
        self,
        statement: Any,
        parameters: Any = None,
        *,
        execution_options: Any = None,
    ) -> Any:
        if execution_options is None:
            fast = self._fast(statement, parameters)
            if fast is not None:
                return fast
        return await super().execute(statement, parameters, execution_options=execution_options)

    def _fast(self, statement: Any, parameters: Any) -> FastResult | None:
        if not isinstance(statement, ClauseElement):
            return None
        many = isinstance(parameters, list)
        if many and len(parameters) <= 1:
            parameters = parameters[0] if parameters else None
            many = False
        first = (parameters[0] if many else parameters) or {}
        plan = _plan_for(statement, tuple(first), self.dialect)
        if plan is None:
            return None
        if not self.in_transaction() and not isinstance(statement, Select):
            return None  # SQLAlchemy begins the transaction (and emits BEGIN)
        try:
            if many:
                if plan.expanding or plan.row is not None:
                    return None
                args = [plan.args(p)[1] for p in parameters]
                return self._run_many(plan.sql, args, parameters)
            sql, one = plan.args(first)
        except (_Unsuited, KeyError):  # an empty IN list; a missing parameter
            return None
        return self._run(plan, sql, one, first)

    def _driver(self) -> sqlite3.Connection:
        sync = self.sync_connection
        assert sync is not None
        inline = sync.connection.driver_connection
        assert isinstance(inline, InlineConnection)
        return inline.driver

    def _run(self, plan: _Plan, sql: str, args: list[Any], params: Any) -> FastResult:
        try:
            cursor = self._driver().execute(sql, args)
            rows = plan.rows(cursor) if plan.row is not None else []
        except sqlite3.Error as error:
            raise exc.DBAPIError.instance(
                sql, params, error, sqlite3.Error, hide_parameters=True, dialect=self.dialect
            ) from error
        lastrowid = cursor.lastrowid if plan.lastrowid_key else None
        result = FastResult(rows, cursor.rowcount, lastrowid)
        cursor.close()
        return result

    def _run_many(self, sql: str, args: list[list[Any]], params: Any) -> FastResult:
        try:
            cursor = self._driver().executemany(sql, args)
        except sqlite3.Error as error:
            raise exc.DBAPIError.instance(
                sql,
                params,
                error,
                sqlite3.Error,
                hide_parameters=True,
                dialect=self.dialect,
                ismulti=True,
            ) from error
        result = FastResult([], cursor.rowcount, None)
        cursor.close()
        return result


class FastEngine(AsyncEngine):
    """An AsyncEngine whose connections are FastConnections."""

    _connection_cls = FastConnection

"""An index of the span files: V-nummer -> trace ids -> (file, offset, length) of each run
of adjacent lines of one trace (the exporter writes a batch's spans grouped by trace).

Every service appends its spans as JSON lines to `<trace_dir>/<service>.jsonl`; one SQLite
file `<trace_dir>/index.sqlite` beside them maps each case to its spans, so looking up one
case reads a few dozen lines instead of every span of the run. The exporter adds the
lines it wrote; a reader first catches up with any line not indexed yet (a file from
before the index, or a process that stopped between writing and indexing), so the index
is only ever a cache of the files.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

INDEX_FILE = "index.sqlite"
IDLE_SECONDS = 5.0
# How many indexed (V-nummer, trace id) pairs an exporter remembers (about 6 MB).
_KNOWN_CASES = 50_000
# The span attribute that carries the case handle (chainkit.telemetry tags spans with it).
V_NUMMER = "case.v_nummer"

# The index's format (SQLite's user_version). An index of another format is dropped and
# built again from the span files when it is opened: it is only a cache of them.
# Format 2: a run of lines is keyed by the first 64 bits of its trace id as an integer
# (`trace_key`): with the 32-character text key an insert into an index of 120,000 runs
# (a 3,000-case run) cost 15.6 µs, with the integer 7.9 µs (random keys touch fewer,
# smaller pages). A lookup keeps only the lines of the trace it asked for.
_FORMAT = 2
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS files (name TEXT PRIMARY KEY, indexed_upto INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS spans (trace_key INTEGER NOT NULL, file TEXT NOT NULL,"
    " offset INTEGER NOT NULL, length INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS spans_by_trace ON spans (trace_key)",
    "CREATE TABLE IF NOT EXISTS cases (v_nummer TEXT NOT NULL, trace_id TEXT NOT NULL,"
    " PRIMARY KEY (v_nummer, trace_id)) WITHOUT ROWID",
)


def trace_key(trace_id: str) -> int:
    """The index key of a trace: its id's first 64 bits, as SQLite's signed integer."""
    value = int(trace_id[:16], 16)
    return value - (1 << 64) if value >= 1 << 63 else value


class Line(NamedTuple):
    """One span line as the exporter wrote it: where it starts, its trace and case (a
    tuple: made once per span, a third of a frozen dataclass's cost)."""

    offset: int
    length: int
    trace_id: str
    v_nummer: str | None


class SpanIndex:
    def __init__(self, trace_dir: Path) -> None:
        self.trace_dir = trace_dir
        self.path = trace_dir / INDEX_FILE
        self._kept: sqlite3.Connection | None = None
        # (V-nummer, trace id) pairs this exporter has indexed: a case's spans come in
        # batch after batch, and its pair needs one row, not one insert per batch.
        self._cases: set[tuple[str, str]] = set()

    def _open(self) -> sqlite3.Connection:
        self.trace_dir.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        if db.execute("PRAGMA user_version").fetchone()[0] != _FORMAT:
            db.execute("BEGIN IMMEDIATE")  # one process of several migrates it
            try:
                if db.execute("PRAGMA user_version").fetchone()[0] != _FORMAT:
                    for table in ("spans", "files", "cases"):
                        db.execute(f"DROP TABLE IF EXISTS {table}")
                    for statement in _SCHEMA:
                        db.execute(statement)
                    db.execute(f"PRAGMA user_version = {_FORMAT}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                db.close()
                raise
        return db

    @contextmanager
    def _connect(self, write: bool, keep: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection for one transaction; `keep`: the exporter's own, opened once
        and reused for every batch it indexes (the caller serialises its use)."""
        db = self._kept if keep else None
        if db is None:
            db = self._open()
            if keep:
                self._kept = db
        try:
            if write:
                db.execute("BEGIN IMMEDIATE")
            yield db
            if write:
                db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if keep:  # start afresh next time
                self._kept = None
                db.close()
            raise
        finally:
            if not keep:
                db.close()

    def close(self) -> None:
        if self._kept is not None:
            self._kept.close()
            self._kept = None

    def add(self, file: Path, start: int, end: int, lines: Iterable[Line]) -> None:
        """The exporter wrote `lines` to `file` between byte offsets start and end."""
        with self._connect(write=True, keep=True) as db:
            upto = _indexed_upto(db, file.name)
            if upto >= end:
                return  # a reader caught up with these lines already
            if upto != start:
                _catch_up(db, file)  # lines before ours were never indexed
                return
            rows = list(lines)
            cases = {(line.v_nummer, line.trace_id) for line in rows if line.v_nummer}
            cases -= self._cases
            _insert(db, file.name, rows, cases)
            _set_upto(db, file.name, end)
        if len(self._cases) > _KNOWN_CASES:
            self._cases.clear()
        self._cases |= cases  # only once committed

    def catch_up(self) -> None:
        """Index the lines of span files no exporter is writing (idle for IDLE_SECONDS)
        that are not indexed yet. A file still being written is indexed by its exporter;
        waiting for the index's write lock then would only slow the lookup down."""
        idle_since = time.time() - IDLE_SECONDS
        files = [
            f for f in sorted(self.trace_dir.glob("*.jsonl")) if f.stat().st_mtime < idle_since
        ]
        if not files:
            return
        with self._connect(write=False) as db:
            behind = [f for f in files if _indexed_upto(db, f.name) < f.stat().st_size]
        if not behind:
            return
        with self._connect(write=True) as db:
            for file in behind:
                _catch_up(db, file)

    def case_lines(self, v_nummer: str) -> dict[str, list[str]]:
        """The raw JSON lines of every trace that carries this V-nummer, by trace id."""
        self.catch_up()
        with self._connect(write=False) as db:
            trace_ids = [
                row[0]
                for row in db.execute(
                    "SELECT trace_id FROM cases WHERE v_nummer = ? ORDER BY trace_id", (v_nummer,)
                )
            ]
            found: dict[str, list[str]] = {}
            for trace_id in trace_ids:
                rows = db.execute(
                    "SELECT file, offset, length FROM spans WHERE trace_key = ? "
                    "ORDER BY file, offset",
                    (trace_key(trace_id),),
                ).fetchall()
                # Another trace may share the key's 64 bits: keep this trace's lines.
                found[trace_id] = [
                    line for line in self._read(rows) if json.loads(line)["trace_id"] == trace_id
                ]
        return found

    def _read(self, rows: list[tuple[str, int, int]]) -> Iterator[str]:
        current: str | None = None
        handle = None
        try:
            for file, offset, length in rows:
                if file != current:
                    if handle is not None:
                        handle.close()
                    handle = (self.trace_dir / file).open("rb")
                    current = file
                assert handle is not None
                handle.seek(offset)
                yield from handle.read(length).decode("utf-8").splitlines()
        finally:
            if handle is not None:
                handle.close()


def _indexed_upto(db: sqlite3.Connection, name: str) -> int:
    row = db.execute("SELECT indexed_upto FROM files WHERE name = ?", (name,)).fetchone()
    return int(row[0]) if row else 0


def _set_upto(db: sqlite3.Connection, name: str, upto: int) -> None:
    db.execute(
        "INSERT INTO files (name, indexed_upto) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET indexed_upto = excluded.indexed_upto",
        (name, upto),
    )


def _insert(
    db: sqlite3.Connection,
    name: str,
    lines: list[Line],
    cases: Iterable[tuple[str, str]] | None = None,
) -> None:
    """Index `lines` of file `name`, and `cases` (all the lines' V-nummer and trace id
    pairs when None)."""
    db.executemany(
        "INSERT INTO spans (trace_key, file, offset, length) VALUES (?, ?, ?, ?)",
        [(trace_key(trace_id), name, offset, length) for trace_id, offset, length in _runs(lines)],
    )
    if cases is None:
        cases = {(line.v_nummer, line.trace_id) for line in lines if line.v_nummer}
    db.executemany("INSERT OR IGNORE INTO cases (v_nummer, trace_id) VALUES (?, ?)", cases)


def _runs(lines: list[Line]) -> Iterator[tuple[str, int, int]]:
    """Adjacent lines of one trace as one (trace id, offset, length)."""
    start: Line | None = None
    end = 0
    for line in lines:
        if start is not None and (line.trace_id != start.trace_id or line.offset != end):
            yield start.trace_id, start.offset, end - start.offset
            start = None
        if start is None:
            start = line
        end = line.offset + line.length
    if start is not None:
        yield start.trace_id, start.offset, end - start.offset


def _catch_up(db: sqlite3.Connection, file: Path) -> None:
    """Parse the complete lines of `file` after what the index has, and index them."""
    upto = _indexed_upto(db, file.name)
    with file.open("rb") as handle:
        handle.seek(upto)
        tail = handle.read()
    complete = tail[: tail.rfind(b"\n") + 1]
    lines = []
    offset = upto
    for raw in complete.splitlines(keepends=True):
        if raw.strip():
            span = json.loads(raw)
            v_nummer = span.get("attributes", {}).get(V_NUMMER)
            lines.append(
                Line(offset, len(raw), span["trace_id"], str(v_nummer) if v_nummer else None)
            )
        offset += len(raw)
    _insert(db, file.name, lines)
    _set_upto(db, file.name, offset)

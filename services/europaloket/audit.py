"""Read the gateway's audit log from the command line: `python -m europaloket.audit --help`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import literal, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from chainkit.settings import Settings
from europaloket.records import audit

SERVICE = "europaloket"
COLUMNS = (
    "at",
    "request_id",
    "v_nummer",
    "partner",
    "purpose",
    "operation",
    "result_class",
    "latency_ms",
    "answers",
    "reason",
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m europaloket.audit",
        description=(
            "Every request the Europaloket answered: who asked (partner), why (purpose), "
            "which systems, when, the class of the answer and how long it took. Reads the "
            "gateway's database named by MK_DATA_DIR or MK_DATABASE_URL."
        ),
    )
    parser.add_argument("--v-nummer", help="only this person")
    parser.add_argument("--partner", help="e.g. COA or PARTNER_COA")
    parser.add_argument("--purpose", help="e.g. RETURN or CHECK_PURPOSE_RETURN")
    parser.add_argument("--operation", help="e.g. QUERY, REGISTER, RECORD_EXIT")
    parser.add_argument("--system", help="requested or consulted, e.g. SIS or EU_SYSTEM_SIS")
    parser.add_argument(
        "--result", help="HIT, NO_HIT, RECORDED, NOT_APPLICABLE, UNAVAILABLE or DENIED"
    )
    parser.add_argument("--since", type=_instant, help="ISO time, e.g. 2026-06-12T09:00 (UTC)")
    parser.add_argument("--until", type=_instant, help="ISO time (UTC), exclusive")
    parser.add_argument("--limit", type=int, default=1000, help="at most this many (newest)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    return parser.parse_args(argv)


def _instant(text: str) -> float:
    moment = datetime.fromisoformat(text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _name(value: str, prefix: str) -> str:
    value = value.upper()
    return value if value.startswith(prefix) else prefix + value


async def fetch(url: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    options = {} if url.startswith("sqlite") else {"schema_translate_map": {None: SERVICE}}
    engine = create_async_engine(url, execution_options=options)
    query = select(audit)
    if args.v_nummer:
        query = query.where(audit.c.v_nummer == args.v_nummer)
    if args.partner:
        query = query.where(audit.c.partner == _name(args.partner, "PARTNER_"))
    if args.purpose:
        query = query.where(audit.c.purpose == _name(args.purpose, "CHECK_PURPOSE_"))
    if args.operation:
        query = query.where(audit.c.operation == args.operation.upper())
    if args.system:
        name = args.system.upper().removeprefix("EU_SYSTEM_")
        requested = (literal(",") + audit.c.systems + literal(",")).like(f"%,{name},%")
        consulted = (literal(" ") + audit.c.answers).like(f"% {name}=%")
        query = query.where(requested | consulted)
    if args.result:
        query = query.where(audit.c.result_class == args.result.upper())
    if args.since is not None:
        query = query.where(audit.c.at >= args.since)
    if args.until is not None:
        query = query.where(audit.c.at < args.until)
    query = query.order_by(audit.c.at.desc(), audit.c.id.desc()).limit(args.limit)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
    finally:
        await engine.dispose()
    return [dict(row) for row in reversed(rows)]


def render(rows: list[dict[str, Any]], as_json: bool) -> str:
    lines = []
    for row in rows:
        record = {c: row[c] for c in COLUMNS}
        record["at"] = datetime.fromtimestamp(row["at"], UTC).isoformat(timespec="milliseconds")
        record["latency_ms"] = round(row["latency_ms"], 1)
        if as_json:
            lines.append(json.dumps(record))
        else:
            lines.append(
                f"{record['at']}  {row['v_nummer']}  {row['partner']:<17} "
                f"{row['purpose']:<38} {row['operation']:<27} {row['result_class']:<14} "
                f"{record['latency_ms']:>8} ms  {row['answers']}"
                + (f"  ({row['reason']})" if row["reason"] else "")
                + f"  [{row['request_id']}]"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings()
    url = settings.database_url_for(SERVICE)
    if not settings.database_url:
        path = Path(url.removeprefix("sqlite+aiosqlite:///"))
        if not path.exists():
            hint = "set MK_DATA_DIR or MK_DATABASE_URL"
            print(f"no Europaloket database at {path}: {hint}", file=sys.stderr)
            return 2
    try:
        rows = asyncio.run(fetch(url, args))
    except (DBAPIError, OSError) as error:
        print(f"cannot read the audit log: {type(error).__name__}", file=sys.stderr)
        return 2
    if rows:
        print(render(rows, args.json))
    else:
        print("no audit records match", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The chain on PostgreSQL: each service in its own schema of one database."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from chainctl.arrivals import make_arrivals
from chainctl.broker import EmbeddedBroker, ensure_topics
from chainctl.chain import Chain
from e2e.helpers import drive
from migratieketen.v1.common_pb2 import Partner

pytestmark = pytest.mark.e2e

ADMIN_URL = os.environ.get("MK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
async def database() -> AsyncIterator[str]:
    try:
        admin = await asyncpg.connect(ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        pytest.skip(
            f"no PostgreSQL at {ADMIN_URL} ({type(error).__name__}); set MK_TEST_POSTGRES_URL"
        )
    name = f"mk_e2e_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_the_chain_runs_on_postgresql(database: str, tmp_path: Path) -> None:
    url = database.replace("postgresql://", "postgresql+asyncpg://", 1)
    with EmbeddedBroker() as broker:
        await ensure_topics(broker.bootstrap_servers)
        chain = Chain(
            broker.bootstrap_servers,
            tmp_path,
            seconds_per_day=0.05,
            extra_env={"MK_DATABASE_URL": url},
        )
        with chain:
            await asyncio.to_thread(chain.wait_ready, 90.0)
            reports = make_arrivals(5, seed=11, prefix="PG")
            book = await drive(broker.bootstrap_servers, tmp_path / "traces", reports)
    assert not list(tmp_path.glob("*.db")), "no SQLite files when a database URL is given"
    conn = await asyncpg.connect(database)
    try:
        assert await conn.fetchval("SELECT count(*) FROM bvv.persons") == 5
        assert await conn.fetchval("SELECT count(*) FROM screening.screenings") == 5
        screening_queries = await conn.fetchval(
            "SELECT count(DISTINCT v_nummer) FROM europaloket.audit"
            " WHERE partner = 'PARTNER_SCREENING'"
        )
        assert screening_queries == 5
        assert await conn.fetchval("SELECT count(*) FROM bvv.outbox") == 0, "all relayed"
        assert await conn.fetchval("SELECT count(*) FROM bvv.inbox") == 5
        outcomes = await conn.fetchval(
            "SELECT count(*) FROM returns.return_cases WHERE outcome IS NOT NULL"
        )
        housed = sum(1 for o in book.outcomes.values() if o.decided_by == Partner.PARTNER_COA)
        assert outcomes + housed >= 5
    finally:
        await conn.close()

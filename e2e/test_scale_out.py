"""Two instances of every service on PostgreSQL, one of each killed mid-run: the
survivors take over, every case gets exactly one outcome and every Europaloket request
exactly one answer (a copy the relay sends again after a kill carries the same event
id; a doubled effect would carry a new one)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path

import asyncpg
import pytest
from aiokafka.structs import ConsumerRecord
from google.protobuf.message import Message

from chainctl.arrivals import make_arrivals
from chainctl.broker import EmbeddedBroker, ensure_topics
from chainctl.chain import SERVICES, Chain
from chainkit.codec import header_dict
from e2e.helpers import drive
from e2e.kafka_io import read_until
from e2e.test_postgres import database  # noqa: F401  (the fixture)
from migratieketen.v1.europaloket_pb2 import CheckResult
from migratieketen.v1.outcome_pb2 import CaseOutcome

pytestmark = pytest.mark.e2e


def event_ids(
    records: list[ConsumerRecord], key: str, message: type[Message]
) -> dict[str, set[str]]:
    """Distinct event ids per `key` field of the decoded records."""
    ids: dict[str, set[str]] = defaultdict(set)
    for record in records:
        value = getattr(message.FromString(record.value), key)
        ids[value].add(header_dict(record.headers)["ce_id"])
    return ids


async def test_two_instances_of_every_service_share_the_work_and_survive_a_kill(
    database: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    url = database.replace("postgresql://", "postgresql+asyncpg://", 1)
    reports = make_arrivals(40, seed=21, prefix="SCALE")
    with EmbeddedBroker() as broker:
        bootstrap = broker.bootstrap_servers
        await ensure_topics(bootstrap)
        chain = Chain(
            bootstrap,
            tmp_path,
            seconds_per_day=0.05,
            extra_env={"MK_DATABASE_URL": url},
            instances=dict.fromkeys(SERVICES, 2),
        )
        with chain:
            await asyncio.to_thread(chain.wait_ready, 120.0)
            run = asyncio.create_task(drive(bootstrap, tmp_path / "traces", reports, timeout=300))
            await asyncio.sleep(3)  # cases are on their way through the chain
            for service in SERVICES:
                chain.kill(f"{service}-2")  # SIGKILL: no clean shutdown
            book = await run
            mine = {book.v_nummer_of[r.partner_reference] for r in reports}
            outcomes = await read_until(bootstrap, "case.outcome.v1", lambda _: True, settle=3.0)
            results = await read_until(
                bootstrap, "europaloket.check-completed.v1", lambda _: True, settle=3.0
            )
    conn = await asyncpg.connect(database)
    try:
        requests = {
            r["request_id"] for r in await conn.fetch("SELECT request_id FROM europaloket.requests")
        }
        pending = await conn.fetchval(
            "SELECT count(*) FROM europaloket.requests WHERE state = 'pending'"
        )
        audited = await conn.fetchval("SELECT count(*) FROM europaloket.audit")
    finally:
        await conn.close()

    per_case = event_ids(outcomes, "v_nummer", CaseOutcome)
    assert {v: len(per_case[v]) for v in mine} == dict.fromkeys(mine, 1), "one outcome each"
    per_request = event_ids(results, "request_id", CheckResult)
    assert per_request.keys() == requests, "every request answered"
    doubled = sorted(r for r, ids in per_request.items() if len(ids) != 1)
    assert not doubled, f"answered more than once: {doubled[:5]}"
    assert pending == 0 and audited == len(requests), "one audit record per request"

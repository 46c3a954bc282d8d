"""What the Europaloket's end-to-end tests share: a chain of chosen services with gateway
settings, requests sent as a partner sends them, answers and database rows read back."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from google.protobuf.message import Message

from chainctl.broker import EmbeddedBroker, ensure_topics
from chainctl.chain import Chain
from chainctl.testing.kafka_io import read_until
from chainctl.testing.scenario import arrival as arrival  # re-exported for the e2e tests
from chainctl.testing.scenario import fingerprint as fingerprint
from chainctl.testing.scenario import send as send
from chainkit.catalogue import topic_for
from chainkit.codec import decode, header_dict
from migratieketen.v1.europaloket_pb2 import CheckRequest, CheckResult

M = TypeVar("M", bound=Message)
DATA_SYSTEMS = ("EURODAC", "SIS", "VIS", "EES", "ETIAS", "ECRIS_TCN", "MID")
# Screening waits this many simulated days for the gateway, so at 0.05 s a day the
# gateway's answer, not the screening deadline, decides what the screening form says.
PATIENT_SCREENING = {
    "MK_PACT_SCREENING_INLAND_DAYS": "100",
    "MK_PACT_SCREENING_BORDER_DAYS": "100",
    "MK_PACT_SCREENING_BORDER_HELD_DAYS": "100",
}


@dataclass
class Running:
    bootstrap_servers: str
    chain: Chain
    data_dir: Path

    @property
    def trace_dir(self) -> Path:
        return self.data_dir / "traces"

    def ready_at(self, service: str) -> float:
        """Real time at which the service reported ready (its workers start then)."""
        return float((self.data_dir / "ready" / service).read_text())


@asynccontextmanager
async def running(
    data_dir: Path,
    services: tuple[str, ...],
    env: dict[str, str],
    seed: int,
    seconds_per_day: float = 0.05,
) -> AsyncIterator[Running]:
    """Its own embedded broker and the named services, stopped afterwards."""
    with EmbeddedBroker(log_path=data_dir / "logs" / "broker.log") as broker:
        await ensure_topics(broker.bootstrap_servers)
        chain = Chain(
            broker.bootstrap_servers,
            data_dir,
            seconds_per_day=seconds_per_day,
            seed=seed,
            extra_env=env,
            services=services,
        )
        chain.start()
        try:
            await asyncio.to_thread(chain.wait_ready, 90.0)
            yield Running(broker.bootstrap_servers, chain, data_dir)
        finally:
            await asyncio.to_thread(chain.stop)


def request_id() -> str:
    return str(uuid.uuid4())


async def events(
    bootstrap_servers: str,
    message_type: type[M],
    done: Callable[[list[M]], bool],
    timeout: float = 60.0,
    settle: float = 0.0,
) -> list[tuple[str, M]]:
    """Every event of this type (with its ce_id) from the beginning of its topic, once
    `done` holds for them, reading on for `settle` seconds."""

    def decoded(records: list[Any]) -> list[tuple[str, M]]:
        out = []
        for record in records:
            headers = header_dict(record.headers)
            message = decode(record.topic, record.value or b"", headers)
            assert isinstance(message, message_type)
            out.append((headers.get("ce_id", ""), message))
        return out

    topic = topic_for(message_type).name
    records = await read_until(
        bootstrap_servers,
        topic,
        lambda rs: done([m for _, m in decoded(rs)]),
        timeout=timeout,
        settle=settle,
    )
    return decoded(records)


async def everything(bootstrap_servers: str, message_type: type[M]) -> list[tuple[str, M]]:
    """Every event of this type on its topic right now (up to the end offsets)."""
    topic = topic_for(message_type).name
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer.topics()  # fresh metadata, so every partition is known
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        out: list[tuple[str, M]] = []

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in partitions])

        while await behind():
            for records in (await consumer.getmany(*partitions, timeout_ms=200)).values():
                for record in records:
                    headers = header_dict(record.headers)
                    message = decode(record.topic, record.value or b"", headers)
                    assert isinstance(message, message_type)
                    out.append((headers.get("ce_id", ""), message))
        return out
    finally:
        await consumer.stop()


async def answers_to(
    bootstrap_servers: str,
    request_ids: set[str],
    timeout: float = 60.0,
    settle: float = 0.0,
) -> dict[str, list[tuple[str, CheckResult]]]:
    """The gateway's results to these requests, by request id, with their event ids."""

    def all_answered(results: list[CheckResult]) -> bool:
        return request_ids <= {r.request_id for r in results}

    found = await events(bootstrap_servers, CheckResult, all_answered, timeout, settle)
    by_request: dict[str, list[tuple[str, CheckResult]]] = defaultdict(list)
    for ce_id, result in found:
        if result.request_id in request_ids:
            by_request[result.request_id].append((ce_id, result))
    return by_request


async def ask(running: Running, request: CheckRequest, timeout: float = 30.0) -> CheckResult:
    """Send one request and return the one answer to it."""
    await send(running.bootstrap_servers, request)
    (answer,) = (await answers_to(running.bootstrap_servers, {request.request_id}, timeout))[
        request.request_id
    ]
    return answer[1]


def rows(data_dir: Path, service: str, sql: str, *params: object) -> list[sqlite3.Row]:
    """Read a service's SQLite database while it runs (WAL allows a reader)."""
    conn = sqlite3.connect(f"file:{data_dir / f'{service}.db'}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return list(conn.execute(sql, params))
    finally:
        conn.close()

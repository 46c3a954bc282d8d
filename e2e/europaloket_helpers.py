"""What the Europaloket's end-to-end tests share: a chain of chosen services with gateway
settings, requests sent as a partner sends them, answers and database rows read back."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from google.protobuf.message import Message

from chainctl.arrivals import make_arrivals
from chainctl.broker import EmbeddedBroker, ensure_topics
from chainctl.chain import Chain
from chainkit.catalogue import topic_for
from chainkit.codec import cloudevent_headers, decode, header_dict
from e2e.kafka_io import read_until
from migratieketen.v1.arrival_pb2 import ArrivalReport
from migratieketen.v1.common_pb2 import BiometricReference, CalendarDate, IdentityDocument
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


def fingerprint(name: str) -> str:
    """A synthetic fingerprint template hash, as partners report it."""
    return hashlib.sha256(f"europaloket-e2e|{name}".encode()).hexdigest()


def arrival(
    reference: str,
    age: int = 30,
    asylum: bool = True,
    biometric_hash: str | None = None,
    document_number: str | None = None,
) -> ArrivalReport:
    """A plausible inland arrival with the traits a scenario needs."""
    (report,) = make_arrivals(1, seed=1, prefix="ELK")
    report.partner_reference = reference
    report.claimed_age = age
    report.claimed_identity.date_of_birth.CopyFrom(
        CalendarDate(year=datetime.now(UTC).year - age, month=1, day=15)
    )
    report.asylum_requested = asylum
    report.accompanied = True
    report.family_group_id = f"{reference}-FAM" if age < 18 else ""
    report.ClearField("biometrics")
    if age >= 6:
        report.biometrics.CopyFrom(
            BiometricReference(
                template_reference=f"{reference}-BIO",
                template_hash=biometric_hash or fingerprint(reference),
                captured_at=report.reported_at,
            )
        )
    del report.documents[:]
    if document_number:
        report.documents.append(
            IdentityDocument(
                document_type="PASSPORT",
                document_number=document_number,
                issuing_country=report.claimed_identity.nationalities[0],
            )
        )
    return report


async def send(bootstrap_servers: str, *messages: Message, ce_id: str | None = None) -> None:
    """Publish as a partner does: protobuf value, CloudEvents headers, keyed by V-nummer."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    await producer.start()
    try:
        for message in messages:
            topic = topic_for(message)
            key = getattr(message, topic.key)
            headers = cloudevent_headers(topic, "test-partner", key)
            headers["ce_id"] = ce_id or str(uuid.uuid4())
            await producer.send_and_wait(
                topic.name,
                value=message.SerializeToString(),
                key=key.encode(),
                headers=[(k, v.encode()) for k, v in headers.items()],
            )
    finally:
        await producer.stop()


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

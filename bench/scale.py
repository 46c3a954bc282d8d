"""Speed-up from one to two instances of the bottleneck service (the Europaloket, the
most CPU per case) on PostgreSQL: the same N check requests, answered by one instance
and then by two in one consumer group sharing one database. Prints numbers; asserts
nothing. Needs a PostgreSQL server (MK_BENCH_POSTGRES_URL, default
postgresql://postgres@127.0.0.1:5432/postgres); each run gets a fresh database.

    .venv/bin/python bench/scale.py --requests 2000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from chainctl.broker import EmbeddedBroker, ensure_topics
from chainctl.chain import Chain
from chainkit.catalogue import topic_for
from chainkit.codec import cloudevent_headers
from migratieketen.v1.common_pb2 import EuSystem, Partner
from migratieketen.v1.europaloket_pb2 import CheckPurpose, CheckRequest, CheckResult

ADMIN_URL = os.environ.get("MK_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SERVICE = "europaloket"
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def requests(n: int) -> list[CheckRequest]:
    return [
        CheckRequest(
            request_id=f"scale-{uuid.uuid4().hex}",
            v_nummer=f"{2_700_000_000 + i:010d}",
            partner=Partner.PARTNER_SCREENING,
            purpose=CheckPurpose.CHECK_PURPOSE_SCREENING_SECURITY,
            systems=[EuSystem.EU_SYSTEM_SIS, EuSystem.EU_SYSTEM_VIS, EuSystem.EU_SYSTEM_EURODAC],
            biometric_template_hash=f"{i:064x}",
            claimed_age=30,
        )
        for i in range(n)
    ]


async def answer_all(bootstrap: str, batch: list[CheckRequest], timeout: float) -> float:
    """Publish the requests and wait for one answer each; return the seconds it took."""
    asked = topic_for(CheckRequest)
    consumer = AIOKafkaConsumer(
        topic_for(CheckResult).name,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_batch_size=262144)
    await producer.start()
    started = time.monotonic()
    try:
        sent = [
            await producer.send(
                asked.name,
                value=r.SerializeToString(),
                key=r.v_nummer.encode(),
                headers=[
                    (k, v.encode())
                    for k, v in cloudevent_headers(asked, "bench", r.v_nummer).items()
                ],
            )
            for r in batch
        ]
        await asyncio.gather(*sent)
        wanted = {r.request_id for r in batch}
        while wanted and time.monotonic() - started < timeout:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    wanted.discard(CheckResult.FromString(record.value).request_id)
        if wanted:
            raise TimeoutError(f"{len(wanted)} requests unanswered after {timeout:.0f} s")
        return time.monotonic() - started
    finally:
        await producer.stop()
        await consumer.stop()


async def fresh_database() -> str:
    name = f"mk_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return (
        ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"
    )


def run(instances: int, batch: list[CheckRequest], timeout: float) -> tuple[float, float]:
    data = Path(tempfile.mkdtemp(prefix=f"scale-{instances}-"))
    url = asyncio.run(fresh_database())
    with EmbeddedBroker(log_path=data / "logs" / "broker.log") as broker:
        asyncio.run(ensure_topics(broker.bootstrap_servers))
        chain = Chain(
            broker.bootstrap_servers,
            data,
            services=(SERVICE,),
            instances={SERVICE: instances},
            extra_env={"MK_DATABASE_URL": url},
        )
        with chain:
            chain.wait_ready(timeout=120.0)
            time.sleep(6.0)  # let the consumer group settle on its members
            pids = [p.pid for p in chain.processes.values()]
            before = sum(cpu_seconds(p) for p in pids)
            seconds = asyncio.run(answer_all(broker.bootstrap_servers, batch, timeout))
            cpu = sum(cpu_seconds(p) for p in pids) - before
    return seconds, cpu


async def _reachable() -> None:
    connection = await asyncpg.connect(ADMIN_URL, timeout=5)
    await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    try:
        asyncio.run(_reachable())
    except (OSError, asyncpg.PostgresError) as error:
        print(f"no PostgreSQL at {ADMIN_URL} ({type(error).__name__}): speed-up not measured")
        return
    results = {}
    for instances in (1, 2):
        seconds, cpu = run(instances, requests(args.requests), args.timeout)
        results[instances] = seconds
        print(
            f"{SERVICE} x{instances} on PostgreSQL: {args.requests} requests answered in "
            f"{seconds:.1f} s ({args.requests / seconds:.0f}/s), "
            f"{1000 * cpu / args.requests:.1f} ms CPU per request",
            flush=True,
        )
    print(f"speed-up from 1 to 2 instances: {results[1] / results[2]:.2f}x")


if __name__ == "__main__":
    main()

"""Events a partner receives twice after SIGKILLs of the BVV mid-run.

The outbox gives at-least-once delivery: events the broker confirmed but the relay had
not yet deleted are sent again after a crash (consumers drop them by their event id).
This counts those copies on the BVV's topic over a few kills, so the window can be compared
between relay settings, e.g. MK_RELAY_CHUNK_SIZE=500 (the whole batch in flight) and the
default. Prints numbers; asserts nothing.

    .venv/bin/python bench/resend.py --cases 1200
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import Counter
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from chainctl.arrivals import make_arrivals
from chainctl.broker import EmbeddedBroker, ensure_topics
from chainctl.chain import Chain
from chainctl.watch import feed
from chainkit.catalogue import topic_for
from chainkit.codec import header_dict
from chainkit.telemetry import setup_telemetry
from migratieketen.v1.bvv_pb2 import PersonRegistered

TOPIC = topic_for(PersonRegistered).name


async def read_ids(consumer: AIOKafkaConsumer, ids: Counter[str], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        batches = await consumer.getmany(timeout_ms=200)
        for records in batches.values():
            for record in records:
                ids[header_dict(record.headers).get("ce_id", "")] += 1


async def run(args: argparse.Namespace, chain: Chain, bootstrap: str, data: Path) -> None:
    consumer = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    ids: Counter[str] = Counter()
    provider = setup_telemetry("partner", data / "traces")
    await feed(bootstrap, make_arrivals(args.cases, seed=5, prefix="RESEND"), provider)
    for kill in range(1, args.kills + 1):
        while len(ids) < args.cases * kill // (args.kills + 1):
            await read_ids(consumer, ids, 0.02)
        chain.kill("bvv")
        chain.start("bvv")
        await asyncio.to_thread(chain.wait_ready, 60.0, "bvv")
    while len(ids) < args.cases:
        await read_ids(consumer, ids, 1.0)
    await read_ids(consumer, ids, 3.0)
    await consumer.stop()
    provider.shutdown()
    twice = sum(1 for n in ids.values() if n > 1)
    print(
        f"{TOPIC}: {len(ids)} distinct events, {sum(ids.values())} delivered, "
        f"{twice} delivered twice after {args.kills} SIGKILLs of the BVV"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1200)
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs, evenly spread")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="resend-"))
    with EmbeddedBroker(log_path=data / "logs" / "broker.log") as broker:
        asyncio.run(ensure_topics(broker.bootstrap_servers))
        with Chain(broker.bootstrap_servers, data, 0.05, services=("bvv",)) as chain:
            chain.wait_ready()
            asyncio.run(run(args, chain, broker.bootstrap_servers, data))


if __name__ == "__main__":
    main()

"""A bare FastStream relay, the yardstick for the chain's CPU per event: N messages
through H hops (batch subscriber, publish_batch without confirmation), no database, no
outbox, no inbox, no tracing. Run by bench/throughput.py on the same broker; it prints
the events relayed.

    .venv/bin/python bench/bare_relay.py --bootstrap-servers 127.0.0.1:9092 --messages 1000
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import uuid

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker


async def relay(bootstrap: str, messages: int, hops: int, fetch_max_wait_ms: int) -> int:
    run = uuid.uuid4().hex[:8]
    names = [f"bench.bare-{run}.hop{i}" for i in range(hops + 1)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(n, num_partitions=3, replication_factor=1) for n in names]
        )
    finally:
        await admin.close()
    broker = KafkaBroker(
        bootstrap,
        logger=logging.getLogger("bare"),
        log_level=logging.DEBUG,
        max_batch_size=1024 * 1024,
    )
    arrived = 0
    done = asyncio.Event()

    def hop(target: str) -> None:
        async def forward(bodies: list[bytes]) -> None:
            await broker.publish_batch(*bodies, topic=target, no_confirm=True)

        broker.subscriber(
            names[names.index(target) - 1],
            group_id=f"bare-{run}-{target}",
            batch=True,
            max_records=200,
            batch_timeout_ms=fetch_max_wait_ms,
            fetch_max_wait_ms=fetch_max_wait_ms,
            auto_offset_reset="earliest",
        )(forward)

    for target in names[1:]:
        hop(target)

    @broker.subscriber(
        names[-1],
        group_id=f"bare-{run}-end",
        batch=True,
        max_records=200,
        batch_timeout_ms=fetch_max_wait_ms,
        fetch_max_wait_ms=fetch_max_wait_ms,
        auto_offset_reset="earliest",
    )
    async def end(bodies: list[bytes]) -> None:
        nonlocal arrived
        arrived += len(bodies)
        if arrived >= messages:
            done.set()

    async with broker:
        await broker.start()
        payload = b"x" * 200  # about the size of the chain's events
        for start in range(0, messages, 500):
            count = min(500, messages - start)
            await broker.publish_batch(*([payload] * count), topic=names[0])
        await done.wait()
    return messages * hops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--hops", type=int, default=3)
    parser.add_argument("--fetch-max-wait-ms", type=int, default=25)
    args = parser.parse_args()
    events = asyncio.run(
        relay(args.bootstrap_servers, args.messages, args.hops, args.fetch_max_wait_ms)
    )
    print(events, flush=True)


if __name__ == "__main__":
    main()

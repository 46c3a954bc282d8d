"""A bare FastStream relay, the yardstick for the chain's CPU per event: N messages
through H hops, no database, no outbox, no inbox, no tracing. Two kinds:

- `message` (the default, the relay issue 9 measured): a plain subscriber per hop that
  is handed one message at a time and publishes it on, without waiting for the
  broker's confirmation;
- `batch`: a batch subscriber per hop that publishes each batch with one
  `publish_batch`, without confirmation (the least a Python relay can do per event).

Run by bench/throughput.py on the same broker; it prints the events relayed and the CPU
seconds they cost (its own and the broker's, counted once every consumer has joined).

    .venv/bin/python bench/bare_relay.py --bootstrap-servers 127.0.0.1:9092 --messages 1000
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def relay(
    bootstrap: str, messages: int, hops: int, fetch_max_wait_ms: int, broker_pid: int, kind: str
) -> tuple[int, float]:
    """Relay `messages` through `hops` hops once every consumer has joined (a first
    message went all the way); return the events and the CPU seconds they cost, this
    process's and the broker's."""
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
    arrived, wanted = 0, 1
    done = asyncio.Event()

    batch = kind == "batch"

    def subscribe(topic: str, group: str, handler: Callable[..., Awaitable[None]]) -> None:
        if batch:
            broker.subscriber(
                topic,
                group_id=group,
                batch=True,
                max_records=200,
                batch_timeout_ms=fetch_max_wait_ms,
                fetch_max_wait_ms=fetch_max_wait_ms,
                auto_offset_reset="earliest",
            )(handler)
        else:
            broker.subscriber(
                topic,
                group_id=group,
                fetch_max_wait_ms=fetch_max_wait_ms,
                auto_offset_reset="earliest",
            )(handler)

    def hop(target: str) -> None:
        async def forward_batch(bodies: list[bytes]) -> None:
            await broker.publish_batch(*bodies, topic=target, no_confirm=True)

        async def forward(body: bytes) -> None:
            await broker.publish(body, topic=target, no_confirm=True)

        subscribe(
            names[names.index(target) - 1],
            f"bare-{run}-{target}",
            forward_batch if batch else forward,
        )

    for target in names[1:]:
        hop(target)

    def arrive(relayed: int) -> None:
        nonlocal arrived
        arrived += relayed
        if arrived >= wanted:
            done.set()

    async def end_batch(bodies: list[bytes]) -> None:
        arrive(len(bodies))

    async def end(body: bytes) -> None:
        arrive(1)

    subscribe(names[-1], f"bare-{run}-end", end_batch if batch else end)

    async with broker:
        await broker.start()
        payload = b"x" * 200  # about the size of the chain's events
        await broker.publish(payload, topic=names[0])
        await done.wait()  # every consumer group has joined and passes messages on
        done.clear()
        arrived, wanted = 0, messages
        before = _cpu_seconds(os.getpid()) + _cpu_seconds(broker_pid)
        for start in range(0, messages, 500):
            count = min(500, messages - start)
            await broker.publish_batch(*([payload] * count), topic=names[0])
        await done.wait()
        used = _cpu_seconds(os.getpid()) + _cpu_seconds(broker_pid) - before
    return messages * hops, used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--hops", type=int, default=3)
    parser.add_argument("--fetch-max-wait-ms", type=int, default=25)
    parser.add_argument("--broker-pid", type=int, required=True, help="to read its CPU")
    parser.add_argument("--kind", choices=("message", "batch"), default="message")
    args = parser.parse_args()
    events, cpu = asyncio.run(
        relay(
            args.bootstrap_servers,
            args.messages,
            args.hops,
            args.fetch_max_wait_ms,
            args.broker_pid,
            args.kind,
        )
    )
    print(events, cpu, flush=True)


if __name__ == "__main__":
    main()

"""The chain under test: a real broker and the six services as real OS processes.

Broker choice: KAFKA_BOOTSTRAP_SERVERS if set; else a testcontainers Kafka when a
Docker daemon answers a ping; else the embedded broker (Tansu).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chainctl.broker import EmbeddedBroker, ensure_topics
from chainctl.chain import Chain

SECONDS_PER_DAY = 0.05


def docker_available() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


@pytest.fixture(scope="session")
def bootstrap_servers() -> Iterator[str]:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    elif docker_available():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("confluentinc/cp-kafka:7.6.1").with_kraft() as kafka:
            yield kafka.get_bootstrap_server()
    else:
        with EmbeddedBroker() as broker:
            yield broker.bootstrap_servers


@dataclass
class RunningChain:
    bootstrap_servers: str
    data_dir: Path
    chain: Chain

    @property
    def trace_dir(self) -> Path:
        return self.data_dir / "traces"


@pytest.fixture(scope="session")
def running_chain(
    bootstrap_servers: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningChain]:
    data_dir = tmp_path_factory.mktemp("chain")
    asyncio.run(ensure_topics(bootstrap_servers))
    chain = Chain(bootstrap_servers, data_dir, seconds_per_day=SECONDS_PER_DAY, seed=7)
    chain.start()
    try:
        chain.wait_ready(timeout=90)
        yield RunningChain(bootstrap_servers, data_dir, chain)
    finally:
        chain.stop()

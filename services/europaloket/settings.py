"""Settings of the gateway and its simulated systems, from MK_EUROPALOKET_* variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from europaloket.resilience import Outage
from migratieketen.v1.common_pb2 import EuSystem

S = EuSystem


@dataclass(frozen=True)
class SystemProfile:
    """How one simulated system behaves: hit share, latency (real ms) and faults."""

    hit_share: float
    latency_median_ms: float
    latency_p95_ms: float
    error_rate: float = 0.0
    rate_limit_per_s: float = 0.0  # 0: no limit
    outages: tuple[Outage, ...] = ()


# Latencies are real milliseconds. The simulated clock runs a day in a fraction of a
# second (at 0.1 s a day, Eurodac's legal 24 hours are 100 ms), so the defaults are
# short; raise them to exercise timeouts and retries.
DEFAULT_PROFILES: dict[EuSystem.ValueType, SystemProfile] = {
    S.EU_SYSTEM_EURODAC: SystemProfile(0.15, 20, 60),  # biometric matching is the slowest
    S.EU_SYSTEM_SIS: SystemProfile(0.03, 5, 20),
    S.EU_SYSTEM_VIS: SystemProfile(0.05, 8, 30),
    S.EU_SYSTEM_EES: SystemProfile(0.03, 8, 30),
    S.EU_SYSTEM_ETIAS: SystemProfile(0.01, 5, 20),
    S.EU_SYSTEM_ECRIS_TCN: SystemProfile(0.02, 15, 50),
    S.EU_SYSTEM_MID: SystemProfile(0.03, 5, 20),
}


class SystemOverrides(BaseModel):
    """MK_EUROPALOKET_<SYSTEM>__<FIELD>; a field left unset keeps the system's default."""

    model_config = ConfigDict(extra="forbid")

    hit_share: float | None = Field(default=None, ge=0, le=1)
    latency_median_ms: float | None = Field(default=None, ge=0)
    latency_p95_ms: float | None = Field(default=None, ge=0)
    error_rate: float | None = Field(default=None, ge=0, le=1)
    rate_limit_per_s: float | None = Field(default=None, ge=0)
    outages: list[Outage] = []


_PREFIX = "MK_EUROPALOKET_"


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=_PREFIX, env_nested_delimiter="__", extra="ignore")

    # A TOML or JSON file of planted reference records (see README.md).
    fixtures: Path | None = None
    eurodac: SystemOverrides = SystemOverrides()
    sis: SystemOverrides = SystemOverrides()
    vis: SystemOverrides = SystemOverrides()
    ees: SystemOverrides = SystemOverrides()
    etias: SystemOverrides = SystemOverrides()
    ecris_tcn: SystemOverrides = SystemOverrides()
    mid: SystemOverrides = SystemOverrides()
    # Share of Eurodac candidate hits the fingerprint expert rejects.
    eurodac_rejected_share: float = Field(default=0.05, ge=0, le=1)
    timeout_ms: float = Field(default=1000, gt=0)
    retries: int = Field(default=3, ge=0)
    backoff_base_ms: float = Field(default=100, ge=0)
    backoff_max_ms: float = Field(default=2000, ge=0)
    breaker_failures: int = Field(default=5, ge=1)
    breaker_reset_ms: float = Field(default=2000, ge=0)
    # Requests answered at the same time; each calls its systems concurrently.
    concurrency: int = Field(default=32, ge=1)
    # Fallback: commits wake the worker; polling finds rows of an instance that died.
    poll_ms: float = Field(default=1000, gt=0)
    # How long a claimed request is held; unset: the longest an answer can take (every
    # attempt timing out after the longest backoff) plus 5 s.
    lease_ms: float | None = Field(default=None, gt=0)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> GatewaySettings:
        """The settings, refusing MK_EUROPALOKET_* variables that name no setting: a
        misspelt fault would otherwise be ignored and a test pass for the wrong reason."""
        known = {f"{_PREFIX}{name.upper()}" for name in cls.model_fields}
        unknown = sorted(
            k for k in environ if k.startswith(_PREFIX) and k.split("__")[0] not in known
        )
        if unknown:
            raise ValueError(f"unknown Europaloket settings: {', '.join(unknown)}")
        return cls()

    @property
    def lease_seconds(self) -> float:
        if self.lease_ms is not None:
            return self.lease_ms / 1000
        worst = (self.retries + 1) * self.timeout_ms + self.retries * self.backoff_max_ms
        return worst / 1000 + 5.0

    def profile(self, system: EuSystem.ValueType) -> SystemProfile:
        default = DEFAULT_PROFILES[system]
        field = EuSystem.Name(system).removeprefix("EU_SYSTEM_").lower()
        given: SystemOverrides = getattr(self, field)

        def pick(value: float | None, fallback: float) -> float:
            return fallback if value is None else value

        return SystemProfile(
            hit_share=pick(given.hit_share, default.hit_share),
            latency_median_ms=pick(given.latency_median_ms, default.latency_median_ms),
            latency_p95_ms=pick(given.latency_p95_ms, default.latency_p95_ms),
            error_rate=pick(given.error_rate, default.error_rate),
            rate_limit_per_s=pick(given.rate_limit_per_s, default.rate_limit_per_s),
            outages=tuple(given.outages),
        )

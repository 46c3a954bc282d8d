"""Pure fault handling: circuit breaker, backoff, rate limit, outage windows, latency draws."""

from __future__ import annotations

import math
import random
from enum import StrEnum
from statistics import NormalDist

from pydantic import BaseModel, ConfigDict, model_validator

# z-score of the 95th percentile of the standard normal distribution.
_Z95 = 1.6449
_STANDARD_NORMAL = NormalDist()


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens after `threshold` consecutive failures, so a dead system is not hammered and
    callers get their answer at once; after `reset_after` seconds one probe goes through
    (half-open): its success closes the breaker, its failure opens it again. Time is
    passed in, so the state machine is testable without waiting."""

    def __init__(self, threshold: int, reset_after: float) -> None:
        if threshold < 1:
            raise ValueError("threshold must be at least 1")
        self.threshold = threshold
        self.reset_after = reset_after
        self.state = BreakerState.CLOSED
        self.failures = 0
        self.opened_at = 0.0
        self._probing = False

    def allow(self, now: float) -> bool:
        if self.state == BreakerState.CLOSED:
            return True
        if self.state == BreakerState.OPEN:
            if now - self.opened_at < self.reset_after:
                return False
            self.state = BreakerState.HALF_OPEN
            self._probing = False
        if self._probing:
            return False  # one probe at a time
        self._probing = True
        return True

    def success(self) -> None:
        if self.state == BreakerState.OPEN:
            return  # a call from before the breaker opened: wait for the probe
        self.state = BreakerState.CLOSED
        self.failures = 0
        self._probing = False

    def failure(self, now: float) -> None:
        if self.state == BreakerState.OPEN:
            return
        if self.state == BreakerState.HALF_OPEN:
            self._open(now)
            return
        self.failures += 1
        if self.failures >= self.threshold:
            self._open(now)

    def _open(self, now: float) -> None:
        self.state = BreakerState.OPEN
        self.opened_at = now
        self.failures = 0
        self._probing = False


def backoff_schedule(
    retries: int, base: float, cap: float, rng: random.Random, jitter: float = 0.2
) -> list[float]:
    """The waits before each retry: base, 2·base, 4·base, … never above cap. A ±jitter
    share keeps requests that failed together from retrying in lockstep."""
    return [
        min(cap, base * 2**attempt * (1 + jitter * (2 * rng.random() - 1)))
        for attempt in range(retries)
    ]


class RateLimit:
    """Token bucket: `per_second` calls a second on average, bursts up to `burst`;
    0 calls a second means no limit."""

    def __init__(self, per_second: float, burst: float | None = None) -> None:
        self.per_second = per_second
        self.capacity = burst if burst is not None else max(1.0, per_second)
        self.tokens = self.capacity
        self.updated: float | None = None

    def take(self, now: float) -> bool:
        if self.per_second <= 0:
            return True
        if self.updated is not None:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class Outage(BaseModel):
    """A window in which a system answers nothing: either real seconds after the gateway
    started (start_s, end_s; a restart starts counting again) or simulated days after
    the chain clock's epoch (start_day, end_day)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start_s: float | None = None
    end_s: float | None = None
    start_day: float | None = None
    end_day: float | None = None

    @model_validator(mode="after")
    def _one_window(self) -> Outage:
        seconds = self.start_s is not None or self.end_s is not None
        days = self.start_day is not None or self.end_day is not None
        if seconds == days:
            raise ValueError("give either start_s and end_s, or start_day and end_day")
        start, end = (self.start_s, self.end_s) if seconds else (self.start_day, self.end_day)
        if start is None or end is None:
            raise ValueError("an outage needs both a start and an end")
        if start >= end:
            raise ValueError("an outage must end after it starts")
        return self

    def active(self, elapsed_s: float, sim_day: float) -> bool:
        if self.start_s is not None and self.end_s is not None:
            return self.start_s <= elapsed_s < self.end_s
        if self.start_day is not None and self.end_day is not None:
            return self.start_day <= sim_day < self.end_day
        return False


def draw_latency_ms(uniform: float, median_ms: float, p95_ms: float) -> float:
    """A response time from a log-normal distribution with this median and 95th
    percentile (mostly near the median, with the long tail real systems have), for a
    uniform draw in [0, 1): the same draw, the same time."""
    if median_ms <= 0:
        return 0.0
    if p95_ms <= median_ms:
        return median_ms
    sigma = math.log(p95_ms / median_ms) / _Z95
    normal = _STANDARD_NORMAL.inv_cdf(min(max(uniform, 1e-12), 1 - 1e-12))
    return median_ms * math.exp(sigma * normal)

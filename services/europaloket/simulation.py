"""The simulated eu-LISA systems as the gateway meets them over the network: they take
time, fail now and then, limit the call rate and have scheduled outages. What they
answer is decided in systems.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

from chainkit.clock import DAY, SimClock
from chainkit.runtime import chances
from europaloket.resilience import RateLimit, draw_latency_ms
from europaloket.settings import SystemProfile
from migratieketen.v1.common_pb2 import EuSystem

T = TypeVar("T")


class SystemFault(Exception):
    """The simulated system did not answer: outage, server error or rate limit."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class SimulatedSystem:
    """One eu-LISA system behind the network, with the behaviour of its profile."""

    def __init__(
        self, system: EuSystem.ValueType, profile: SystemProfile, seed: int, clock: SimClock
    ) -> None:
        self.system = system
        self.profile = profile
        self.seed = seed
        self.clock = clock
        self.started = time.monotonic()
        self.rate = RateLimit(profile.rate_limit_per_s)

    def down(self) -> bool:
        elapsed = time.monotonic() - self.started
        sim_day = (self.clock.now().timestamp() - self.clock.epoch) / DAY
        return any(o.active(elapsed, sim_day) for o in self.profile.outages)

    async def call(self, call_id: str, work: Callable[[], T]) -> T:
        if self.down():
            await asyncio.sleep(0.005)  # a refused connection is quick
            raise SystemFault("outage")
        if not self.rate.take(time.monotonic()):
            raise SystemFault("rate limited")
        # Drawn from the call's id, so a seed replays the same latencies and errors
        # (hashed draws: seeding a Random per call cost more than the rest of the call).
        draw = chances(self.seed, "call", self.system, call_id)
        profile = self.profile
        await asyncio.sleep(
            draw_latency_ms(draw(0), profile.latency_median_ms, profile.latency_p95_ms) / 1000
        )
        if draw(1) < profile.error_rate:
            raise SystemFault("server error")
        return work()

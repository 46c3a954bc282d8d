"""Fault handling rules: circuit breaker, backoff, rate limit, outage windows, latency."""

from __future__ import annotations

import random
import statistics

import pytest
from pydantic import ValidationError

from europaloket.resilience import (
    BreakerState,
    CircuitBreaker,
    Outage,
    RateLimit,
    backoff_schedule,
    draw_latency_ms,
)

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


def test_a_breaker_opens_after_consecutive_failures_only() -> None:
    breaker = CircuitBreaker(threshold=3, reset_after=10)
    breaker.failure(0)
    breaker.failure(0)
    breaker.success()  # a success in between resets the count
    breaker.failure(1)
    breaker.failure(1)
    assert breaker.state == CLOSED and breaker.allow(1)
    breaker.failure(2)
    assert breaker.state == OPEN
    assert not breaker.allow(2) and not breaker.allow(11.9)


def test_an_open_breaker_lets_one_probe_through_after_the_reset_time() -> None:
    breaker = CircuitBreaker(threshold=1, reset_after=10)
    breaker.failure(0)
    assert breaker.allow(10)
    assert breaker.state == HALF_OPEN
    assert not breaker.allow(10.1), "only one probe at a time"


def test_a_successful_probe_closes_the_breaker() -> None:
    breaker = CircuitBreaker(threshold=1, reset_after=10)
    breaker.failure(0)
    assert breaker.allow(10)
    breaker.success()
    assert breaker.state == CLOSED
    assert all(breaker.allow(10.1) for _ in range(5))


def test_a_failed_probe_opens_the_breaker_for_another_period() -> None:
    breaker = CircuitBreaker(threshold=3, reset_after=10)
    for _ in range(3):
        breaker.failure(0)
    assert breaker.allow(10)
    breaker.failure(10.5)  # one failure suffices when half-open
    assert breaker.state == OPEN
    assert not breaker.allow(20) and breaker.allow(20.5)


def test_late_results_do_not_move_an_open_breaker() -> None:
    breaker = CircuitBreaker(threshold=1, reset_after=10)
    breaker.failure(0)
    breaker.success()  # a call that started before the breaker opened
    breaker.failure(5)  # another one: must not postpone the probe
    assert breaker.state == OPEN
    assert breaker.allow(10)


def test_a_breaker_needs_a_positive_threshold() -> None:
    with pytest.raises(ValueError, match="threshold"):
        CircuitBreaker(threshold=0, reset_after=1)


def test_backoff_doubles_up_to_the_cap() -> None:
    waits = backoff_schedule(6, base=0.1, cap=1.0, rng=random.Random(1), jitter=0)
    assert waits == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])


def test_backoff_jitter_stays_within_its_share_and_under_the_cap() -> None:
    for seed in range(200):
        waits = backoff_schedule(4, base=0.1, cap=0.5, rng=random.Random(seed), jitter=0.2)
        for n, wait in enumerate(waits):
            nominal = min(0.5, 0.1 * 2**n)
            assert 0.8 * nominal <= wait <= min(0.5, 1.2 * 0.1 * 2**n) + 1e-12


def test_backoff_is_deterministic_for_a_seeded_rng_and_differs_between_seeds() -> None:
    one = backoff_schedule(3, 0.1, 2.0, random.Random("req-1"))
    assert one == backoff_schedule(3, 0.1, 2.0, random.Random("req-1"))
    assert one != backoff_schedule(3, 0.1, 2.0, random.Random("req-2"))


def test_no_retries_no_waits() -> None:
    assert backoff_schedule(0, 0.1, 1.0, random.Random(1)) == []


def test_rate_limit() -> None:
    limit = RateLimit(per_second=2)
    assert limit.take(0.0) and limit.take(0.0)
    assert not limit.take(0.0)
    assert not limit.take(0.4)
    assert limit.take(0.5)  # one token back after half a second


def test_a_rate_of_zero_is_no_limit() -> None:
    limit = RateLimit(per_second=0)
    assert all(limit.take(0.0) for _ in range(10_000))


def test_an_outage_in_seconds_after_start() -> None:
    outage = Outage(start_s=5, end_s=20)
    assert [outage.active(t, sim_day=0) for t in (4.9, 5, 19.9, 20)] == [False, True, True, False]


def test_an_outage_in_simulated_days() -> None:
    outage = Outage(start_day=3, end_day=4)
    assert [outage.active(0, d) for d in (2.99, 3, 3.5, 4)] == [False, True, True, False]


@pytest.mark.parametrize(
    "window",
    [
        {},
        {"start_s": 1},
        {"start_s": 1, "end_s": 2, "start_day": 1, "end_day": 2},
        {"start_s": 5, "end_s": 5},
        {"start_day": 4, "end_day": 3},
        {"from": 1, "to": 2},
    ],
)
def test_an_outage_needs_one_whole_window(window: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        Outage.model_validate(window)


def test_latencies_follow_the_median_and_95th_percentile() -> None:
    rng = random.Random(7)
    draws = sorted(draw_latency_ms(rng.random(), median_ms=40, p95_ms=150) for _ in range(20_000))
    assert statistics.median(draws) == pytest.approx(40, rel=0.05)
    assert draws[int(0.95 * len(draws))] == pytest.approx(150, rel=0.08)
    assert min(draws) > 0


@pytest.mark.parametrize(("median", "p95", "expected"), [(30, 30, 30), (30, 10, 30), (0, 50, 0)])
def test_a_latency_without_spread_is_constant(median: float, p95: float, expected: float) -> None:
    assert draw_latency_ms(random.Random(1).random(), median, p95) == expected

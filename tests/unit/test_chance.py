"""Deterministic draws: a series hashed once gives exactly the draws made one by one."""

from __future__ import annotations

from chainkit.runtime import chance, chances


def test_a_series_of_draws_equals_the_draws_made_one_at_a_time() -> None:
    series = chances(20260612, "report", "1234567890")
    for index in range(500):
        assert series(index) == chance(20260612, "report", "1234567890", index)
    assert chances()("x") == chance("x")


def test_draws_are_uniform_and_differ_per_part() -> None:
    draws = [chance(1, "a", i) for i in range(10_000)]
    assert all(0.0 <= d < 1.0 for d in draws)
    assert 0.48 < sum(draws) / len(draws) < 0.52
    assert chance(1, "a", 0) != chance(2, "a", 0) != chance(1, "b", 0)

"""Return rules (DTenV): when the person must leave, and how the departure ends."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest

from chainkit.pact import PactLimits
from migratieketen.v1.outcome_pb2 import Outcome
from returns.domain import (
    FORCED_SHARE,
    VOLUNTARY_SHARE,
    departure_due,
    departure_outcome,
    transfer_due,
    transfer_outcome,
)

SUBJECTS = 10_000


@pytest.mark.parametrize(("period", "days"), [(15, 15), (28, 28), (7, 7)])
def test_departure_due(period: int, days: int) -> None:
    assert departure_due(period) == timedelta(days=days)


def test_departure_due_default_is_the_voluntary_departure_limit() -> None:
    assert departure_due(0) == timedelta(days=15)


def test_transfer_due_is_inside_the_dublin_transfer_limit() -> None:
    assert timedelta(0) < transfer_due() <= timedelta(days=PactLimits().dublin_transfer_days)


def test_departure_outcome_is_deterministic_for_a_seeded_rng() -> None:
    for seed in range(500):
        key = f"20260612|return|{2_600_000_000 + seed}"
        assert departure_outcome(random.Random(key)) == departure_outcome(random.Random(key))


def test_transfer_outcome_is_deterministic_for_a_seeded_rng() -> None:
    for seed in range(500):
        key = f"20260612|return|{2_600_000_000 + seed}"
        assert transfer_outcome(random.Random(key)) == transfer_outcome(random.Random(key))


def test_departure_outcome_shares() -> None:
    counts = Counter(departure_outcome(random.Random(seed)) for seed in range(SUBJECTS))
    assert set(counts) == {
        Outcome.OUTCOME_DEPARTED_VOLUNTARY,
        Outcome.OUTCOME_DEPARTED_FORCED,
        Outcome.OUTCOME_ABSCONDED,
    }
    assert counts[Outcome.OUTCOME_DEPARTED_VOLUNTARY] / SUBJECTS == pytest.approx(
        VOLUNTARY_SHARE, abs=0.03
    )
    assert counts[Outcome.OUTCOME_DEPARTED_FORCED] / SUBJECTS == pytest.approx(
        FORCED_SHARE, abs=0.03
    )
    assert counts[Outcome.OUTCOME_ABSCONDED] / SUBJECTS == pytest.approx(
        1 - VOLUNTARY_SHARE - FORCED_SHARE, abs=0.03
    )


def test_transfer_outcome_shares() -> None:
    counts = Counter(transfer_outcome(random.Random(seed)) for seed in range(SUBJECTS))
    assert set(counts) == {Outcome.OUTCOME_TRANSFERRED, Outcome.OUTCOME_ABSCONDED}
    assert counts[Outcome.OUTCOME_TRANSFERRED] / SUBJECTS == pytest.approx(0.9, abs=0.03)


def test_shares_leave_room_for_absconding() -> None:
    assert 0 < VOLUNTARY_SHARE + FORCED_SHARE < 1

"""Pure return rules: when the person must leave, and how the departure ends."""

from __future__ import annotations

import random
from datetime import timedelta

from chainkit.pact import limits
from migratieketen.v1.outcome_pb2 import Outcome

# Simulated time DTenV needs to carry out a Dublin transfer once decided.
TRANSFER_DAYS = 30

# Shares among people who must leave (simulation parameters, not statistics).
VOLUNTARY_SHARE = 0.55
FORCED_SHARE = 0.30  # the rest leave for an unknown destination (MOB)


def departure_due(departure_period_days: int) -> timedelta:
    days = departure_period_days or limits().voluntary_departure_days
    return timedelta(days=days)


def transfer_due() -> timedelta:
    return timedelta(days=TRANSFER_DAYS)


def departure_outcome(rng: random.Random) -> Outcome.ValueType:
    draw = rng.random()
    if draw < VOLUNTARY_SHARE:
        return Outcome.OUTCOME_DEPARTED_VOLUNTARY
    if draw < VOLUNTARY_SHARE + FORCED_SHARE:
        return Outcome.OUTCOME_DEPARTED_FORCED
    return Outcome.OUTCOME_ABSCONDED


def transfer_outcome(rng: random.Random) -> Outcome.ValueType:
    return Outcome.OUTCOME_TRANSFERRED if rng.random() < 0.9 else Outcome.OUTCOME_ABSCONDED

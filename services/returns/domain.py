"""Pure return rules: when the person must leave, how the departure ends, what goes to SIS/EES."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from chainkit.clock import timestamp
from chainkit.pact import limits
from migratieketen.v1.common_pb2 import EuSystem, Partner
from migratieketen.v1.europaloket_pb2 import (
    CheckOperation,
    CheckPurpose,
    CheckRequest,
    CheckStatus,
)
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


# Member states with relocation pledges in the solidarity pool (simulation parameter).
PLEDGING_STATES = ("DE", "FR", "PT", "IE", "LU", "BE")


def relocation_destination(rng: random.Random) -> str:
    return rng.choice(PLEDGING_STATES)


def relocation_outcome(rng: random.Random) -> Outcome.ValueType:
    return Outcome.OUTCOME_RELOCATED if rng.random() < 0.95 else Outcome.OUTCOME_ABSCONDED


# What DTenV records in the eu-LISA systems through the Europaloket, and where.
EU_SYSTEM_OF: dict[CheckOperation.ValueType, EuSystem.ValueType] = {
    CheckOperation.CHECK_OPERATION_CREATE_RETURN_ALERT: EuSystem.EU_SYSTEM_SIS,
    CheckOperation.CHECK_OPERATION_RECORD_DEPARTURE_PERIOD_END: EuSystem.EU_SYSTEM_SIS,
    CheckOperation.CHECK_OPERATION_RECORD_EXIT: EuSystem.EU_SYSTEM_EES,
}
# A write the gateway answered UNAVAILABLE is asked again, at most this many times.
EU_ATTEMPTS = 5


def departure_records(outcome: Outcome.ValueType) -> list[CheckOperation.ValueType]:
    """What the end of the departure period leads to: a voluntary departure is an exit
    (EES); a forced return comes after the period ended (SIS) and is an exit; someone
    who absconded stays wanted under the return alert whose period has ended."""
    ended = CheckOperation.CHECK_OPERATION_RECORD_DEPARTURE_PERIOD_END
    exit_ = CheckOperation.CHECK_OPERATION_RECORD_EXIT
    return {
        Outcome.OUTCOME_DEPARTED_VOLUNTARY: [exit_],
        Outcome.OUTCOME_DEPARTED_FORCED: [ended, exit_],
        Outcome.OUTCOME_ABSCONDED: [ended],
    }.get(outcome, [])


def eu_request(
    operation: CheckOperation.ValueType,
    v_nummer: str,
    request_id: str,
    occurred_at: datetime,
    requested_at: datetime,
) -> CheckRequest:
    return CheckRequest(
        request_id=request_id,
        v_nummer=v_nummer,
        partner=Partner.PARTNER_DTENV,
        purpose=CheckPurpose.CHECK_PURPOSE_RETURN,
        systems=[EU_SYSTEM_OF[operation]],
        operation=operation,
        occurred_at=timestamp(occurred_at),
        requested_at=timestamp(requested_at),
    )


def retry_eu_request(status: CheckStatus.ValueType, attempt: int) -> timedelta | None:
    """When to ask again after this answer: only an unavailable system is worth another
    try, after 1, 2, 4, ... simulated days; None when done or out of attempts."""
    if status != CheckStatus.CHECK_STATUS_UNAVAILABLE or attempt >= EU_ATTEMPTS:
        return None
    return timedelta(days=2 ** (attempt - 1))

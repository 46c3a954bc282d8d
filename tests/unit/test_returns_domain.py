"""Return rules (DTenV): when the person must leave, how it ends, what SIS and EES hear."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from chainkit.clock import from_timestamp
from chainkit.pact import PactLimits
from europaloket.domain import Consult, plan
from migratieketen.v1.common_pb2 import EuSystem, Partner
from migratieketen.v1.europaloket_pb2 import CheckOperation, CheckPurpose, CheckStatus
from migratieketen.v1.outcome_pb2 import Outcome
from returns.domain import (
    EU_ATTEMPTS,
    FORCED_SHARE,
    PLEDGING_STATES,
    VOLUNTARY_SHARE,
    departure_due,
    departure_outcome,
    departure_records,
    eu_request,
    relocation_destination,
    relocation_outcome,
    retry_eu_request,
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


# --- what DTenV records in SIS and EES through the Europaloket ---------------------------

AT = datetime(2026, 7, 1, 12, tzinfo=UTC)
ALERT = CheckOperation.CHECK_OPERATION_CREATE_RETURN_ALERT
PERIOD_END = CheckOperation.CHECK_OPERATION_RECORD_DEPARTURE_PERIOD_END
EXIT = CheckOperation.CHECK_OPERATION_RECORD_EXIT


@pytest.mark.parametrize(
    ("outcome", "records"),
    [
        (Outcome.OUTCOME_DEPARTED_VOLUNTARY, [EXIT]),
        (Outcome.OUTCOME_DEPARTED_FORCED, [PERIOD_END, EXIT]),
        (Outcome.OUTCOME_ABSCONDED, [PERIOD_END]),
        (Outcome.OUTCOME_TRANSFERRED, []),  # a Dublin transfer is no exit from Schengen
        (Outcome.OUTCOME_HOUSED, []),
    ],
)
def test_departure_records(outcome: Outcome.ValueType, records: list[int]) -> None:
    assert departure_records(outcome) == records


@pytest.mark.parametrize(
    ("operation", "system"),
    [
        (ALERT, EuSystem.EU_SYSTEM_SIS),
        (PERIOD_END, EuSystem.EU_SYSTEM_SIS),
        (EXIT, EuSystem.EU_SYSTEM_EES),
    ],
)
def test_eu_request_asks_the_right_system_as_dtenv(
    operation: CheckOperation.ValueType, system: EuSystem.ValueType
) -> None:
    request = eu_request(operation, "2600000009", "req-1", AT, AT + timedelta(hours=1))
    assert request.partner == Partner.PARTNER_DTENV
    assert request.purpose == CheckPurpose.CHECK_PURPOSE_RETURN
    assert list(request.systems) == [system] and request.operation == operation
    assert from_timestamp(request.occurred_at) == AT
    assert from_timestamp(request.requested_at) == AT + timedelta(hours=1)
    # The gateway's need-to-know lets DTenV record exactly this.
    assert plan(request) == [Consult(system)]


def test_an_unavailable_system_is_asked_again_with_growing_waits() -> None:
    unavailable = CheckStatus.CHECK_STATUS_UNAVAILABLE
    waits = [retry_eu_request(unavailable, attempt) for attempt in range(1, EU_ATTEMPTS + 1)]
    assert waits[:-1] == [timedelta(days=2**n) for n in range(EU_ATTEMPTS - 1)]
    assert waits[-1] is None, "at most EU_ATTEMPTS tries"


@pytest.mark.parametrize(
    "status",
    [
        CheckStatus.CHECK_STATUS_RECORDED,
        CheckStatus.CHECK_STATUS_DENIED,
        CheckStatus.CHECK_STATUS_NOT_APPLICABLE,
        CheckStatus.CHECK_STATUS_HIT,
    ],
)
def test_other_answers_are_final(status: CheckStatus.ValueType) -> None:
    assert retry_eu_request(status, 1) is None


def test_relocation_goes_to_a_pledging_member_state() -> None:
    destinations = {relocation_destination(random.Random(seed)) for seed in range(200)}
    assert destinations == set(PLEDGING_STATES)
    assert "NL" not in destinations


def test_relocation_outcome_is_deterministic_and_mostly_relocated() -> None:
    outcomes = [relocation_outcome(random.Random(seed)) for seed in range(1000)]
    assert outcomes == [relocation_outcome(random.Random(seed)) for seed in range(1000)]
    relocated = outcomes.count(Outcome.OUTCOME_RELOCATED) / len(outcomes)
    assert 0.9 < relocated < 1.0
    assert set(outcomes) == {Outcome.OUTCOME_RELOCATED, Outcome.OUTCOME_ABSCONDED}

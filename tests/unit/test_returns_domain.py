"""Return rules (DTenV): outcome plans from the 2024 shares, planted outcomes, the
return border procedure, transfers, the entry ban, detention capacity, SIS and EES."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chainkit.clock import from_timestamp
from chainkit.pact import relocates
from europaloket.domain import Consult, plan
from migratieketen.v1.common_pb2 import EuSystem, Partner
from migratieketen.v1.europaloket_pb2 import CheckOperation, CheckPurpose, CheckStatus
from migratieketen.v1.outcome_pb2 import Outcome
from returns.domain import (
    EU_ATTEMPTS,
    EXPIRED,
    PLEDGING_STATES,
    Plan,
    departure_records,
    detention_free,
    entry_ban,
    eu_request,
    period_end_records,
    plan_border,
    plan_departure,
    plan_transfer,
    planted,
    relocation_destination,
    retry_eu_request,
)
from returns.fixtures import FixtureError, PlantedCase, load_fixtures
from returns.settings import ReturnsSettings

O = Outcome  # noqa: E741
AT = datetime(2026, 7, 1, tzinfo=UTC)
ALERT = CheckOperation.CHECK_OPERATION_CREATE_RETURN_ALERT
PERIOD_END = CheckOperation.CHECK_OPERATION_RECORD_DEPARTURE_PERIOD_END
EXIT = CheckOperation.CHECK_OPERATION_RECORD_EXIT
DELETE = CheckOperation.CHECK_OPERATION_DELETE_RETURN_ALERT
CFG = ReturnsSettings()


def test_departure_shares_follow_the_2024_figures() -> None:
    plans = [plan_departure(random.Random(n), CFG, 28) for n in range(6000)]
    counts = Counter(p.outcome for p in plans)
    total = len(plans)
    forced = counts[O.OUTCOME_DEPARTED_FORCED] + counts[O.OUTCOME_NOT_REMOVABLE]
    assert abs(counts[O.OUTCOME_DEPARTED_VOLUNTARY] / total - 3240 / 11730) < 0.03
    assert abs(forced / total - 2750 / 11730) < 0.03
    assert abs(counts[O.OUTCOME_ABSCONDED] / total - 5740 / 11730) < 0.03
    assert counts[O.OUTCOME_NOT_REMOVABLE] > 0


def test_a_voluntary_departure_falls_inside_the_period_others_at_its_end() -> None:
    for n in range(500):
        p = plan_departure(random.Random(n), CFG, 28)
        if p.outcome == O.OUTCOME_DEPARTED_VOLUNTARY:
            assert 0 < p.after_days < 28
        else:
            assert p.after_days == 28
        if p.outcome == O.OUTCOME_DEPARTED_FORCED:
            assert 2 <= p.removal_days <= CFG.removal_max_days


def test_the_return_border_procedure_ends_within_12_weeks_without_absconding() -> None:
    for n in range(500):
        p = plan_border(random.Random(n), CFG, 15, 84)
        assert p.outcome != O.OUTCOME_ABSCONDED and not p.detention
        if p.outcome == O.OUTCOME_DEPARTED_VOLUNTARY:
            assert p.after_days < 15
        else:
            assert p.after_days == 15 and p.after_days + p.removal_days <= 84


def test_transfers_happen_before_their_deadline_or_expire() -> None:
    counts: Counter[int] = Counter()
    cfg = ReturnsSettings(transfer_share=0.75)
    for n in range(1000):
        p = plan_transfer(random.Random(n), cfg, 183)
        counts[p.outcome] += 1
        if p.outcome == EXPIRED:
            assert p.after_days == 183
        else:
            assert p.after_days < 183
    assert counts[O.OUTCOME_TRANSFERRED] > counts[O.OUTCOME_ABSCONDED] > counts[EXPIRED] > 0


def test_a_planted_outcome_replaces_the_draw() -> None:
    drawn = Plan(O.OUTCOME_DEPARTED_VOLUNTARY, 3.0)
    case = PlantedCase(partner_reference="T", outcome="DEPARTED_FORCED", detention=True)
    got = planted(drawn, case, CFG)
    assert (got.outcome, got.after_days, got.detention) == (O.OUTCOME_DEPARTED_FORCED, 3.0, True)
    assert got.removal_days > 0
    expired = planted(drawn, PlantedCase(v_nummer="2600000001", outcome="TRANSFER_EXPIRED"), CFG)
    assert expired.outcome == EXPIRED
    assert planted(drawn, None, CFG) == drawn


def test_planted_fixtures_are_read_and_bad_ones_named(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('[[case]]\npartner_reference = "T-1"\noutcome = "ABSCONDED"\nafter_days = 2\n')
    case = load_fixtures(path).find("2600000001", "T-1")
    assert case is not None and case.outcome == "ABSCONDED" and case.after_days == 2
    path.write_text('[[case]]\npartner_reference = "T-1"\noutcome = "VANISHED"\n')
    with pytest.raises(FixtureError, match=r"case\.0\.outcome"):
        load_fixtures(path)
    path.write_text('[[case]]\noutcome = "ABSCONDED"\n')
    with pytest.raises(FixtureError, match="partner_reference or v_nummer"):
        load_fixtures(path)


@pytest.mark.parametrize(
    ("outcome", "period", "ban"),
    [
        (O.OUTCOME_DEPARTED_VOLUNTARY, 28, False),
        (O.OUTCOME_DEPARTED_VOLUNTARY, 0, True),  # no departure period granted
        (O.OUTCOME_DEPARTED_FORCED, 28, True),  # obligation not complied with
        (O.OUTCOME_ABSCONDED, 28, True),
        (O.OUTCOME_NOT_REMOVABLE, 28, False),
    ],
)
def test_entry_ban(outcome: Outcome.ValueType, period: int, ban: bool) -> None:
    assert entry_ban(outcome, period) is ban


def test_detention_is_never_above_capacity() -> None:
    assert [detention_free(n, 2) for n in (0, 1, 2, 3)] == [True, True, False, False]
    assert not detention_free(0, 0)


@pytest.mark.parametrize(
    ("outcome", "at_period_end", "at_departure"),
    [
        (O.OUTCOME_DEPARTED_VOLUNTARY, [], [EXIT, DELETE]),
        (O.OUTCOME_DEPARTED_FORCED, [PERIOD_END], [EXIT, DELETE]),
        (O.OUTCOME_ABSCONDED, [PERIOD_END], []),
        (O.OUTCOME_NOT_REMOVABLE, [PERIOD_END], []),
        (O.OUTCOME_TRANSFERRED, [PERIOD_END], []),
    ],
)
def test_what_sis_and_ees_are_told(
    outcome: Outcome.ValueType, at_period_end: list[int], at_departure: list[int]
) -> None:
    assert period_end_records(outcome) == at_period_end
    assert departure_records(outcome) == at_departure


@pytest.mark.parametrize(
    ("operation", "system"),
    [
        (ALERT, EuSystem.EU_SYSTEM_SIS),
        (PERIOD_END, EuSystem.EU_SYSTEM_SIS),
        (DELETE, EuSystem.EU_SYSTEM_SIS),
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
    ],
)
def test_other_answers_are_final(status: CheckStatus.ValueType) -> None:
    assert retry_eu_request(status, 1) is None


def test_relocation_only_out_of_a_benefiting_netherlands() -> None:
    assert not relocates("contributing") and relocates("benefiting")
    destinations = {relocation_destination(random.Random(seed)) for seed in range(200)}
    assert destinations == set(PLEDGING_STATES)

"""Asylum rules (Regulations 2024/1348 and 2024/1351): procedure, time limit, decision."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from asylum.domain import HANDLING_DAYS, decide, decision_limit, handling_time, procedure
from chainkit.pact import is_granted
from migratieketen.v1.asylum_pb2 import AsylumProcedure, DecisionOutcome
from migratieketen.v1.common_pb2 import ArrivalSetting
from migratieketen.v1.screening_pb2 import (
    Referral,
    ReferralIndicators,
    ScreeningCompleted,
    ScreeningForm,
)

P = AsylumProcedure
D = DecisionOutcome
BORDER = ArrivalSetting.ARRIVAL_SETTING_EXTERNAL_BORDER
INLAND = ArrivalSetting.ARRIVAL_SETTING_INLAND
LOW = ["MAR"]  # EU-wide recognition rate 5 %: at or below the 20 % threshold
HIGH = ["SYR"]  # 90 %
UNKNOWN = ["XYZ"]  # default rate 40 %


def screened(
    setting: ArrivalSetting.ValueType = BORDER,
    nationalities: list[str] | None = None,
    *,
    eurodac_state: str = "",
    security: bool = False,
    misleading: bool = False,
    uam: bool = False,
    family: bool = False,
    age: int = 30,
) -> ScreeningCompleted:
    return ScreeningCompleted(
        v_nummer="2600000001",
        setting=setting,
        form=ScreeningForm(nationalities=HIGH if nationalities is None else nationalities),
        referral=Referral.REFERRAL_ASYLUM,
        indicators=ReferralIndicators(
            eurodac_hit=bool(eurodac_state),
            eurodac_member_state=eurodac_state,
            security_flag=security,
            misleading_identity=misleading,
            unaccompanied_minor=uam,
            family_with_children=family,
        ),
        claimed_age=age,
    )


@pytest.mark.parametrize("setting", [BORDER, INLAND])
@pytest.mark.parametrize("nationalities", [HIGH, LOW, UNKNOWN])
def test_dublin_on_eurodac_hit(setting: ArrivalSetting.ValueType, nationalities: list[str]) -> None:
    case = screened(setting, nationalities, eurodac_state="IT")
    assert procedure(case) == P.ASYLUM_PROCEDURE_DUBLIN


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        # Security ground: mandatory border procedure, also for unaccompanied minors.
        (screened(BORDER, HIGH, security=True), P.ASYLUM_PROCEDURE_BORDER),
        (screened(BORDER, HIGH, security=True, uam=True, age=16), P.ASYLUM_PROCEDURE_BORDER),
        (screened(BORDER, LOW, security=True, uam=True, age=16), P.ASYLUM_PROCEDURE_BORDER),
        # Deceit: border procedure for adults.
        (screened(BORDER, HIGH, misleading=True), P.ASYLUM_PROCEDURE_BORDER),
        # Recognition rate at or below 20 % at the border.
        (screened(BORDER, LOW), P.ASYLUM_PROCEDURE_BORDER),
        (screened(BORDER, ["DZA"]), P.ASYLUM_PROCEDURE_BORDER),
        (screened(BORDER, ["NGA"]), P.ASYLUM_PROCEDURE_BORDER),
        # Families with children are included.
        (screened(BORDER, LOW, family=True, age=9), P.ASYLUM_PROCEDURE_BORDER),
        # Inland: no border procedure; a low rate means the accelerated procedure.
        (screened(INLAND, LOW), P.ASYLUM_PROCEDURE_ACCELERATED),
        (screened(INLAND, ["TUN"]), P.ASYLUM_PROCEDURE_ACCELERATED),
        # Otherwise the regular procedure.
        (screened(BORDER, HIGH), P.ASYLUM_PROCEDURE_REGULAR),
        (screened(BORDER, UNKNOWN), P.ASYLUM_PROCEDURE_REGULAR),
        (screened(BORDER, []), P.ASYLUM_PROCEDURE_REGULAR),  # stateless: default rate
        (screened(BORDER, ["TUR"]), P.ASYLUM_PROCEDURE_REGULAR),  # 25 %: above threshold
        (screened(INLAND, HIGH), P.ASYLUM_PROCEDURE_REGULAR),
        (screened(INLAND, UNKNOWN), P.ASYLUM_PROCEDURE_REGULAR),
        # The most protective nationality counts.
        (screened(BORDER, ["MAR", "SYR"]), P.ASYLUM_PROCEDURE_REGULAR),
        (screened(INLAND, ["GEO", "ERI"]), P.ASYLUM_PROCEDURE_REGULAR),
    ],
)
def test_procedure(case: ScreeningCompleted, expected: int) -> None:
    assert procedure(case) == expected


@pytest.mark.parametrize(
    "case",
    [
        screened(BORDER, LOW, uam=True, age=16),
        screened(BORDER, HIGH, misleading=True, uam=True, age=16),
        screened(BORDER, LOW, misleading=True, uam=True, age=12),
    ],
)
def test_no_border_procedure_for_unaccompanied_minors_except_on_security(
    case: ScreeningCompleted,
) -> None:
    assert procedure(case) != P.ASYLUM_PROCEDURE_BORDER


@pytest.mark.parametrize(
    ("proc", "days"),
    [
        (P.ASYLUM_PROCEDURE_DUBLIN, 14),  # transfer decision within 2 weeks
        (P.ASYLUM_PROCEDURE_BORDER, 84),  # 12 weeks
        (P.ASYLUM_PROCEDURE_ACCELERATED, 92),  # 3 months
        (P.ASYLUM_PROCEDURE_REGULAR, 183),  # 6 months
    ],
)
def test_decision_limit(proc: AsylumProcedure.ValueType, days: int) -> None:
    assert decision_limit(proc) == timedelta(days=days)


@pytest.mark.parametrize("proc", list(HANDLING_DAYS))
def test_simulated_handling_is_within_the_decision_limit(proc: AsylumProcedure.ValueType) -> None:
    assert timedelta(0) < handling_time(proc) <= decision_limit(proc)


@pytest.mark.parametrize(
    "proc",
    [P.ASYLUM_PROCEDURE_BORDER, P.ASYLUM_PROCEDURE_ACCELERATED, P.ASYLUM_PROCEDURE_REGULAR],
)
@pytest.mark.parametrize("nationalities", [HIGH, LOW, UNKNOWN, ["IRQ", "TUR"]])
def test_decide_is_deterministic_for_a_seeded_rng(
    proc: AsylumProcedure.ValueType, nationalities: list[str]
) -> None:
    for seed in range(200):
        first = decide(proc, nationalities, random.Random(f"seed|{seed}"))
        again = decide(proc, nationalities, random.Random(f"seed|{seed}"))
        assert first == again


def test_dublin_cases_are_transferred_without_return_decision() -> None:
    for seed in range(50):
        decision = decide(P.ASYLUM_PROCEDURE_DUBLIN, LOW, random.Random(seed))
        assert decision.outcome == D.DECISION_OUTCOME_DUBLIN_TRANSFER
        assert decision.return_decision is False
        assert decision.departure_period_days == 0


@pytest.mark.parametrize(
    ("proc", "rejected_as"),
    [
        (P.ASYLUM_PROCEDURE_REGULAR, D.DECISION_OUTCOME_REJECTED_UNFOUNDED),
        (P.ASYLUM_PROCEDURE_ACCELERATED, D.DECISION_OUTCOME_REJECTED_MANIFESTLY_UNFOUNDED),
    ],
)
def test_rejection_carries_a_return_decision_with_28_days(
    proc: AsylumProcedure.ValueType, rejected_as: int
) -> None:
    rejections = 0
    for seed in range(2_000):
        decision = decide(proc, UNKNOWN, random.Random(seed))
        if is_granted(decision.outcome):
            assert decision.return_decision is False
            assert decision.departure_period_days == 0
        else:
            rejections += 1
            assert decision.outcome == rejected_as
            assert decision.return_decision is True
            assert decision.departure_period_days == 28
    assert rejections > 0


def test_border_rejection_carries_a_return_decision() -> None:
    for seed in range(500):
        decision = decide(P.ASYLUM_PROCEDURE_BORDER, LOW, random.Random(seed))
        if not is_granted(decision.outcome):
            assert decision.outcome == D.DECISION_OUTCOME_REJECTED_MANIFESTLY_UNFOUNDED
            assert decision.return_decision is True
            assert decision.departure_period_days == 15  # return border procedure


@pytest.mark.parametrize(("nationalities", "rate"), [(HIGH, 0.90), (UNKNOWN, 0.40), (LOW, 0.05)])
def test_grant_share_follows_the_recognition_rate(nationalities: list[str], rate: float) -> None:
    n = 4_000
    granted = sum(
        is_granted(decide(P.ASYLUM_PROCEDURE_REGULAR, nationalities, random.Random(s)).outcome)
        for s in range(n)
    )
    assert abs(granted / n - rate) < 0.05


def test_grants_use_both_statuses() -> None:
    outcomes = {
        decide(P.ASYLUM_PROCEDURE_REGULAR, HIGH, random.Random(seed)).outcome for seed in range(500)
    }
    assert {D.DECISION_OUTCOME_GRANTED_REFUGEE, D.DECISION_OUTCOME_GRANTED_SUBSIDIARY} <= outcomes

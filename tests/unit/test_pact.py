"""Pact limits: defaults from the domain reference, env overrides, nationality codes."""

from __future__ import annotations

import pytest

from chainkit.pact import PactLimits, is_granted, is_nationality
from migratieketen.v1.asylum_pb2 import DecisionOutcome

D = DecisionOutcome


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No MK_PACT_* override from the environment the tests run in."""
    for name in PactLimits.model_fields:
        monkeypatch.delenv(f"MK_PACT_{name.upper()}", raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("screening_border_days", 7),
        ("screening_border_held_days", 4),
        ("screening_inland_days", 3),
        ("held_hours_threshold", 72),
        ("eurodac_min_age", 6),
        ("recognition_rate_threshold", 0.20),
        ("crisis_min_recognition_rate_threshold", 0.05),
        ("departure_period_days", 28),
        ("voluntary_departure_days", 15),
    ],
)
def test_defaults_follow_the_domain_reference(
    clean_env: pytest.MonkeyPatch, name: str, value: float
) -> None:
    assert getattr(PactLimits(), name) == pytest.approx(value)


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [
        ("dublin_transfer_days", 181, 184),  # 6 months
    ],
)
def test_month_limits_are_calendar_months(
    clean_env: pytest.MonkeyPatch, name: str, low: float, high: float
) -> None:
    assert low <= getattr(PactLimits(), name) <= high


def test_env_override_screening_inland_days(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MK_PACT_SCREENING_INLAND_DAYS", "5")
    assert PactLimits().screening_inland_days == 5


def test_env_override_is_read_at_construction(clean_env: pytest.MonkeyPatch) -> None:
    assert PactLimits().screening_inland_days == 3
    clean_env.setenv("MK_PACT_SCREENING_INLAND_DAYS", "2.5")
    assert PactLimits().screening_inland_days == 2.5


def test_env_override_recognition_rate_threshold(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MK_PACT_RECOGNITION_RATE_THRESHOLD", "0.05")
    assert PactLimits().recognition_rate_threshold == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("outcome", "granted"),
    [
        (D.DECISION_OUTCOME_GRANTED_REFUGEE, True),
        (D.DECISION_OUTCOME_GRANTED_SUBSIDIARY, True),
        (D.DECISION_OUTCOME_REJECTED_UNFOUNDED, False),
        (D.DECISION_OUTCOME_REJECTED_MANIFESTLY_UNFOUNDED, False),
        (D.DECISION_OUTCOME_INADMISSIBLE, False),
        (D.DECISION_OUTCOME_DUBLIN_TRANSFER, False),
        (D.DECISION_OUTCOME_UNSPECIFIED, False),
    ],
)
def test_is_granted_two_status_system(outcome: DecisionOutcome.ValueType, granted: bool) -> None:
    assert is_granted(outcome) is granted


@pytest.mark.parametrize(
    ("code", "known"),
    [
        ("SYR", True),
        ("MAR", True),
        ("NLD", True),
        ("XYZ", False),
        ("syr", False),
        ("SY", False),
        ("", False),
    ],
)
def test_nationality_is_an_iso_3166_alpha_3_code(code: str, known: bool) -> None:
    assert is_nationality(code) is known

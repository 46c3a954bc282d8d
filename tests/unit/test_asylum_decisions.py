"""Decision limits, merits, the IND's daily capacity and the Awb 4:17 penalty."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from asylum import law
from asylum.decisions import (
    decision_due,
    lodging_due,
    merits,
    next_free_day,
    penalty,
    registration_due,
    with_return,
)
from asylum.routing import Crisis, Regime, Route
from chainkit.pact import is_granted
from migratieketen.v1.asylum_pb2 import DecisionOutcome

D = DecisionOutcome
MADE = datetime(2026, 8, 31, 8, tzinfo=UTC)
REG = datetime(2026, 9, 1, 8, tzinfo=UTC)
LODGED = datetime(2026, 9, 10, 8, tzinfo=UTC)
P = Regime.PACT


def end(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=UTC) + timedelta(days=1)


CRISIS = Crisis(
    "c", MADE - timedelta(days=1), None, law.REGISTRATION_CRISIS, law.BORDER_CRISIS_EXTRA, 0.2
)


def test_registration_within_5_days_or_4_weeks_in_a_crisis() -> None:
    assert registration_due(MADE, None) == end(2026, 9, 5)
    assert registration_due(MADE, CRISIS) == end(2026, 9, 28)


def test_lodging_within_21_days_of_registration() -> None:
    assert lodging_due(REG) == end(2026, 9, 22)


@pytest.mark.parametrize(
    ("route", "inadmissible", "expected"),
    [
        (Route.ACCELERATED, False, end(2026, 12, 10)),  # 3 months from lodging
        (Route.REGULAR, False, end(2027, 3, 10)),  # 6 months from lodging
        (Route.ACCELERATED, True, end(2026, 11, 10)),  # 2 months: inadmissibility
        (Route.BORDER, False, end(2026, 11, 24)),  # 12 weeks from registration
    ],
)
def test_decision_limits(route: Route, inadmissible: bool, expected: datetime) -> None:
    assert decision_due(route, P, REG, LODGED, inadmissibility=inadmissible) == expected


def test_border_procedure_plus_six_weeks_in_a_crisis() -> None:
    due = decision_due(Route.BORDER, P, REG, LODGED, crisis=CRISIS, made_at=MADE)
    assert due == end(2027, 1, 5)  # 18 weeks


def test_old_regime_limits_and_extension() -> None:
    old = Regime.NATIONAL_PRE_PACT
    assert decision_due(Route.BORDER, old, REG, LODGED) == end(2026, 11, 3)  # 9 weeks
    assert decision_due(Route.REGULAR, old, REG, LODGED) == end(2027, 3, 10)
    assert decision_due(Route.REGULAR, old, REG, LODGED, extension=9) == end(2027, 12, 10)


@pytest.mark.parametrize(
    ("days", "eur"),
    [(0, 0), (-3, 0), (1, 23), (14, 322), (15, 357), (28, 812), (29, 857), (42, 1442), (400, 1442)],
)
def test_awb_penalty(days: int, eur: int) -> None:
    assert penalty(days, (23, 35, 45), 14, 1442) == eur


def test_next_free_day_forms_a_backlog() -> None:
    used = {10: 2, 11: 2, 12: 1}
    assert next_free_day(10, used, 2) == 12
    assert next_free_day(9, used, 2) == 9
    with pytest.raises(ValueError, match="at least one"):
        next_free_day(0, {}, 0)


def test_merits_follow_the_rate_and_are_seeded() -> None:
    outcomes = [merits(Route.REGULAR, 0.9, False, random.Random(i)) for i in range(1000)]
    granted = sum(is_granted(o) for o in outcomes) / len(outcomes)
    assert 0.86 < granted < 0.94
    assert D.DECISION_OUTCOME_GRANTED_SUBSIDIARY in outcomes
    assert set(outcomes) - {
        D.DECISION_OUTCOME_GRANTED_REFUGEE,
        D.DECISION_OUTCOME_GRANTED_SUBSIDIARY,
    } == {D.DECISION_OUTCOME_REJECTED_UNFOUNDED}
    border = {merits(Route.BORDER, 0.0, False, random.Random(i)) for i in range(50)}
    assert border == {D.DECISION_OUTCOME_REJECTED_MANIFESTLY_UNFOUNDED}
    again = {merits(Route.ACCELERATED, 0.0, True, random.Random(i)) for i in range(50)}
    assert again == {D.DECISION_OUTCOME_INADMISSIBLE}


def test_a_rejection_carries_the_return_decision() -> None:
    rejected = with_return(D.DECISION_OUTCOME_REJECTED_MANIFESTLY_UNFOUNDED, Route.BORDER)
    assert rejected.return_decision and rejected.departure_period_days == 15
    assert (
        with_return(D.DECISION_OUTCOME_REJECTED_UNFOUNDED, Route.REGULAR).departure_period_days
        == 28
    )
    granted = with_return(D.DECISION_OUTCOME_GRANTED_REFUGEE, Route.REGULAR)
    assert not granted.return_decision and granted.departure_period_days == 0

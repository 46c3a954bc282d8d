"""Routing (APR Art. 42, 45, 48, 53; AMMR Art. 16(4)): each ground, the exemptions,
capacity with priorities, two regimes and a crisis."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from asylum import law
from asylum.routing import (
    Applicant,
    Crisis,
    Ground,
    Regime,
    Route,
    admit,
    check_crisis_threshold,
    priority,
    regime,
    route,
)

PACT_FROM = datetime(2026, 6, 12, tzinfo=UTC)
AFTER = datetime(2026, 9, 1, tzinfo=UTC)
BEFORE = datetime(2026, 5, 1, tzinfo=UTC)
P = Regime.PACT
OLD = Regime.NATIONAL_PRE_PACT

ADULT_HIGH = Applicant(at_border=True, made_at=AFTER, recognition_rate=0.90)
LOW = replace(ADULT_HIGH, recognition_rate=0.05)


def routed(a: Applicant, applied: Regime = P, place: bool = True, crisis: Crisis | None = None):  # type: ignore[no-untyped-def]
    return route(a, applied, crisis, place)


@pytest.mark.parametrize(
    ("case", "ground"),
    [
        (replace(ADULT_HIGH, misleading=True), Ground.MISLEADING),
        (replace(ADULT_HIGH, security=True), Ground.SECURITY),
        (LOW, Ground.LOW_RECOGNITION_RATE),
        (replace(ADULT_HIGH, recognition_rate=0.20), Ground.LOW_RECOGNITION_RATE),  # at
    ],
)
def test_each_ground_leads_to_the_border_procedure(case: Applicant, ground: Ground) -> None:
    r = routed(case)
    assert r.route == Route.BORDER
    assert r.grounds == (ground,)
    assert ground.value in r.reason and "Art. 45(1)" in r.reason


@pytest.mark.parametrize(
    "case",
    [
        replace(ADULT_HIGH, misleading=True, at_border=False),
        replace(ADULT_HIGH, security=True, at_border=False),
        replace(LOW, at_border=False),
    ],
)
def test_inland_the_same_grounds_lead_to_the_accelerated_procedure(case: Applicant) -> None:
    r = routed(case)
    assert r.route == Route.ACCELERATED
    assert "Art. 42(1)" in r.reason


def test_no_ground_is_the_regular_procedure() -> None:
    assert routed(ADULT_HIGH).route == Route.REGULAR
    assert routed(replace(ADULT_HIGH, recognition_rate=0.21)).route == Route.REGULAR


def test_families_with_children_are_included() -> None:
    family = replace(LOW, family_with_children=True, minor=True)
    r = routed(family)
    assert r.route == Route.BORDER and r.priority == 1


@pytest.mark.parametrize("at_border", [True, False])
def test_unaccompanied_minors_are_exempt_from_the_low_rate_and_deceit_grounds(
    at_border: bool,
) -> None:
    child = replace(LOW, misleading=True, at_border=at_border, minor=True, unaccompanied_minor=True)
    r = routed(child)
    assert r.route == Route.REGULAR
    assert "unaccompanied minor" in r.notes[0] and "Art. 42(3)" in r.notes[0]


def test_unaccompanied_minors_on_the_security_ground() -> None:
    assert (
        routed(replace(LOW, security=True, minor=True, unaccompanied_minor=True)).route
        == Route.BORDER
    )
    inland = replace(LOW, security=True, at_border=False, minor=True, unaccompanied_minor=True)
    assert routed(inland).route == Route.ACCELERATED


@pytest.mark.parametrize(
    ("case", "why"),
    [
        (replace(LOW, medical=True), "medical grounds"),
        (replace(LOW, special_needs=("possible_torture",)), "possible_torture"),
        (replace(LOW, security=True, special_needs=("serious_illness",)), "serious_illness"),
    ],
)
def test_special_needs_keep_the_case_out_of_the_border_procedure(case: Applicant, why: str) -> None:
    r = routed(case)
    assert r.route == Route.ACCELERATED
    assert "border procedure not applied" in r.reason and why in r.reason


def test_pregnancy_alone_does_not_stop_the_border_procedure() -> None:
    assert routed(replace(LOW, special_needs=("pregnancy",))).route == Route.BORDER


def test_when_full_the_recognition_rate_ground_is_suspended() -> None:
    r = routed(LOW, place=False)
    assert r.route == Route.ACCELERATED
    assert r.capacity_suspended and "Art. 48" in r.reason


def test_when_full_a_danger_goes_inland_without_suspension() -> None:
    r = routed(replace(ADULT_HIGH, security=True), place=False)
    assert r.route == Route.ACCELERATED and not r.capacity_suspended
    assert "capacity reached" in r.reason


@pytest.mark.parametrize(
    ("case", "rank"),
    [
        (replace(LOW, minor=True), 1),
        (replace(ADULT_HIGH, family_with_children=True, misleading=True), 1),
        (LOW, 2),
        (replace(ADULT_HIGH, security=True), 2),
        (replace(ADULT_HIGH, misleading=True), 3),
    ],
)
def test_priorities(case: Applicant, rank: int) -> None:
    from asylum.routing import grounds

    assert priority(case, grounds(case, 0.20)) == rank


@pytest.mark.parametrize(
    ("rank", "in_use", "admitted"),
    [
        (3, 180, True),
        (3, 181, False),  # 211 - 10 - 20
        (2, 200, True),
        (2, 201, False),  # 211 - 10
        (1, 210, True),
        (1, 211, False),  # full
    ],
)
def test_admission_keeps_the_last_places_for_priority(
    rank: int, in_use: int, admitted: bool
) -> None:
    assert admit(rank, in_use, 211, 10, 20) is admitted


def test_the_application_date_decides_the_regime() -> None:
    assert regime(AFTER, PACT_FROM) == Regime.PACT
    assert regime(PACT_FROM, PACT_FROM) == Regime.PACT
    assert regime(BEFORE, PACT_FROM) == Regime.NATIONAL_PRE_PACT


def test_old_regime_has_no_accelerated_procedure() -> None:
    old = replace(LOW, made_at=BEFORE, at_border=False)
    r = routed(old, OLD)
    assert r.route == Route.REGULAR and "old national regime" in r.reason
    at_border = routed(replace(LOW, made_at=BEFORE), OLD)
    assert at_border.route == Route.BORDER and "old regime, 9 weeks" in at_border.reason


def crisis(threshold: float, start: datetime = AFTER) -> Crisis:
    return Crisis("c1", start, None, law.REGISTRATION_CRISIS, law.BORDER_CRISIS_EXTRA, threshold)


def test_a_crisis_lowers_the_threshold_for_applications_made_in_it() -> None:
    rate_12 = replace(ADULT_HIGH, recognition_rate=0.12)
    assert routed(rate_12).route == Route.BORDER
    assert routed(rate_12, crisis=crisis(0.10)).route == Route.REGULAR
    earlier = replace(rate_12, made_at=datetime(2026, 8, 1, tzinfo=UTC))
    assert routed(earlier, crisis=crisis(0.10)).route == Route.BORDER


@pytest.mark.parametrize("threshold", [0.049, -1, 1.5])
def test_a_crisis_threshold_below_five_percent_is_refused(threshold: float) -> None:
    with pytest.raises(ValueError, match="between 5%"):
        check_crisis_threshold(threshold)
    check_crisis_threshold(0.05)


def test_a_subsequent_application_is_examined_for_admissibility() -> None:
    r = routed(replace(ADULT_HIGH, subsequent=True))
    assert r.inadmissibility and r.route == Route.ACCELERATED

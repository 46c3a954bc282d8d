"""Reception rules (COA): location type, reporting duty, why reception ends."""

from __future__ import annotations

import pytest

from migratieketen.v1.asylum_pb2 import AsylumApplicationRegistered, AsylumProcedure
from migratieketen.v1.outcome_pb2 import Outcome
from migratieketen.v1.reception_pb2 import LocationType, ReceptionEndReason
from reception.domain import (
    HOUSING_WAIT,
    LOCATIONS,
    end_reason,
    location_type,
    reporting_interval_days,
)

P = AsylumProcedure
L = LocationType
R = ReceptionEndReason
PROCEDURES = [
    P.ASYLUM_PROCEDURE_BORDER,
    P.ASYLUM_PROCEDURE_ACCELERATED,
    P.ASYLUM_PROCEDURE_REGULAR,
    P.ASYLUM_PROCEDURE_DUBLIN,
]


def registered(
    proc: AsylumProcedure.ValueType,
    minor: bool = False,
    family: bool = False,
    unaccompanied: bool | None = None,
) -> AsylumApplicationRegistered:
    """A registration; a minor outside a family is unaccompanied unless said otherwise."""
    return AsylumApplicationRegistered(
        v_nummer="2600000001",
        application_id="app-1",
        procedure=proc,
        minor=minor,
        family_with_children=family,
        unaccompanied_minor=(minor and not family) if unaccompanied is None else unaccompanied,
    )


@pytest.mark.parametrize(
    ("proc", "minor", "family", "expected"),
    [
        # Unaccompanied minors go to a UAM location (with Nidos), whatever the procedure.
        (P.ASYLUM_PROCEDURE_REGULAR, True, False, L.LOCATION_TYPE_UAM_LOCATION),
        (P.ASYLUM_PROCEDURE_BORDER, True, False, L.LOCATION_TYPE_UAM_LOCATION),
        (P.ASYLUM_PROCEDURE_DUBLIN, True, False, L.LOCATION_TYPE_UAM_LOCATION),
        # Families in the border procedure: the closed family facility (Zeist).
        (P.ASYLUM_PROCEDURE_BORDER, True, True, L.LOCATION_TYPE_CLOSED_FAMILY_FACILITY),
        (P.ASYLUM_PROCEDURE_BORDER, False, True, L.LOCATION_TYPE_CLOSED_FAMILY_FACILITY),
        # Other border cases: process reception.
        (P.ASYLUM_PROCEDURE_BORDER, False, False, L.LOCATION_TYPE_PROCESS_RECEPTION),
        # Fast-tracked cases (Dublin, low recognition rate).
        (P.ASYLUM_PROCEDURE_DUBLIN, False, False, L.LOCATION_TYPE_FAST_TRACK),
        (P.ASYLUM_PROCEDURE_ACCELERATED, False, False, L.LOCATION_TYPE_FAST_TRACK),
        # Everyone else: a regular centre (azc).
        (P.ASYLUM_PROCEDURE_REGULAR, False, False, L.LOCATION_TYPE_REGULAR_CENTRE),
        (P.ASYLUM_PROCEDURE_REGULAR, True, True, L.LOCATION_TYPE_REGULAR_CENTRE),
    ],
)
def test_location_type(
    proc: AsylumProcedure.ValueType, minor: bool, family: bool, expected: LocationType.ValueType
) -> None:
    assert location_type(registered(proc, minor, family)) == expected


def test_an_accompanied_minor_is_not_placed_in_a_uam_location() -> None:
    child = registered(P.ASYLUM_PROCEDURE_REGULAR, minor=True, unaccompanied=False)
    assert location_type(child) == L.LOCATION_TYPE_REGULAR_CENTRE


@pytest.mark.parametrize("proc", PROCEDURES)
@pytest.mark.parametrize(("minor", "family"), [(False, False), (True, False), (True, True)])
def test_every_location_type_has_a_named_location(
    proc: AsylumProcedure.ValueType, minor: bool, family: bool
) -> None:
    kind = location_type(registered(proc, minor, family))
    assert LOCATIONS[kind]


@pytest.mark.parametrize(
    ("location", "family", "days"),
    [
        (L.LOCATION_TYPE_REGULAR_CENTRE, False, 7),
        (L.LOCATION_TYPE_PROCESS_RECEPTION, False, 7),
        (L.LOCATION_TYPE_FAST_TRACK, False, 7),
        (L.LOCATION_TYPE_UAM_LOCATION, False, 7),
        (L.LOCATION_TYPE_CLOSED_FAMILY_FACILITY, False, 1),
        (L.LOCATION_TYPE_CLOSED_FAMILY_FACILITY, True, 1),
        (L.LOCATION_TYPE_REGULAR_CENTRE, True, 1),
        (L.LOCATION_TYPE_FAST_TRACK, True, 1),
    ],
)
def test_reporting_interval_weekly_daily_for_families(
    location: LocationType.ValueType, family: bool, days: int
) -> None:
    assert reporting_interval_days(location, family) == days


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        (Outcome.OUTCOME_HOUSED, R.RECEPTION_END_REASON_HOUSED_IN_MUNICIPALITY),
        (Outcome.OUTCOME_DEPARTED_VOLUNTARY, R.RECEPTION_END_REASON_DEPARTED),
        (Outcome.OUTCOME_DEPARTED_FORCED, R.RECEPTION_END_REASON_DEPARTED),
        (Outcome.OUTCOME_TRANSFERRED, R.RECEPTION_END_REASON_TRANSFERRED),
        (Outcome.OUTCOME_ABSCONDED, R.RECEPTION_END_REASON_ABSCONDED),
        (Outcome.OUTCOME_UNSPECIFIED, R.RECEPTION_END_REASON_UNSPECIFIED),
    ],
)
def test_end_reason(outcome: Outcome.ValueType, reason: ReceptionEndReason.ValueType) -> None:
    assert end_reason(outcome) == reason


@pytest.mark.parametrize(
    "outcome", [v for v in Outcome.values() if v != Outcome.OUTCOME_UNSPECIFIED]
)
def test_every_final_outcome_has_an_end_reason(outcome: Outcome.ValueType) -> None:
    assert end_reason(outcome) != R.RECEPTION_END_REASON_UNSPECIFIED


def test_housing_wait_is_positive() -> None:
    assert HOUSING_WAIT.total_seconds() > 0

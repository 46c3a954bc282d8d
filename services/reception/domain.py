"""Pure reception rules: which location type, how often to report, when housing comes."""

from __future__ import annotations

from datetime import timedelta

from migratieketen.v1.asylum_pb2 import AsylumApplicationRegistered, AsylumProcedure
from migratieketen.v1.outcome_pb2 import Outcome
from migratieketen.v1.reception_pb2 import LocationType, ReceptionEndReason

L = LocationType
P = AsylumProcedure

# Simulated wait of a permit holder for a municipality's home.
HOUSING_WAIT = timedelta(days=30)

LOCATIONS: dict[int, str] = {
    L.LOCATION_TYPE_UAM_LOCATION: "amv-locatie Utrecht",
    L.LOCATION_TYPE_CLOSED_FAMILY_FACILITY: "gesloten gezinsvoorziening Zeist",
    L.LOCATION_TYPE_PROCESS_RECEPTION: "procesopvang Budel",
    L.LOCATION_TYPE_FAST_TRACK: "vbl Ter Apel",
    L.LOCATION_TYPE_REGULAR_CENTRE: "azc Gilze",
}


def location_type(registered: AsylumApplicationRegistered) -> LocationType.ValueType:
    if registered.unaccompanied_minor:
        return L.LOCATION_TYPE_UAM_LOCATION
    if registered.procedure == P.ASYLUM_PROCEDURE_BORDER:
        if registered.family_with_children:
            return L.LOCATION_TYPE_CLOSED_FAMILY_FACILITY
        return L.LOCATION_TYPE_PROCESS_RECEPTION
    if registered.procedure in (P.ASYLUM_PROCEDURE_DUBLIN, P.ASYLUM_PROCEDURE_ACCELERATED):
        return L.LOCATION_TYPE_FAST_TRACK
    return L.LOCATION_TYPE_REGULAR_CENTRE


def reporting_interval_days(location: LocationType.ValueType, family: bool) -> int:
    """Weekly reporting duty (meldplicht); daily in family locations."""
    if family or location == L.LOCATION_TYPE_CLOSED_FAMILY_FACILITY:
        return 1
    return 7


def end_reason(outcome: Outcome.ValueType) -> ReceptionEndReason.ValueType:
    return {
        Outcome.OUTCOME_HOUSED: ReceptionEndReason.RECEPTION_END_REASON_HOUSED_IN_MUNICIPALITY,
        Outcome.OUTCOME_DEPARTED_VOLUNTARY: ReceptionEndReason.RECEPTION_END_REASON_DEPARTED,
        Outcome.OUTCOME_DEPARTED_FORCED: ReceptionEndReason.RECEPTION_END_REASON_DEPARTED,
        Outcome.OUTCOME_TRANSFERRED: ReceptionEndReason.RECEPTION_END_REASON_TRANSFERRED,
        Outcome.OUTCOME_ABSCONDED: ReceptionEndReason.RECEPTION_END_REASON_ABSCONDED,
        Outcome.OUTCOME_RELOCATED: ReceptionEndReason.RECEPTION_END_REASON_RELOCATED,
    }.get(outcome, ReceptionEndReason.RECEPTION_END_REASON_UNSPECIFIED)

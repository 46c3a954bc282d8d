"""BVV rules: the arrival report check, the biometric key and the V-nummer."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bvv.domain import V_NUMMER_BASE, biometric_key, check_arrival, v_nummer_for
from chainkit.codec import PoisonMessage, validate_v_nummer
from migratieketen.v1.arrival_pb2 import ArrivalReport
from migratieketen.v1.common_pb2 import (
    ArrivalReason,
    ArrivalSetting,
    BiometricReference,
    CalendarDate,
    ClaimedIdentity,
    Gender,
    Partner,
    PilSourceLevel,
)

# Personal data that must never appear in a refusal reason.
FAMILY_NAME = "Verborgen-Achternaam"
GIVEN_NAMES = "Geheime Voornaam"
TEMPLATE_HASH = "a3f9c0ffee0123456789abcdef0123456789abcdef0123456789abcdef012345"
REFERENCE = "KMAR-SPL-2026-000417"


def valid_report(age: int = 30, template_hash: str = TEMPLATE_HASH) -> ArrivalReport:
    return ArrivalReport(
        partner_reference=REFERENCE,
        reporting_partner=Partner.PARTNER_KMAR,
        setting=ArrivalSetting.ARRIVAL_SETTING_EXTERNAL_BORDER,
        reason=ArrivalReason.ARRIVAL_REASON_ASYLUM_AT_BORDER_CROSSING_POINT,
        location="Schiphol",
        claimed_identity=ClaimedIdentity(
            family_name=FAMILY_NAME,
            given_names=GIVEN_NAMES,
            date_of_birth=CalendarDate(year=1996, month=3, day=4),
            place_of_birth="Aleppo",
            gender=Gender.GENDER_FEMALE,
            nationalities=["SYR"],
            source_level=PilSourceLevel.PIL_SOURCE_LEVEL_OWN_STATEMENT,
        ),
        biometrics=BiometricReference(template_reference="bio-1", template_hash=template_hash),
        claimed_age=age,
        asylum_requested=True,
    )


def test_valid_report_passes() -> None:
    check_arrival(valid_report())


@pytest.mark.parametrize("age", [0, 5, 6, 17, 18, 130])
def test_claimed_age_bounds_are_inclusive(age: int) -> None:
    check_arrival(valid_report(age=age))


def _set(field: str, value: object) -> Callable[[ArrivalReport], None]:
    def mutate(report: ArrivalReport) -> None:
        setattr(report, field, value)

    return mutate


# (field the reason must name, how the report is broken, the bad value as text or "")
BROKEN: list[tuple[str, Callable[[ArrivalReport], None], str]] = [
    ("partner_reference", _set("partner_reference", ""), ""),
    ("partner_reference", _set("partner_reference", "   \t "), ""),
    ("reporting_partner", _set("reporting_partner", Partner.PARTNER_UNSPECIFIED), ""),
    ("setting", _set("setting", ArrivalSetting.ARRIVAL_SETTING_UNSPECIFIED), ""),
    ("setting", _set("setting", 77), "77"),
    ("reason", _set("reason", ArrivalReason.ARRIVAL_REASON_UNSPECIFIED), ""),
    ("reason", _set("reason", 88), "88"),
    ("claimed_age", _set("claimed_age", -42), "-42"),
    ("claimed_age", _set("claimed_age", 131), "131"),
    ("claimed_age", _set("claimed_age", 987), "987"),
]


@pytest.mark.parametrize(("field", "mutate", "bad_value"), BROKEN)
def test_refusal_names_the_field_and_never_the_value(
    field: str, mutate: Callable[[ArrivalReport], None], bad_value: str
) -> None:
    report = valid_report()
    mutate(report)
    with pytest.raises(PoisonMessage) as refused:
        check_arrival(report)
    error = refused.value
    assert error.code == "invalid_arrival"
    assert f"field {field}" in error.reason
    text = str(error)
    if bad_value:
        assert bad_value not in text
    for personal in (FAMILY_NAME, GIVEN_NAMES, TEMPLATE_HASH, REFERENCE, "Aleppo", "SYR"):
        assert personal not in text


@pytest.mark.parametrize("age", [0, 1, 5])
def test_no_biometric_key_under_six(age: int) -> None:
    assert biometric_key(valid_report(age=age)) is None


@pytest.mark.parametrize("age", [6, 7, 17, 45, 130])
def test_biometric_key_from_six(age: int) -> None:
    assert biometric_key(valid_report(age=age)) == TEMPLATE_HASH


def test_no_biometric_key_without_a_template_hash() -> None:
    assert biometric_key(valid_report(age=30, template_hash="")) is None


def test_first_v_nummer() -> None:
    assert v_nummer_for(1) == str(V_NUMMER_BASE + 1)


@pytest.mark.parametrize("sequence", [1, 2, 9, 10, 12_345, 999_999, 10**10 - V_NUMMER_BASE - 1])
def test_v_nummer_is_ten_digits(sequence: int) -> None:
    v_nummer = v_nummer_for(sequence)
    assert len(v_nummer) == 10
    assert v_nummer.isdigit()
    assert validate_v_nummer(v_nummer) == v_nummer


def test_v_nummer_distinct_per_sequence() -> None:
    issued = [v_nummer_for(sequence) for sequence in range(1, 20_001)]
    assert len(set(issued)) == len(issued)


def test_v_nummer_is_deterministic() -> None:
    assert v_nummer_for(4_711) == v_nummer_for(4_711)


def test_last_v_nummer_in_range() -> None:
    assert v_nummer_for(10**10 - V_NUMMER_BASE - 1) == "9999999999"


@pytest.mark.parametrize("sequence", [10**10 - V_NUMMER_BASE, 10**10 - V_NUMMER_BASE + 1, 10**11])
def test_v_nummer_overflow_raises(sequence: int) -> None:
    with pytest.raises(OverflowError):
        v_nummer_for(sequence)

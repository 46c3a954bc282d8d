"""BVV rules: the arrival report check, identification keys, PIL and the V-nummer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from bvv.domain import (
    V_NUMMER_BASE,
    ArrivalRefused,
    age_on,
    biographic_key,
    biometric_key,
    check_arrival,
    more_reliable,
    v_nummer_for,
)
from chainkit.codec import validate_v_nummer
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
TODAY = date(2026, 11, 22)


def valid_report(age: int = 30, template_hash: str = TEMPLATE_HASH) -> ArrivalReport:
    """A report that passes; the date of birth fits the claimed age on TODAY."""
    return ArrivalReport(
        partner_reference=REFERENCE,
        reporting_partner=Partner.PARTNER_KMAR,
        setting=ArrivalSetting.ARRIVAL_SETTING_EXTERNAL_BORDER,
        reason=ArrivalReason.ARRIVAL_REASON_ASYLUM_AT_BORDER_CROSSING_POINT,
        location="Schiphol",
        claimed_identity=ClaimedIdentity(
            family_name=FAMILY_NAME,
            given_names=GIVEN_NAMES,
            date_of_birth=CalendarDate(year=TODAY.year - age - 1, month=12, day=4),
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
    check_arrival(valid_report(), TODAY)


@pytest.mark.parametrize("age", [0, 5, 6, 17, 18, 129])
def test_claimed_age_bounds_are_inclusive(age: int) -> None:
    check_arrival(valid_report(age=age), TODAY)


def test_under_six_needs_no_biometrics() -> None:
    check_arrival(valid_report(age=4, template_hash=""), TODAY)


def test_a_refusal_to_give_fingerprints_is_no_missing_field() -> None:
    report = valid_report(template_hash="")
    report.refused_cooperation = True
    check_arrival(report, TODAY)


def test_an_unknown_date_of_birth_is_allowed() -> None:
    report = valid_report()
    report.claimed_identity.ClearField("date_of_birth")
    check_arrival(report, TODAY)
    report.claimed_identity.date_of_birth.CopyFrom(CalendarDate(year=1990))
    report.claimed_age = 36
    check_arrival(report, TODAY)


def _set(field: str, value: object) -> Callable[[ArrivalReport], None]:
    def mutate(report: ArrivalReport) -> None:
        setattr(report, field, value)

    return mutate


def _set_bio(template_hash: str) -> Callable[[ArrivalReport], None]:
    def mutate(report: ArrivalReport) -> None:
        report.biometrics.template_hash = template_hash

    return mutate


def _set_dob(year: int, month: int, day: int) -> Callable[[ArrivalReport], None]:
    def mutate(report: ArrivalReport) -> None:
        report.claimed_identity.date_of_birth.CopyFrom(
            CalendarDate(year=year, month=month, day=day)
        )

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
    ("location", _set("location", ""), ""),
    ("reporting_partner", _set("reporting_partner", Partner.PARTNER_COA), ""),
    ("v_nummer", _set("v_nummer", "12AB"), "12AB"),
    ("v_nummer", _set("v_nummer", "123456789"), "123456789"),
    ("biometrics.template_hash", _set_bio(""), ""),
    ("biometrics.template_hash", _set_bio("not-a-hash"), "not-a-hash"),
    ("claimed_identity.date_of_birth", _set_dob(1990, 13, 1), "13"),
    ("claimed_identity.date_of_birth", _set_dob(1992, 2, 30), "30"),
    ("claimed_identity.date_of_birth", _set_dob(2031, 1, 1), "2031"),
    ("claimed_identity.date_of_birth", _set_dob(1850, 1, 1), "1850"),
    ("claimed_identity.date_of_birth", _set_dob(2010, 1, 1), "2010"),  # not 30 years old
    ("claimed_identity.date_of_birth", _set_dob(0, 5, 1), ""),
]


@pytest.mark.parametrize(("field", "mutate", "bad_value"), BROKEN)
def test_refusal_names_the_field_and_never_the_value(
    field: str, mutate: Callable[[ArrivalReport], None], bad_value: str
) -> None:
    report = valid_report()
    mutate(report)
    with pytest.raises(ArrivalRefused) as refused:
        check_arrival(report, TODAY)
    error = refused.value
    assert error.field == field
    assert error.code in ("missing", "invalid", "unknown_code")
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


def test_unknown_codes_are_told_apart_from_missing_ones() -> None:
    report = valid_report()
    report.reason = 88  # type: ignore[assignment]
    with pytest.raises(ArrivalRefused) as refused:
        check_arrival(report, TODAY)
    assert refused.value.code == "unknown_code"
    report.reason = ArrivalReason.ARRIVAL_REASON_UNSPECIFIED
    with pytest.raises(ArrivalRefused) as refused:
        check_arrival(report, TODAY)
    assert refused.value.code == "missing"


@pytest.mark.parametrize(
    ("born", "age"),
    [((2000, 11, 22), 26), ((2000, 11, 23), 25), ((2000, 0, 0), 26), ((2020, 12, 0), 5)],
)
def test_age_on(born: tuple[int, int, int], age: int) -> None:
    assert age_on(*born, TODAY) == age


def test_biographic_key_needs_names_and_a_birth_year() -> None:
    identity = valid_report().claimed_identity
    key = biographic_key(identity)
    assert key is not None and FAMILY_NAME.lower() in key
    identity.given_names = ""
    assert biographic_key(identity) is None


def test_biographic_key_ignores_case_and_spaces() -> None:
    one = valid_report().claimed_identity
    other = ClaimedIdentity()
    other.CopyFrom(one)
    other.family_name = f"  {FAMILY_NAME.upper()} "
    assert biographic_key(one) == biographic_key(other)


L = PilSourceLevel


@pytest.mark.parametrize(
    ("new", "held", "replaces"),
    [
        (L.PIL_SOURCE_LEVEL_OFFICIAL_IDENTIFYING_DOCUMENT, L.PIL_SOURCE_LEVEL_OWN_STATEMENT, True),
        (L.PIL_SOURCE_LEVEL_OWN_STATEMENT, L.PIL_SOURCE_LEVEL_OFFICIAL_IDENTIFYING_DOCUMENT, False),
        (L.PIL_SOURCE_LEVEL_OWN_STATEMENT, L.PIL_SOURCE_LEVEL_OWN_STATEMENT, False),
        (L.PIL_SOURCE_LEVEL_NON_OFFICIAL_DOCUMENT, L.PIL_SOURCE_LEVEL_THIRD_PARTY_STATEMENT, True),
        (L.PIL_SOURCE_LEVEL_UNSPECIFIED, L.PIL_SOURCE_LEVEL_OWN_STATEMENT, False),
        (L.PIL_SOURCE_LEVEL_OWN_STATEMENT, L.PIL_SOURCE_LEVEL_UNSPECIFIED, True),
    ],
)
def test_pil_data_only_replaced_by_a_more_reliable_source(
    new: PilSourceLevel.ValueType, held: PilSourceLevel.ValueType, replaces: bool
) -> None:
    assert more_reliable(new, held) is replaces


@pytest.mark.parametrize("code", ["XYZ", "SY", "syr", "Syria", ""])
def test_an_unknown_nationality_code_is_refused_naming_the_field(code: str) -> None:
    report = valid_report()
    report.claimed_identity.nationalities.append(code)
    with pytest.raises(ArrivalRefused) as refused:
        check_arrival(report, TODAY)
    assert refused.value.field == "claimed_identity.nationalities[1]"
    assert refused.value.code == "unknown_code"
    assert code not in refused.value.reason or not code


def test_iso_nationality_codes_are_accepted() -> None:
    report = valid_report()
    report.claimed_identity.nationalities[:] = ["SYR", "NLD", "PSE"]
    check_arrival(report, TODAY)

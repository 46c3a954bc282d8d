"""Pure BVV rules: what an arrival report must hold, who a person is, which data wins."""

from __future__ import annotations

import calendar
import re
from datetime import date

from chainkit.pact import is_nationality, limits
from chainkit.people import is_v_nummer
from migratieketen.v1.arrival_pb2 import ArrivalReport
from migratieketen.v1.common_pb2 import (
    ArrivalReason,
    ArrivalSetting,
    ClaimedIdentity,
    Partner,
    PilSourceLevel,
)

V_NUMMER_BASE = 2_600_000_000  # first number this registry issues is V_NUMMER_BASE + 1
MAX_AGE = 130
_HEX = re.compile(r"[0-9a-f]{32,128}")
# Partners that meet people and report arrivals.
REPORTING_PARTNERS = frozenset(
    {Partner.PARTNER_KMAR, Partner.PARTNER_AVIM, Partner.PARTNER_DISA, Partner.PARTNER_IND}
)


class ArrivalRefused(Exception):
    """The report must be corrected by the partner; names the field, never its value."""

    def __init__(self, field: str, code: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.code = code
        self.reason = reason


def _known(value: int, enum_values: list[int]) -> bool:
    return value != 0 and value in enum_values


def check_arrival(report: ArrivalReport, today: date) -> None:
    """Refuse a report with a missing required field, an unknown code, an impossible
    date of birth or a malformed V-nummer."""
    if not report.partner_reference.strip():
        raise ArrivalRefused("partner_reference", "missing", "is required")
    if report.reporting_partner == Partner.PARTNER_UNSPECIFIED:
        raise ArrivalRefused("reporting_partner", "missing", "is required")
    if report.reporting_partner not in REPORTING_PARTNERS:
        raise ArrivalRefused("reporting_partner", "unknown_code", "must be KMar, AVIM, DISA or IND")
    if report.setting == ArrivalSetting.ARRIVAL_SETTING_UNSPECIFIED:
        raise ArrivalRefused("setting", "missing", "is required")
    if not _known(report.setting, list(ArrivalSetting.values())):
        raise ArrivalRefused("setting", "unknown_code", "is not a known ArrivalSetting")
    if report.reason == ArrivalReason.ARRIVAL_REASON_UNSPECIFIED:
        raise ArrivalRefused("reason", "missing", "is required")
    if not _known(report.reason, list(ArrivalReason.values())):
        raise ArrivalRefused("reason", "unknown_code", "is not a known ArrivalReason")
    if not report.location.strip():
        raise ArrivalRefused("location", "missing", "is required")
    if not 0 <= report.claimed_age <= MAX_AGE:
        raise ArrivalRefused("claimed_age", "invalid", f"must be between 0 and {MAX_AGE}")
    if report.v_nummer and not is_v_nummer(report.v_nummer):
        raise ArrivalRefused("v_nummer", "invalid", "must be exactly 10 digits")
    _check_date_of_birth(report, today)
    _check_nationalities(report)
    needs_biometrics = report.claimed_age >= limits().eurodac_min_age
    if needs_biometrics and not report.refused_cooperation:
        template = report.biometrics.template_hash
        if not template:
            raise ArrivalRefused(
                "biometrics.template_hash", "missing", "is required from age 6 unless refused"
            )
        if not _HEX.fullmatch(template):
            raise ArrivalRefused(
                "biometrics.template_hash", "invalid", "must be a lower-case hex digest"
            )


def _check_nationalities(report: ArrivalReport) -> None:
    """ISO 3166-1 alpha-3 codes (the recognition rates are looked up by them)."""
    for index, code in enumerate(report.claimed_identity.nationalities):
        if not is_nationality(code):
            raise ArrivalRefused(
                f"claimed_identity.nationalities[{index}]",
                "unknown_code",
                "is not an ISO 3166-1 alpha-3 country code",
            )


def _check_date_of_birth(report: ArrivalReport, today: date) -> None:
    """0 means unknown (year, month or day); what is given must be a possible date."""
    field = "claimed_identity.date_of_birth"
    dob = report.claimed_identity.date_of_birth
    if not report.claimed_identity.HasField("date_of_birth") or dob.year == 0:
        if dob.month or dob.day:
            raise ArrivalRefused(field, "invalid", "has a month or day but no year")
        return
    if not 1 <= dob.month <= 12 and dob.month != 0:
        raise ArrivalRefused(field, "invalid", "has no such month")
    if dob.day and (not dob.month or not 1 <= dob.day <= _days_in(dob.year, dob.month)):
        raise ArrivalRefused(field, "invalid", "has no such day")
    earliest = date(dob.year, dob.month or 1, dob.day or 1)
    if earliest > today:
        raise ArrivalRefused(field, "invalid", "lies in the future")
    age = age_on(dob.year, dob.month, dob.day, today)
    if age > MAX_AGE:
        raise ArrivalRefused(field, "invalid", f"gives an age over {MAX_AGE}")
    if report.claimed_age and abs(age - report.claimed_age) > 1:
        raise ArrivalRefused(field, "invalid", "does not match claimed_age")


def _days_in(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def age_on(year: int, month: int, day: int, today: date) -> int:
    """Age in whole years; an unknown month or day counts as the first."""
    birthday_passed = (today.month, today.day) >= (month or 1, day or 1)
    return today.year - year - (0 if birthday_passed else 1)


def biometric_key(report: ArrivalReport) -> str | None:
    """The template hash that identifies the person, if biometrics may be taken (age 6+)."""
    if report.claimed_age < limits().eurodac_min_age:
        return None
    return report.biometrics.template_hash or None


def biographic_key(identity: ClaimedIdentity) -> str | None:
    """Names and date of birth: how a child under 6 (no biometrics) is recognised,
    together with a family link. None when too little is known to match on."""
    dob = identity.date_of_birth
    if not (identity.family_name and identity.given_names and dob.year):
        return None
    names = f"{identity.family_name.strip().lower()}|{identity.given_names.strip().lower()}"
    return f"{names}|{dob.year:04d}-{dob.month:02d}-{dob.day:02d}"


def more_reliable(new: PilSourceLevel.ValueType, held: PilSourceLevel.ValueType) -> bool:
    """PIL: identity data are replaced only by data from a more reliable source; the
    levels are numbered from most reliable (1) down, 0 means not stated."""
    if new == PilSourceLevel.PIL_SOURCE_LEVEL_UNSPECIFIED:
        return False
    return held == PilSourceLevel.PIL_SOURCE_LEVEL_UNSPECIFIED or new < held


def v_nummer_for(sequence: int) -> str:
    """The V-nummer for the n-th registration: 10 digits, never reused."""
    number = V_NUMMER_BASE + sequence
    if number >= 10**10:
        raise OverflowError("the V-nummer range is exhausted")
    return f"{number:010d}"

"""Pure BVV rules: what an arrival report must hold, when biometrics identify a person."""

from __future__ import annotations

from chainkit.codec import PoisonMessage
from chainkit.pact import limits
from migratieketen.v1.arrival_pb2 import ArrivalReport
from migratieketen.v1.common_pb2 import ArrivalReason, ArrivalSetting, Partner

V_NUMMER_BASE = 2_600_000_000  # first number this registry issues is V_NUMMER_BASE + 1


def check_arrival(report: ArrivalReport) -> None:
    """Refuse a report a partner must correct; the reason names the field, never its value."""
    if not report.partner_reference.strip():
        raise PoisonMessage("invalid_arrival", "field partner_reference is required")
    if report.reporting_partner == Partner.PARTNER_UNSPECIFIED:
        raise PoisonMessage("invalid_arrival", "field reporting_partner is required")
    if report.setting not in ArrivalSetting.values() or (
        report.setting == ArrivalSetting.ARRIVAL_SETTING_UNSPECIFIED
    ):
        raise PoisonMessage("invalid_arrival", "field setting must be a known ArrivalSetting")
    if report.reason not in ArrivalReason.values() or (
        report.reason == ArrivalReason.ARRIVAL_REASON_UNSPECIFIED
    ):
        raise PoisonMessage("invalid_arrival", "field reason must be a known ArrivalReason")
    if not 0 <= report.claimed_age <= 130:
        raise PoisonMessage("invalid_arrival", "field claimed_age must be between 0 and 130")


def biometric_key(report: ArrivalReport) -> str | None:
    """The template hash that identifies the person, if biometrics may be taken (age 6+)."""
    if report.claimed_age < limits().eurodac_min_age:
        return None
    return report.biometrics.template_hash or None


def v_nummer_for(sequence: int) -> str:
    """The V-nummer for the n-th registration: 10 digits, never reused."""
    number = V_NUMMER_BASE + sequence
    if number >= 10**10:
        raise OverflowError("the V-nummer range is exhausted")
    return f"{number:010d}"

"""Pure screening rules: the time limit, the checks, the form and the referral."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chainkit.pact import limits
from migratieketen.v1.arrival_pb2 import ArrivalReport
from migratieketen.v1.common_pb2 import ArrivalSetting, EuSystem
from migratieketen.v1.europaloket_pb2 import CheckResult, CheckStatus
from migratieketen.v1.screening_pb2 import (
    HealthResult,
    Referral,
    ReferralIndicators,
    ScreeningForm,
)

# The security check (Art. 15-16) and Eurodac registration, in one Europaloket request.
SCREENING_SYSTEMS = (
    EuSystem.EU_SYSTEM_EURODAC,
    EuSystem.EU_SYSTEM_SIS,
    EuSystem.EU_SYSTEM_VIS,
    EuSystem.EU_SYSTEM_EES,
    EuSystem.EU_SYSTEM_ETIAS,
    EuSystem.EU_SYSTEM_ECRIS_TCN,
)


def time_limit(arrival: ArrivalReport) -> timedelta:
    """7 days at the external border (4 if held there over 72 h), 3 days inland."""
    pact = limits()
    if arrival.setting == ArrivalSetting.ARRIVAL_SETTING_EXTERNAL_BORDER:
        if arrival.held_hours_before_screening > pact.held_hours_threshold:
            return timedelta(days=pact.screening_border_held_days)
        return timedelta(days=pact.screening_border_days)
    return timedelta(days=pact.screening_inland_days)


def deadline(arrival: ArrivalReport, started_at: datetime) -> datetime:
    return started_at + time_limit(arrival)


@dataclass(frozen=True)
class Findings:
    """What the Europaloket told screening, or that it did not answer in time."""

    database_hit: bool
    eurodac_member_state: str
    security_flag: bool
    checks_not_done: tuple[str, ...]


def findings_from(result: CheckResult | None) -> Findings:
    if result is None:
        return Findings(False, "", False, ("security", "eurodac"))
    if result.status in (CheckStatus.CHECK_STATUS_DENIED, CheckStatus.CHECK_STATUS_UNAVAILABLE):
        return Findings(False, "", False, ("security", "eurodac"))
    hit = any(a.status == CheckStatus.CHECK_STATUS_HIT for a in result.answers)
    eurodac = next(
        (
            a.member_state
            for a in result.answers
            if a.system == EuSystem.EU_SYSTEM_EURODAC and a.status == CheckStatus.CHECK_STATUS_HIT
        ),
        "",
    )
    security = any(
        a.security_ground and a.status == CheckStatus.CHECK_STATUS_HIT for a in result.answers
    )
    not_done = tuple(
        EuSystem.Name(a.system).removeprefix("EU_SYSTEM_").lower()
        for a in result.answers
        if a.status in (CheckStatus.CHECK_STATUS_UNAVAILABLE, CheckStatus.CHECK_STATUS_DENIED)
    )
    return Findings(hit, eurodac, security, not_done)


def is_minor(arrival: ArrivalReport) -> bool:
    return arrival.claimed_age < 18


def special_needs(arrival: ArrivalReport) -> list[str]:
    needs = []
    if is_minor(arrival):
        needs.append("minor")
        if not arrival.accompanied:
            needs.append("unaccompanied_minor")
    elif arrival.family_group_id:
        needs.append("family")
    return needs


def referral(arrival: ArrivalReport) -> Referral.ValueType:
    """Art. 18: an application for protection goes to asylum, no application to return."""
    if arrival.asylum_requested:
        return Referral.REFERRAL_ASYLUM
    return Referral.REFERRAL_RETURN


def screening_form(arrival: ArrivalReport, findings: Findings) -> ScreeningForm:
    identity = arrival.claimed_identity
    needs = special_needs(arrival)
    return ScreeningForm(
        family_name=identity.family_name,
        given_names=identity.given_names,
        date_of_birth=identity.date_of_birth,
        place_of_birth=identity.place_of_birth,
        gender=identity.gender,
        nationalities=list(identity.nationalities),
        stateless=identity.stateless,
        countries_of_residence=list(arrival.countries_of_residence),
        languages=list(arrival.languages),
        reason_for_screening=arrival.reason,
        health=HealthResult.HEALTH_RESULT_NO_IMMEDIATE_NEEDS,
        vulnerable=bool(needs),
        special_needs=needs,
        asylum_applied=arrival.asylum_requested,
        database_hit=findings.database_hit,
        cooperated=True,
    )


def indicators(arrival: ArrivalReport, findings: Findings) -> ReferralIndicators:
    needs = special_needs(arrival)
    return ReferralIndicators(
        eurodac_hit=bool(findings.eurodac_member_state),
        eurodac_member_state=findings.eurodac_member_state,
        security_flag=findings.security_flag,
        misleading_identity=False,
        unaccompanied_minor="unaccompanied_minor" in needs,
        family_with_children=bool(arrival.family_group_id) and is_minor(arrival),
        checks_not_done=list(findings.checks_not_done),
    )

"""Pure screening rules: time limits, the checks, the form and the referral."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp

from chainkit.clock import timestamp
from chainkit.pact import limits, relocates
from chainkit.people import is_minor_age
from migratieketen.v1.arrival_pb2 import ArrivalReport
from migratieketen.v1.common_pb2 import (
    ArrivalReason,
    ArrivalSetting,
    EuSystem,
    VulnerabilityIndicator,
)
from migratieketen.v1.europaloket_pb2 import (
    CheckResult,
    CheckStatus,
    EurodacCategory,
    EurodacVerification,
    MidLinkColour,
    SystemAnswer,
)
from migratieketen.v1.screening_pb2 import (
    CheckState,
    HealthResult,
    Referral,
    ReferralIndicators,
    ScreeningCheck,
    ScreeningForm,
)

S = EuSystem
# The security check (Art. 15-16): SIS, EES, ETIAS (with its watchlist), VIS, ECRIS-TCN,
# and MID for multiple identities (identity verification, Art. 14).
SECURITY_SYSTEMS = (
    S.EU_SYSTEM_SIS,
    S.EU_SYSTEM_EES,
    S.EU_SYSTEM_ETIAS,
    S.EU_SYSTEM_VIS,
    S.EU_SYSTEM_ECRIS_TCN,
    S.EU_SYSTEM_MID,
)
SCREENING_SYSTEMS = (S.EU_SYSTEM_EURODAC, *SECURITY_SYSTEMS)
# Answers after which a system is not asked again.
FINAL = frozenset(
    {
        CheckStatus.CHECK_STATUS_RECORDED,  # Eurodac: registered, no other state's record
        CheckStatus.CHECK_STATUS_HIT,
        CheckStatus.CHECK_STATUS_NO_HIT,
        CheckStatus.CHECK_STATUS_NOT_APPLICABLE,
        CheckStatus.CHECK_STATUS_DENIED,
    }
)
# Wait before asking an unavailable system again (simulated time).
RETRY_AFTER = timedelta(hours=6)
EURODAC_TRANSMISSION = timedelta(hours=72)

_NEEDS = {
    VulnerabilityIndicator.VULNERABILITY_INDICATOR_DISABILITY: "disability",
    VulnerabilityIndicator.VULNERABILITY_INDICATOR_SIGNS_OF_TRAFFICKING: "possible_trafficking",
    VulnerabilityIndicator.VULNERABILITY_INDICATOR_SIGNS_OF_TORTURE: "possible_torture",
    VulnerabilityIndicator.VULNERABILITY_INDICATOR_PREGNANCY: "pregnancy",
    VulnerabilityIndicator.VULNERABILITY_INDICATOR_SERIOUS_ILLNESS: "serious_illness",
    VulnerabilityIndicator.VULNERABILITY_INDICATOR_MENTAL_HEALTH: "mental_health",
}


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


def takes_biometrics(arrival: ArrivalReport) -> bool:
    return arrival.claimed_age >= limits().eurodac_min_age


def requested_systems(arrival: ArrivalReport) -> tuple[EuSystem.ValueType, ...]:
    """Eurodac only from age 6 (no biometrics below); the security systems for all."""
    return SCREENING_SYSTEMS if takes_biometrics(arrival) else SECURITY_SYSTEMS


def eurodac_category(arrival: ArrivalReport) -> EurodacCategory.ValueType:
    """The Eurodac category screening registers the person under."""
    if arrival.asylum_requested:
        return EurodacCategory.EURODAC_CATEGORY_APPLICANT
    if arrival.reason == ArrivalReason.ARRIVAL_REASON_SEARCH_AND_RESCUE:
        return EurodacCategory.EURODAC_CATEGORY_SEARCH_AND_RESCUE
    if arrival.setting == ArrivalSetting.ARRIVAL_SETTING_EXTERNAL_BORDER:
        return EurodacCategory.EURODAC_CATEGORY_IRREGULAR_BORDER_CROSSER
    return EurodacCategory.EURODAC_CATEGORY_ILLEGALLY_STAYING


def system_name(system: EuSystem.ValueType) -> str:
    return EuSystem.Name(system).removeprefix("EU_SYSTEM_").lower()


def merge(held: CheckResult, new: CheckResult) -> CheckResult:
    """The latest answer per system: a retry's answer replaces an UNAVAILABLE one."""
    by_system = {a.system: a for a in held.answers}
    by_system.update({a.system: a for a in new.answers})
    merged = CheckResult()
    merged.CopyFrom(held)
    del merged.answers[:]
    merged.answers.extend(by_system[s] for s in sorted(by_system))
    return merged


def pending(
    requested: tuple[EuSystem.ValueType, ...], merged: CheckResult
) -> list[EuSystem.ValueType]:
    """Systems that have not given a final answer yet."""
    final = {a.system for a in merged.answers if a.status in FINAL}
    return [s for s in requested if s not in final]


def refused_whole(result: CheckResult, asked: list[EuSystem.ValueType]) -> CheckResult:
    """A request refused as a whole (DENIED or UNAVAILABLE) as one answer per system."""
    expanded = CheckResult()
    expanded.CopyFrom(result)
    if not result.answers and result.status in (
        CheckStatus.CHECK_STATUS_DENIED,
        CheckStatus.CHECK_STATUS_UNAVAILABLE,
    ):
        expanded.answers.extend(SystemAnswer(system=s, status=result.status) for s in asked)
    return expanded


def _is_hit(answer: SystemAnswer) -> bool:
    if answer.status != CheckStatus.CHECK_STATUS_HIT:
        return False
    # A Eurodac candidate the fingerprint expert rejected is no hit.
    return answer.verification != EurodacVerification.EURODAC_VERIFICATION_REJECTED


@dataclass(frozen=True)
class Findings:
    """What the Europaloket told screening."""

    database_hit: bool
    eurodac_member_state: str
    security_flag: bool
    mid_red_link: bool
    checks_not_done: tuple[str, ...]
    eurodac_category: str = ""
    eurodac_reference: str = ""
    vis_member_state: str = ""
    sis_alert_category: str = ""
    sis_action: str = ""
    sis_member_state: str = ""


def findings_from(result: CheckResult | None) -> Findings:
    if result is None:
        return Findings(False, "", False, False, ("security", "eurodac"))
    if not result.answers and result.status in (
        CheckStatus.CHECK_STATUS_DENIED,
        CheckStatus.CHECK_STATUS_UNAVAILABLE,
    ):
        return Findings(False, "", False, False, ("security", "eurodac"))
    hits = [a for a in result.answers if _is_hit(a)]
    eurodac_hit = next((a for a in hits if a.system == S.EU_SYSTEM_EURODAC), None)
    vis = next((a for a in hits if a.system == S.EU_SYSTEM_VIS and a.member_state != "NL"), None)
    sis = next((a for a in hits if a.system == S.EU_SYSTEM_SIS), None)
    red = any(
        a.system == S.EU_SYSTEM_MID and a.link_colour == MidLinkColour.MID_LINK_COLOUR_RED
        for a in hits
    )
    not_done = tuple(system_name(a.system) for a in result.answers if a.status not in FINAL)
    not_done += tuple(
        system_name(a.system) for a in result.answers if a.status == CheckStatus.CHECK_STATUS_DENIED
    )
    return Findings(
        database_hit=bool(hits),
        eurodac_member_state=eurodac_hit.member_state if eurodac_hit else "",
        security_flag=any(a.security_ground for a in hits),
        mid_red_link=red,
        checks_not_done=not_done,
        eurodac_category=eurodac_hit.category if eurodac_hit else "",
        eurodac_reference=eurodac_hit.reference if eurodac_hit else "",
        vis_member_state=vis.member_state if vis else "",
        sis_alert_category=sis.category if sis else "",
        sis_action=sis.action if sis else "",
        sis_member_state=sis.member_state if sis else "",
    )


def is_minor(arrival: ArrivalReport) -> bool:
    return is_minor_age(arrival.claimed_age)


def is_unaccompanied_minor(arrival: ArrivalReport) -> bool:
    return is_minor(arrival) and not arrival.accompanied


def is_family_with_children(arrival: ArrivalReport) -> bool:
    """A child travelling in a family group, or a parent travelling with children."""
    if is_minor(arrival):
        return bool(arrival.family_group_id) and arrival.accompanied
    return arrival.travelling_with_children


def special_needs(arrival: ArrivalReport) -> list[str]:
    """The preliminary vulnerability check (Art. 12)."""
    needs = []
    if is_minor(arrival):
        needs.append("minor")
        if is_unaccompanied_minor(arrival):
            needs.append("unaccompanied_minor")
    if is_family_with_children(arrival):
        needs.append("family_with_children")
    needs += [_NEEDS[i] for i in dict.fromkeys(arrival.vulnerability_indicators) if i in _NEEDS]
    return needs


def misleading_identity(arrival: ArrivalReport, findings: Findings) -> bool:
    return findings.mid_red_link or any(d.suspected_fraudulent for d in arrival.documents)


def health_check(arrival: ArrivalReport, at: datetime) -> ScreeningCheck:
    result = "needs_care" if arrival.needs_medical_care else "no_immediate_needs"
    return ScreeningCheck(
        check="health", state=CheckState.CHECK_STATE_DONE, result=result, done_at=timestamp(at)
    )


def vulnerability_check(arrival: ArrivalReport, at: datetime) -> ScreeningCheck:
    return ScreeningCheck(
        check="vulnerability",
        state=CheckState.CHECK_STATE_DONE,
        result=",".join(special_needs(arrival)) or "none",
        done_at=timestamp(at),
    )


def identity_check(arrival: ArrivalReport, findings: Findings, at: datetime) -> ScreeningCheck:
    """Documents and MID links (Art. 14); the outcome feeds the misleading indicator."""
    if misleading_identity(arrival, findings):
        result = "misleading_identity"
    elif arrival.documents:
        result = "documented"
    else:
        result = "undocumented"
    return ScreeningCheck(
        check="identity", state=CheckState.CHECK_STATE_DONE, result=result, done_at=timestamp(at)
    )


def system_check(
    name: str,
    systems: tuple[EuSystem.ValueType, ...],
    merged: CheckResult,
    at: datetime,
    closing_reason: str = "",
) -> ScreeningCheck:
    """A check over Europaloket systems: done once each answered; otherwise, when
    screening closes, not done with the systems and why."""
    if not systems:
        return ScreeningCheck(
            check=name,
            state=CheckState.CHECK_STATE_NOT_APPLICABLE,
            reason="no biometrics are taken under age 6",
        )
    answers = {a.system: a for a in merged.answers}
    missing = []
    for system in systems:
        answer = answers.get(system)
        if answer is None or answer.status not in FINAL:
            missing.append(f"{system_name(system)} {closing_reason or 'did not answer'}")
        elif answer.status == CheckStatus.CHECK_STATUS_DENIED:
            missing.append(f"{system_name(system)} denied: {answer.reason or 'need-to-know'}")
    if missing:
        return ScreeningCheck(
            check=name, state=CheckState.CHECK_STATE_NOT_DONE, reason="; ".join(missing)
        )
    hit = any(_is_hit(answers[s]) for s in systems)
    return ScreeningCheck(
        check=name,
        state=CheckState.CHECK_STATE_DONE,
        result="hit" if hit else "no_hit",
        done_at=timestamp(at),
    )


def referral(arrival: ArrivalReport, relocation_direction: str | None = None) -> Referral.ValueType:
    """Art. 18: an application goes to asylum (or to relocation when selected for it and
    the Netherlands is a benefiting state); no application goes to the return procedure."""
    if arrival.asylum_requested:
        if arrival.relocation_candidate and relocates(relocation_direction):
            return Referral.REFERRAL_RELOCATION
        return Referral.REFERRAL_ASYLUM
    return Referral.REFERRAL_RETURN


def screening_form(
    arrival: ArrivalReport, findings: Findings, health: str = "no_immediate_needs"
) -> ScreeningForm:
    """The screening form of Art. 17."""
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
        health=(
            HealthResult.HEALTH_RESULT_NEEDS_CARE
            if health == "needs_care"
            else HealthResult.HEALTH_RESULT_NO_IMMEDIATE_NEEDS
        ),
        vulnerable=bool(needs),
        special_needs=needs,
        asylum_applied=arrival.asylum_requested,
        family_member_states=list(arrival.family_member_states),
        database_hit=findings.database_hit,
        cooperated=not arrival.refused_cooperation,
    )


# SIS alerts on which the SIRENE bureau of the issuing state must be consulted before
# a residence permit is granted (Regulations 2018/1860 Art. 9, 2018/1861 Art. 27).
SIRENE_CONSULTATION = frozenset({"RETURN", "REFUSAL_OF_ENTRY"})


def sirene_consultation_needed(findings: Findings) -> bool:
    return findings.sis_alert_category in SIRENE_CONSULTATION and findings.sis_member_state not in (
        "",
        "NL",
    )


def application_made_at(arrival: ArrivalReport) -> Timestamp | None:
    """As the partner reported it (a backlog); None: the IND takes the screening's start."""
    return arrival.application_made_at if arrival.HasField("application_made_at") else None


def indicators(
    arrival: ArrivalReport, findings: Findings, checks: list[ScreeningCheck] | None = None
) -> ReferralIndicators:
    not_done = (
        [c.check for c in checks if c.state == CheckState.CHECK_STATE_NOT_DONE]
        if checks is not None
        else list(findings.checks_not_done)
    )
    return ReferralIndicators(
        eurodac_hit=bool(findings.eurodac_member_state),
        eurodac_member_state=findings.eurodac_member_state,
        security_flag=findings.security_flag,
        misleading_identity=misleading_identity(arrival, findings),
        unaccompanied_minor=is_unaccompanied_minor(arrival),
        family_with_children=is_family_with_children(arrival),
        checks_not_done=not_done,
        nationalities=list(arrival.claimed_identity.nationalities),
        relocation_candidate=arrival.relocation_candidate,
        eurodac_category=findings.eurodac_category,
        eurodac_reference=findings.eurodac_reference,
        vis_hit=bool(findings.vis_member_state),
        vis_member_state=findings.vis_member_state,
        sis_alert_category=findings.sis_alert_category,
        sis_action=findings.sis_action,
        sirene_consultation_needed=sirene_consultation_needed(findings),
        application_made_at=application_made_at(arrival),
        partner_reference=arrival.partner_reference,
        family_group_id=arrival.family_group_id,
    )

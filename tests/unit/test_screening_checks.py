"""Screening's checks: which systems are asked, when a check is done or not, and why."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from migratieketen.v1.arrival_pb2 import ArrivalReport
from migratieketen.v1.common_pb2 import (
    ArrivalReason,
    ArrivalSetting,
    EuSystem,
    IdentityDocument,
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
from migratieketen.v1.screening_pb2 import CheckState, HealthResult, Referral
from screening.domain import (
    SCREENING_SYSTEMS,
    SECURITY_SYSTEMS,
    eurodac_category,
    findings_from,
    identity_check,
    indicators,
    is_family_with_children,
    merge,
    pending,
    referral,
    refused_whole,
    requested_systems,
    screening_form,
    special_needs,
    system_check,
    vulnerability_check,
)

S = EuSystem
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
HIT, NO_HIT = CheckStatus.CHECK_STATUS_HIT, CheckStatus.CHECK_STATUS_NO_HIT
UNAVAILABLE, DENIED = CheckStatus.CHECK_STATUS_UNAVAILABLE, CheckStatus.CHECK_STATUS_DENIED


def arrival(age: int = 30, /, **fields: object) -> ArrivalReport:
    report = ArrivalReport(
        partner_reference="ref-1",
        setting=ArrivalSetting.ARRIVAL_SETTING_INLAND,
        claimed_age=age,
        accompanied=True,
        asylum_requested=True,
    )
    for name, value in fields.items():
        if isinstance(value, list):
            getattr(report, name).extend(value)
        else:
            setattr(report, name, value)
    return report


def answers(**statuses: CheckStatus.ValueType) -> CheckResult:
    return CheckResult(
        answers=[
            SystemAnswer(system=S.Value(f"EU_SYSTEM_{k}"), status=v) for k, v in statuses.items()
        ]
    )


def all_answered(status: CheckStatus.ValueType = NO_HIT) -> CheckResult:
    return CheckResult(answers=[SystemAnswer(system=s, status=status) for s in SCREENING_SYSTEMS])


def test_eurodac_only_from_age_six() -> None:
    assert S.EU_SYSTEM_EURODAC in requested_systems(arrival(6))
    assert requested_systems(arrival(5)) == SECURITY_SYSTEMS


def test_merge_keeps_the_latest_answer_per_system() -> None:
    first = answers(SIS=UNAVAILABLE, VIS=NO_HIT)
    merged = merge(first, answers(SIS=HIT))
    by_system = {a.system: a.status for a in merged.answers}
    assert by_system == {S.EU_SYSTEM_SIS: HIT, S.EU_SYSTEM_VIS: NO_HIT}


def test_pending_lists_systems_without_a_final_answer() -> None:
    held = answers(SIS=UNAVAILABLE, VIS=NO_HIT, ETIAS=DENIED)
    waiting = pending((S.EU_SYSTEM_SIS, S.EU_SYSTEM_VIS, S.EU_SYSTEM_ETIAS, S.EU_SYSTEM_EES), held)
    assert waiting == [S.EU_SYSTEM_SIS, S.EU_SYSTEM_EES]


def test_a_request_refused_as_a_whole_answers_for_each_system_asked() -> None:
    refused = refused_whole(CheckResult(status=UNAVAILABLE), [S.EU_SYSTEM_SIS, S.EU_SYSTEM_VIS])
    assert [(a.system, a.status) for a in refused.answers] == [
        (S.EU_SYSTEM_SIS, UNAVAILABLE),
        (S.EU_SYSTEM_VIS, UNAVAILABLE),
    ]


def test_security_check_done_when_every_system_answered() -> None:
    check = system_check("security", SECURITY_SYSTEMS, all_answered(), NOW)
    assert check.state == CheckState.CHECK_STATE_DONE
    assert check.result == "no_hit"


def test_a_check_closed_at_the_limit_names_each_missing_system_and_why() -> None:
    held = all_answered()
    held.answers[1].status = UNAVAILABLE  # SIS
    check = system_check("security", SECURITY_SYSTEMS, held, NOW, "did not answer within 3 days")
    assert check.state == CheckState.CHECK_STATE_NOT_DONE
    assert check.reason == "sis did not answer within 3 days"


def test_a_denied_system_is_not_done_with_the_gateways_reason() -> None:
    held = all_answered()
    held.answers[2].status = DENIED  # EES
    held.answers[2].reason = "partner may not consult EES"
    check = system_check("security", SECURITY_SYSTEMS, held, NOW)
    assert check.state == CheckState.CHECK_STATE_NOT_DONE
    assert "ees denied: partner may not consult EES" in check.reason


def test_eurodac_check_is_not_applicable_without_biometrics() -> None:
    check = system_check("eurodac", (), CheckResult(), NOW)
    assert check.state == CheckState.CHECK_STATE_NOT_APPLICABLE
    assert "under age 6" in check.reason


def test_a_rejected_eurodac_candidate_is_no_hit() -> None:
    held = CheckResult(
        answers=[
            SystemAnswer(
                system=S.EU_SYSTEM_EURODAC,
                status=HIT,
                member_state="IT",
                verification=EurodacVerification.EURODAC_VERIFICATION_REJECTED,
            )
        ]
    )
    findings = findings_from(held)
    assert not findings.database_hit and findings.eurodac_member_state == ""
    held.answers[0].verification = EurodacVerification.EURODAC_VERIFICATION_CONFIRMED
    assert findings_from(held).eurodac_member_state == "IT"


def test_misleading_identity_from_a_red_mid_link_or_a_suspect_document() -> None:
    red = CheckResult(
        answers=[
            SystemAnswer(
                system=S.EU_SYSTEM_MID, status=HIT, link_colour=MidLinkColour.MID_LINK_COLOUR_RED
            )
        ]
    )
    assert identity_check(arrival(), findings_from(red), NOW).result == "misleading_identity"
    yellow = CheckResult()
    yellow.CopyFrom(red)
    yellow.answers[0].link_colour = MidLinkColour.MID_LINK_COLOUR_YELLOW
    assert identity_check(arrival(), findings_from(yellow), NOW).result == "undocumented"
    forged = arrival(
        documents=[IdentityDocument(document_type="PASSPORT", suspected_fraudulent=True)]
    )
    clean = findings_from(all_answered())
    assert indicators(forged, clean).misleading_identity
    assert not indicators(arrival(), clean).misleading_identity


def test_vulnerability_signs_become_special_needs() -> None:
    signs = [
        VulnerabilityIndicator.VULNERABILITY_INDICATOR_SIGNS_OF_TRAFFICKING,
        VulnerabilityIndicator.VULNERABILITY_INDICATOR_DISABILITY,
    ]
    report = arrival(vulnerability_indicators=signs)
    assert special_needs(report) == ["possible_trafficking", "disability"]
    assert vulnerability_check(report, NOW).result == "possible_trafficking,disability"
    assert vulnerability_check(arrival(), NOW).result == "none"


def test_a_parent_travelling_with_children_is_a_family_with_children() -> None:
    parent = arrival(family_group_id="fam-1", travelling_with_children=True)
    assert is_family_with_children(parent)
    assert indicators(parent, findings_from(all_answered())).family_with_children
    assert not is_family_with_children(arrival(family_group_id="fam-2"))


@pytest.mark.parametrize(
    ("asylum", "relocation", "direction", "expected"),
    [
        (True, False, "benefiting", Referral.REFERRAL_ASYLUM),
        (True, True, "benefiting", Referral.REFERRAL_RELOCATION),
        # A contributing Netherlands relocates nobody out: the national procedure.
        (True, True, "contributing", Referral.REFERRAL_ASYLUM),
        (False, True, "benefiting", Referral.REFERRAL_RETURN),
        (False, False, "contributing", Referral.REFERRAL_RETURN),
    ],
)
def test_referral(
    asylum: bool, relocation: bool, direction: str, expected: Referral.ValueType
) -> None:
    report = arrival(asylum_requested=asylum, relocation_candidate=relocation)
    assert referral(report, direction) == expected


def test_referral_follows_the_national_position_by_default() -> None:
    report = arrival(asylum_requested=True, relocation_candidate=True)
    assert referral(report) == Referral.REFERRAL_ASYLUM  # default: contributing


def test_form_records_family_member_states_and_cooperation() -> None:
    report = arrival(family_member_states=["DE", "BE"], refused_cooperation=True)
    form = screening_form(report, findings_from(all_answered()), "needs_care")
    assert list(form.family_member_states) == ["DE", "BE"]
    assert form.cooperated is False
    assert form.health == HealthResult.HEALTH_RESULT_NEEDS_CARE


def test_indicators_name_the_checks_not_done() -> None:
    held = all_answered()
    held.answers[0].status = UNAVAILABLE  # Eurodac
    checks = [
        system_check("security", SECURITY_SYSTEMS, held, NOW, "late"),
        system_check("eurodac", (S.EU_SYSTEM_EURODAC,), held, NOW, "late"),
    ]
    result = indicators(arrival(), findings_from(held), checks)
    assert list(result.checks_not_done) == ["eurodac"]


@pytest.mark.parametrize(
    ("fields", "category"),
    [
        ({"asylum_requested": True}, EurodacCategory.EURODAC_CATEGORY_APPLICANT),
        (
            {"asylum_requested": False, "reason": ArrivalReason.ARRIVAL_REASON_SEARCH_AND_RESCUE},
            EurodacCategory.EURODAC_CATEGORY_SEARCH_AND_RESCUE,
        ),
        (
            {"asylum_requested": False, "setting": ArrivalSetting.ARRIVAL_SETTING_EXTERNAL_BORDER},
            EurodacCategory.EURODAC_CATEGORY_IRREGULAR_BORDER_CROSSER,
        ),
        ({"asylum_requested": False}, EurodacCategory.EURODAC_CATEGORY_ILLEGALLY_STAYING),
    ],
)
def test_eurodac_registration_category(
    fields: dict[str, object], category: EurodacCategory.ValueType
) -> None:
    assert eurodac_category(arrival(30, **fields)) == category


def test_a_eurodac_registration_is_a_final_answer() -> None:
    held = answers(EURODAC=CheckStatus.CHECK_STATUS_RECORDED)
    assert pending((S.EU_SYSTEM_EURODAC,), held) == []
    check = system_check("eurodac", (S.EU_SYSTEM_EURODAC,), held, NOW)
    assert (check.state, check.result) == (CheckState.CHECK_STATE_DONE, "no_hit")

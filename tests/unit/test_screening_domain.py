"""Screening rules (Regulation 2024/1356): time limit, findings, needs, form, referral."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from migratieketen.v1.arrival_pb2 import ArrivalReport
from migratieketen.v1.common_pb2 import (
    ArrivalReason,
    ArrivalSetting,
    CalendarDate,
    ClaimedIdentity,
    EuSystem,
    Gender,
    Partner,
)
from migratieketen.v1.europaloket_pb2 import CheckResult, CheckStatus, SystemAnswer
from migratieketen.v1.screening_pb2 import HealthResult, Referral, ScreeningForm
from screening.domain import (
    SCREENING_SYSTEMS,
    Findings,
    deadline,
    findings_from,
    indicators,
    referral,
    screening_form,
    special_needs,
    time_limit,
)

BORDER = ArrivalSetting.ARRIVAL_SETTING_EXTERNAL_BORDER
INLAND = ArrivalSetting.ARRIVAL_SETTING_INLAND
S = EuSystem
HIT = CheckStatus.CHECK_STATUS_HIT
NO_HIT = CheckStatus.CHECK_STATUS_NO_HIT


def arrival(
    setting: ArrivalSetting.ValueType = BORDER,
    held_hours: int = 0,
    age: int = 30,
    accompanied: bool = True,
    family_group_id: str = "",
    asylum: bool = True,
) -> ArrivalReport:
    return ArrivalReport(
        partner_reference="ref-1",
        reporting_partner=Partner.PARTNER_KMAR,
        setting=setting,
        reason=ArrivalReason.ARRIVAL_REASON_IRREGULAR_CROSSING,
        claimed_identity=ClaimedIdentity(
            family_name="Haddad",
            given_names="Rania Noor",
            date_of_birth=CalendarDate(year=1991, month=11, day=2),
            place_of_birth="Homs",
            gender=Gender.GENDER_FEMALE,
            nationalities=["SYR", "LBN"],
            stateless=False,
        ),
        claimed_age=age,
        accompanied=accompanied,
        family_group_id=family_group_id,
        asylum_requested=asylum,
        held_hours_before_screening=held_hours,
        languages=["ara", "eng"],
        countries_of_residence=["SYR", "LBN", "TUR"],
    )


def answer(
    system: EuSystem.ValueType,
    status: CheckStatus.ValueType,
    member_state: str = "",
    security: bool = False,
) -> SystemAnswer:
    return SystemAnswer(
        system=system, status=status, member_state=member_state, security_ground=security
    )


def result(*answers: SystemAnswer) -> CheckResult:
    overall = HIT if any(a.status == HIT for a in answers) else NO_HIT
    return CheckResult(
        request_id="r-1",
        v_nummer="2600000001",
        partner=Partner.PARTNER_SCREENING,
        status=overall,
        answers=list(answers),
    )


@pytest.mark.parametrize(
    ("setting", "held_hours", "limit_days"),
    [
        (BORDER, 0, 7),
        (BORDER, 24, 7),
        (BORDER, 72, 7),  # "more than 72 h": exactly 72 is not more
        (BORDER, 73, 4),
        (BORDER, 200, 4),
        (INLAND, 0, 3),
        (INLAND, 100, 3),  # the held rule is a border rule
    ],
)
def test_time_limit(setting: ArrivalSetting.ValueType, held_hours: int, limit_days: int) -> None:
    assert time_limit(arrival(setting, held_hours)) == timedelta(days=limit_days)


def test_deadline_is_start_plus_time_limit() -> None:
    started = datetime(2026, 6, 12, 9, 30, tzinfo=UTC)
    assert deadline(arrival(BORDER), started) == datetime(2026, 6, 19, 9, 30, tzinfo=UTC)
    assert deadline(arrival(INLAND), started) == datetime(2026, 6, 15, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("asylum", "expected"),
    [(True, Referral.REFERRAL_ASYLUM), (False, Referral.REFERRAL_RETURN)],
)
def test_referral(asylum: bool, expected: int) -> None:
    assert referral(arrival(asylum=asylum)) == expected


def test_screening_asks_for_the_security_systems_and_eurodac() -> None:
    assert set(SCREENING_SYSTEMS) >= {
        S.EU_SYSTEM_EURODAC,
        S.EU_SYSTEM_SIS,
        S.EU_SYSTEM_VIS,
        S.EU_SYSTEM_EES,
        S.EU_SYSTEM_ETIAS,
        S.EU_SYSTEM_ECRIS_TCN,
    }


def test_findings_without_an_answer_record_checks_not_done() -> None:
    findings = findings_from(None)
    assert not findings.database_hit
    assert findings.eurodac_member_state == ""
    assert not findings.security_flag
    assert "security" in findings.checks_not_done
    assert "eurodac" in findings.checks_not_done


def test_findings_all_clear() -> None:
    findings = findings_from(result(*(answer(s, NO_HIT) for s in SCREENING_SYSTEMS)))
    assert not findings.database_hit
    assert findings.eurodac_member_state == ""
    assert not findings.security_flag
    assert findings.checks_not_done == ()


def test_findings_eurodac_hit_names_the_member_state() -> None:
    findings = findings_from(
        result(answer(S.EU_SYSTEM_EURODAC, HIT, "IT"), answer(S.EU_SYSTEM_SIS, NO_HIT))
    )
    assert findings.database_hit
    assert findings.eurodac_member_state == "IT"
    assert not findings.security_flag


def test_findings_a_non_eurodac_hit_names_no_eurodac_state() -> None:
    findings = findings_from(result(answer(S.EU_SYSTEM_SIS, HIT, "DE")))
    assert findings.database_hit
    assert findings.eurodac_member_state == ""


@pytest.mark.parametrize(
    ("answers", "security"),
    [
        ([answer(S.EU_SYSTEM_SIS, HIT, "DE", security=True)], True),
        ([answer(S.EU_SYSTEM_ECRIS_TCN, HIT, "FR", security=True)], True),
        ([answer(S.EU_SYSTEM_SIS, HIT, "DE", security=False)], False),  # e.g. missing person
        ([answer(S.EU_SYSTEM_VIS, NO_HIT, security=True)], False),  # no hit, no flag
        ([answer(S.EU_SYSTEM_EURODAC, HIT, "GR")], False),
    ],
)
def test_findings_security_flag_needs_a_hit_on_security_grounds(
    answers: list[SystemAnswer], security: bool
) -> None:
    assert findings_from(result(*answers)).security_flag is security


def test_findings_unavailable_or_denied_systems_are_checks_not_done() -> None:
    findings = findings_from(
        result(
            answer(S.EU_SYSTEM_EURODAC, NO_HIT),
            answer(S.EU_SYSTEM_VIS, CheckStatus.CHECK_STATUS_UNAVAILABLE),
            answer(S.EU_SYSTEM_ETIAS, CheckStatus.CHECK_STATUS_DENIED),
        )
    )
    assert set(findings.checks_not_done) == {"vis", "etias"}
    assert not findings.database_hit


@pytest.mark.parametrize(
    "status", [CheckStatus.CHECK_STATUS_DENIED, CheckStatus.CHECK_STATUS_UNAVAILABLE]
)
def test_findings_a_request_refused_as_a_whole_did_no_check(
    status: CheckStatus.ValueType,
) -> None:
    refused = result()
    refused.status = status
    findings = findings_from(refused)
    assert set(findings.checks_not_done) == {"security", "eurodac"}
    assert not findings.database_hit


def test_findings_eurodac_not_applicable_is_neither_hit_nor_check_not_done() -> None:
    findings = findings_from(
        result(answer(S.EU_SYSTEM_EURODAC, CheckStatus.CHECK_STATUS_NOT_APPLICABLE))
    )
    assert not findings.database_hit
    assert findings.checks_not_done == ()


@pytest.mark.parametrize(
    ("age", "accompanied", "family", "present", "absent"),
    [
        (30, True, "", set(), {"minor", "unaccompanied_minor", "family_with_children"}),
        (18, False, "", set(), {"minor", "unaccompanied_minor"}),
        (17, True, "", {"minor"}, {"unaccompanied_minor"}),
        (10, False, "", {"minor", "unaccompanied_minor"}, set()),
        (0, False, "", {"minor", "unaccompanied_minor"}, set()),
        (15, True, "fam-7", {"minor", "family_with_children"}, {"unaccompanied_minor"}),
        # An adult is a family with children only when travelling with them.
        (35, True, "fam-7", set(), {"minor", "unaccompanied_minor", "family_with_children"}),
    ],
)
def test_special_needs(
    age: int, accompanied: bool, family: str, present: set[str], absent: set[str]
) -> None:
    needs = set(special_needs(arrival(age=age, accompanied=accompanied, family_group_id=family)))
    assert present <= needs
    assert not absent & needs


def test_single_adult_has_no_special_needs() -> None:
    assert special_needs(arrival(age=30)) == []


# Art. 17 of Regulation 2024/1356, as fields of the screening form.
ART_17_FIELDS = (
    "family_name",
    "given_names",
    "date_of_birth",
    "place_of_birth",
    "gender",
    "nationalities",
    "stateless",
    "countries_of_residence",
    "languages",
    "reason_for_screening",
    "health",
    "vulnerable",
    "special_needs",
    "asylum_applied",
    "family_member_states",
    "database_hit",
    "cooperated",
)


@pytest.mark.parametrize("field", ART_17_FIELDS)
def test_screening_form_has_the_art_17_field(field: str) -> None:
    assert field in ScreeningForm.DESCRIPTOR.fields_by_name


def test_screening_form_carries_identity_and_circumstances() -> None:
    report = arrival(age=30)
    form = screening_form(report, findings_from(None))
    identity = report.claimed_identity
    assert form.family_name == identity.family_name
    assert form.given_names == identity.given_names
    assert form.date_of_birth == identity.date_of_birth
    assert form.place_of_birth == identity.place_of_birth
    assert form.gender == identity.gender
    assert list(form.nationalities) == ["SYR", "LBN"]
    assert form.stateless is False
    assert list(form.countries_of_residence) == ["SYR", "LBN", "TUR"]
    assert list(form.languages) == ["ara", "eng"]
    assert form.reason_for_screening == ArrivalReason.ARRIVAL_REASON_IRREGULAR_CROSSING
    assert form.health != HealthResult.HEALTH_RESULT_UNSPECIFIED
    assert form.asylum_applied is True


def test_screening_form_stateless_person() -> None:
    report = arrival()
    del report.claimed_identity.nationalities[:]
    report.claimed_identity.stateless = True
    form = screening_form(report, findings_from(None))
    assert form.stateless is True
    assert list(form.nationalities) == []


@pytest.mark.parametrize("hit", [True, False])
def test_screening_form_records_whether_the_checks_hit(hit: bool) -> None:
    status = HIT if hit else NO_HIT
    findings = findings_from(result(answer(S.EU_SYSTEM_SIS, status, "DE" if hit else "")))
    assert screening_form(arrival(), findings).database_hit is hit


def test_screening_form_records_vulnerability_of_an_unaccompanied_minor() -> None:
    form = screening_form(arrival(age=12, accompanied=False), findings_from(None))
    assert form.vulnerable is True
    assert "unaccompanied_minor" in form.special_needs


def test_screening_form_of_a_single_adult_is_not_vulnerable() -> None:
    form = screening_form(arrival(age=30), findings_from(None))
    assert form.vulnerable is False
    assert list(form.special_needs) == []


def test_screening_form_without_asylum() -> None:
    assert screening_form(arrival(asylum=False), findings_from(None)).asylum_applied is False


def test_indicators_carry_the_findings() -> None:
    findings = findings_from(
        result(
            answer(S.EU_SYSTEM_EURODAC, HIT, "ES"),
            answer(S.EU_SYSTEM_SIS, HIT, "DE", security=True),
            answer(S.EU_SYSTEM_VIS, CheckStatus.CHECK_STATUS_UNAVAILABLE),
        )
    )
    ind = indicators(arrival(), findings)
    assert ind.eurodac_hit is True
    assert ind.eurodac_member_state == "ES"
    assert ind.security_flag is True
    assert list(ind.checks_not_done) == ["vis"]


def test_indicators_without_eurodac_hit() -> None:
    ind = indicators(arrival(), findings_from(result(answer(S.EU_SYSTEM_EURODAC, NO_HIT))))
    assert ind.eurodac_hit is False
    assert ind.eurodac_member_state == ""


@pytest.mark.parametrize(
    ("age", "accompanied", "family", "uam", "family_with_children"),
    [
        (12, False, "", True, False),
        (12, True, "fam-3", False, True),
        (30, True, "", False, False),
    ],
)
def test_indicators_for_minors(
    age: int, accompanied: bool, family: str, uam: bool, family_with_children: bool
) -> None:
    ind = indicators(
        arrival(age=age, accompanied=accompanied, family_group_id=family), findings_from(None)
    )
    assert ind.unaccompanied_minor is uam
    assert ind.family_with_children is family_with_children


def test_indicators_carry_what_the_ind_needs_for_dublin_and_the_regime() -> None:
    arrival = ArrivalReport(partner_reference="KMAR-1", family_group_id="F1")
    arrival.application_made_at.CopyFrom(Timestamp(seconds=1_780_000_000))
    findings = Findings(
        True, "IT", False, False, (), eurodac_category="APPLICANT", eurodac_reference="IT1",
        vis_member_state="FR", sis_alert_category="REFUSAL_OF_ENTRY", sis_action="refuse entry",
        sis_member_state="DE",
    )  # fmt: skip
    ind = indicators(arrival, findings)
    assert (ind.eurodac_category, ind.eurodac_reference) == ("APPLICANT", "IT1")
    assert ind.vis_hit and ind.vis_member_state == "FR"
    assert ind.sis_alert_category == "REFUSAL_OF_ENTRY" and ind.sirene_consultation_needed
    assert ind.application_made_at.seconds == 1_780_000_000
    assert (ind.partner_reference, ind.family_group_id) == ("KMAR-1", "F1")
    reported_only = ArrivalReport(reported_at=Timestamp(seconds=1_790_000_000))
    assert not indicators(reported_only, Findings(False, "", False, False, ())).HasField(
        "application_made_at"
    )

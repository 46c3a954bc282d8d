"""The simulated eu-LISA systems: seeded population, planted records, Dutch writes."""

from __future__ import annotations

from collections import Counter

import pytest

from europaloket.domain import DATA_SYSTEMS, Consult
from europaloket.fixtures import EurodacRecord, Fixtures, MidLink, SisAlert, VisRecord
from europaloket.systems import (
    EES_EXIT,
    EURODAC_REGISTRATION,
    SEEDED_STATES,
    SIS_DEPARTURE_PERIOD_END,
    SIS_RETURN_ALERT,
    NationalRecord,
    Population,
    Subject,
    answer,
    query,
    seeded,
    write,
)
from migratieketen.v1.common_pb2 import EuSystem
from migratieketen.v1.europaloket_pb2 import (
    CheckOperation,
    CheckPurpose,
    CheckRequest,
    CheckStatus,
    EurodacCategory,
    EurodacVerification,
    MidLinkColour,
    SystemAnswer,
)

S = EuSystem
U = CheckPurpose
SEED = 20260612
HIT = CheckStatus.CHECK_STATUS_HIT
NO_HIT = CheckStatus.CHECK_STATUS_NO_HIT
NOT_APPLICABLE = CheckStatus.CHECK_STATUS_NOT_APPLICABLE
RECORDED = CheckStatus.CHECK_STATUS_RECORDED
SCREENING = U.CHECK_PURPOSE_SCREENING_SECURITY
DUBLIN = U.CHECK_PURPOSE_ASYLUM_DUBLIN
RETURN = U.CHECK_PURPOSE_RETURN


def population(
    share: float = 0.0,
    eurodac_rejected_share: float = 0.05,
    eurodac_min_age: int = 6,
    fixtures: Fixtures | None = None,
) -> Population:
    return Population(
        seed=SEED,
        hit_share=dict.fromkeys(DATA_SYSTEMS, share),
        eurodac_rejected_share=eurodac_rejected_share,
        eurodac_min_age=eurodac_min_age,
        fixtures=fixtures or Fixtures(),
    )


def subject(n: int = 1, age: int = 30, documents: tuple[str, ...] = ()) -> Subject:
    """The n-th synthetic person, with their own V-nummer and fingerprint hash."""
    return Subject(f"{2_600_000_000 + n:010d}", f"{n:064x}", documents, age)


def hits(
    system: EuSystem.ValueType,
    pop: Population,
    n: int,
    purpose: CheckPurpose.ValueType = DUBLIN,
) -> list[SystemAnswer]:
    return [a for i in range(n) if (a := query(system, subject(i), purpose, pop)).status == HIT]


# --- the seeded population ------------------------------------------------------------


@pytest.mark.parametrize("system", DATA_SYSTEMS)
def test_same_seed_same_answers(system: EuSystem.ValueType) -> None:
    pop = population(0.3)
    for n in range(300):
        assert query(system, subject(n), DUBLIN, pop) == query(system, subject(n), DUBLIN, pop)


@pytest.mark.parametrize("system", DATA_SYSTEMS)
def test_answers_depend_on_the_fingerprints_not_the_v_nummer(system: EuSystem.ValueType) -> None:
    pop = population(0.3)
    for n in range(200):
        one = subject(n)
        other = Subject("2699999999", one.biometric_hash, (), one.claimed_age)
        assert query(system, one, DUBLIN, pop) == query(system, other, DUBLIN, pop)


@pytest.mark.parametrize("system", DATA_SYSTEMS)
def test_another_seed_gives_another_population(system: EuSystem.ValueType) -> None:
    pop = population(0.3)
    other = Population(seed=SEED + 1, hit_share=pop.hit_share)
    differing = sum(
        seeded(system, subject(n).key, pop) != seeded(system, subject(n).key, other)
        for n in range(1_000)
    )
    assert differing > 200


@pytest.mark.parametrize("system", DATA_SYSTEMS)
@pytest.mark.parametrize("share", [0.0, 0.1, 0.4, 1.0])
def test_the_share_of_persons_with_a_record_is_the_configured_share(
    system: EuSystem.ValueType, share: float
) -> None:
    pop = population(share)
    subjects = 4_000
    found = sum(seeded(system, subject(n).key, pop) is not None for n in range(subjects))
    assert found / subjects == pytest.approx(share, abs=0.025)


def test_hit_shares_are_per_system() -> None:
    pop = Population(seed=SEED, hit_share={S.EU_SYSTEM_SIS: 1.0})
    assert seeded(S.EU_SYSTEM_SIS, "x", pop) is not None
    assert seeded(S.EU_SYSTEM_VIS, "x", pop) is None


# --- Eurodac ----------------------------------------------------------------------------


@pytest.mark.parametrize("age", [0, 1, 5])
def test_eurodac_takes_no_one_under_six(age: int) -> None:
    pop = population(1.0)
    for n in range(100):
        reply = query(S.EU_SYSTEM_EURODAC, subject(n, age), SCREENING, pop)
        assert reply.status == NOT_APPLICABLE
        assert "minimum age of 6" in reply.reason


@pytest.mark.parametrize("age", [6, 7, 30])
def test_eurodac_applies_from_six(age: int) -> None:
    pop = population(1.0)
    for n in range(100):
        assert query(S.EU_SYSTEM_EURODAC, subject(n, age), SCREENING, pop).status in (
            HIT,
            NO_HIT,
        )


def test_the_eurodac_minimum_age_is_a_setting() -> None:
    pop = population(1.0, eurodac_min_age=14)
    assert query(S.EU_SYSTEM_EURODAC, subject(1, 10), SCREENING, pop).status == NOT_APPLICABLE


@pytest.mark.parametrize("system", [s for s in DATA_SYSTEMS if s != S.EU_SYSTEM_EURODAC])
def test_the_age_limit_is_a_eurodac_rule_only(system: EuSystem.ValueType) -> None:
    pop = population(1.0)
    assert query(system, subject(1, 3), DUBLIN, pop).status != NOT_APPLICABLE


def test_eurodac_needs_fingerprints() -> None:
    reply = query(S.EU_SYSTEM_EURODAC, Subject("2600000001", "", (), 30), SCREENING, population(1))
    assert reply.status == NOT_APPLICABLE and "fingerprints" in reply.reason


def test_a_eurodac_hit_names_another_state_category_and_a_reference_with_its_letters() -> None:
    found = hits(S.EU_SYSTEM_EURODAC, population(1.0, eurodac_rejected_share=0.0), 500)
    assert len(found) == 500
    assert {a.member_state for a in found} == set(SEEDED_STATES)
    for a in found:
        assert a.member_state != "NL"
        assert a.reference.startswith(a.member_state) and a.reference[2:].isdigit()
        assert EurodacCategory.Value(f"EURODAC_CATEGORY_{a.category}")
        assert a.action
        assert a.verification == EurodacVerification.EURODAC_VERIFICATION_CONFIRMED


@pytest.mark.parametrize("rejected", [0.0, 0.2, 0.5])
def test_eurodac_candidates_are_verified(rejected: float) -> None:
    pop = population(1.0, eurodac_rejected_share=rejected)
    replies = [query(S.EU_SYSTEM_EURODAC, subject(n), SCREENING, pop) for n in range(3_000)]
    verdicts = Counter(a.verification for a in replies)
    assert verdicts[EurodacVerification.EURODAC_VERIFICATION_REJECTED] / 3_000 == pytest.approx(
        rejected, abs=0.03
    )
    for a in replies:
        if a.verification == EurodacVerification.EURODAC_VERIFICATION_REJECTED:
            assert a.status == NO_HIT and a.reason and a.reference  # kept for follow-up
        else:
            assert a.status == HIT


# --- SIS, VIS, EES, ETIAS, ECRIS-TCN, MID --------------------------------------------------


def test_a_sis_hit_carries_the_alert_category_and_the_action() -> None:
    found = hits(S.EU_SYSTEM_SIS, population(1.0), 500)
    assert {a.category for a in found} == {
        "RETURN",
        "REFUSAL_OF_ENTRY",
        "ARREST",
        "MISSING_PERSON",
        "DISCREET_CHECK",
    }
    for a in found:
        assert a.action and a.reference.startswith(f"SIS-{a.member_state}-")
        assert a.security_ground is (a.category in ("REFUSAL_OF_ENTRY", "ARREST"))


@pytest.mark.parametrize(
    "system", [S.EU_SYSTEM_VIS, S.EU_SYSTEM_EES, S.EU_SYSTEM_ETIAS, S.EU_SYSTEM_ECRIS_TCN]
)
def test_screening_sees_only_records_on_security_grounds(system: EuSystem.ValueType) -> None:
    pop = population(1.0)
    for_screening = hits(system, pop, 1_000, SCREENING)
    for_dublin = hits(system, pop, 1_000, DUBLIN)
    assert for_screening and all(a.security_ground for a in for_screening)
    assert len(for_dublin) == 1_000
    assert any(not a.security_ground for a in for_dublin)


def test_ecris_tcn_names_every_state_holding_convictions() -> None:
    found = hits(S.EU_SYSTEM_ECRIS_TCN, population(1.0), 300)
    assert {len(a.member_states) for a in found} == {1, 2, 3}
    for a in found:
        assert a.member_state == a.member_states[0]
        assert len(set(a.member_states)) == len(a.member_states)


def test_mid_links_have_colours_and_green_is_no_hit() -> None:
    pop = population(1.0)
    replies = [query(S.EU_SYSTEM_MID, subject(n), SCREENING, pop) for n in range(1_000)]
    colours = Counter(MidLinkColour.Name(a.link_colour) for a in replies)
    assert set(colours) == {
        "MID_LINK_COLOUR_YELLOW",
        "MID_LINK_COLOUR_WHITE",
        "MID_LINK_COLOUR_GREEN",
        "MID_LINK_COLOUR_RED",
    }
    for a in replies:
        assert f"MID_LINK_COLOUR_{a.category}" == MidLinkColour.Name(a.link_colour)
        assert a.status == (NO_HIT if a.category == "GREEN" else HIT)
        assert a.action


# --- planted records ----------------------------------------------------------------------


def test_a_planted_record_replaces_the_seeded_one() -> None:
    person = subject(7)
    planted = Fixtures(
        eurodac=[
            EurodacRecord(
                biometric_hash=person.biometric_hash,
                member_state="IT",
                category="IRREGULAR_BORDER_CROSSER",
                reference="IT123",
            )
        ]
    )
    pop = population(1.0, fixtures=planted)
    for _ in range(3):
        reply = query(S.EU_SYSTEM_EURODAC, person, SCREENING, pop)
        assert (reply.status, reply.member_state, reply.reference) == (HIT, "IT", "IT123")
        assert reply.category == "IRREGULAR_BORDER_CROSSER"
    assert query(S.EU_SYSTEM_EURODAC, subject(8), SCREENING, pop).member_state in SEEDED_STATES


def test_the_seeded_population_adds_nothing_for_a_planted_person() -> None:
    """A planted visa that screening may not see leaves screening with no hit, even
    where the seeded population would have had a refusal on security grounds."""
    people = [subject(n) for n in range(300)]
    planted = Fixtures(
        vis=[
            VisRecord(biometric_hash=p.biometric_hash, member_state="FR", record="ISSUED")
            for p in people
        ]
    )
    pop = population(1.0, fixtures=planted)
    drawn = [seeded(S.EU_SYSTEM_VIS, p.key, pop) for p in people]
    assert any(d is not None and d.security_ground for d in drawn)
    for person in people:
        assert query(S.EU_SYSTEM_VIS, person, SCREENING, pop).status == NO_HIT
        assert query(S.EU_SYSTEM_VIS, person, DUBLIN, pop).category == "VISA_ISSUED"


def test_planted_records_are_found_by_v_nummer_document_or_fingerprints() -> None:
    planted = Fixtures(
        sis=[SisAlert(v_nummer="2600000001", member_state="DE", category="REFUSAL_OF_ENTRY")],
        vis=[
            VisRecord(
                document_number="P1", member_state="FR", record="REFUSED", security_ground=True
            )
        ],
        mid=[MidLink(biometric_hash=f"{3:064x}", colour="RED")],
    )
    pop = population(0.0, fixtures=planted)
    sis = query(S.EU_SYSTEM_SIS, subject(1), SCREENING, pop)
    assert (sis.status, sis.category, sis.member_state) == (HIT, "REFUSAL_OF_ENTRY", "DE")
    assert sis.action == "refuse entry or stay" and sis.security_ground
    vis = query(S.EU_SYSTEM_VIS, subject(2, documents=("P0", "P1")), SCREENING, pop)
    assert (vis.status, vis.category) == (HIT, "VISA_REFUSED")
    mid = query(S.EU_SYSTEM_MID, subject(3), SCREENING, pop)
    assert (mid.status, mid.link_colour) == (HIT, MidLinkColour.MID_LINK_COLOUR_RED)
    for n in (4, 5):
        for system in DATA_SYSTEMS:
            assert query(system, subject(n), SCREENING, pop).status in (NO_HIT, NOT_APPLICABLE)


def test_a_planted_eurodac_candidate_can_be_rejected() -> None:
    person = subject(9)
    planted = Fixtures(
        eurodac=[
            EurodacRecord(
                biometric_hash=person.biometric_hash,
                member_state="GR",
                category="APPLICANT",
                verification="REJECTED",
            )
        ]
    )
    reply = query(S.EU_SYSTEM_EURODAC, person, SCREENING, population(fixtures=planted))
    assert reply.status == NO_HIT
    assert reply.verification == EurodacVerification.EURODAC_VERIFICATION_REJECTED
    assert reply.reference.startswith("GR")


# --- writes -----------------------------------------------------------------------------------


def write_request(
    operation: CheckOperation.ValueType,
    n: int = 1,
    age: int = 30,
    eurodac_category: EurodacCategory.ValueType = EurodacCategory.EURODAC_CATEGORY_UNSPECIFIED,
) -> CheckRequest:
    person = subject(n, age)
    request = CheckRequest(
        request_id=f"req-{n}",
        v_nummer=person.v_nummer,
        biometric_template_hash=person.biometric_hash if age >= 6 else "",
        claimed_age=age,
        operation=operation,
        eurodac_category=eurodac_category,
    )
    request.occurred_at.FromSeconds(1_800_000_000)
    return request


def do(
    request: CheckRequest, pop: Population, national: tuple[NationalRecord, ...] = ()
) -> tuple[SystemAnswer, NationalRecord | None]:
    return write(request.operation, Subject.of(request), request, pop, national)


def stored(
    request: CheckRequest, pop: Population, national: tuple[NationalRecord, ...] = ()
) -> tuple[SystemAnswer, NationalRecord]:
    reply, record = do(request, pop, national)
    assert record is not None, reply
    return reply, record


APPLICANT = EurodacCategory.EURODAC_CATEGORY_APPLICANT


def test_eurodac_registers_adults_under_a_category() -> None:
    request = write_request(CheckOperation.CHECK_OPERATION_REGISTER, eurodac_category=APPLICANT)
    reply, record = stored(request, population())
    assert reply.status == RECORDED and reply.category == "APPLICANT"
    assert reply.recorded_reference.startswith("NL")
    assert record.kind == EURODAC_REGISTRATION and record.reference == reply.recorded_reference
    assert do(request, population())[0].recorded_reference == reply.recorded_reference


def test_a_registration_that_hits_reports_the_hit_and_is_still_recorded() -> None:
    request = write_request(CheckOperation.CHECK_OPERATION_REGISTER, eurodac_category=APPLICANT)
    reply, _ = stored(request, population(1.0, eurodac_rejected_share=0.0))
    assert reply.status == HIT and reply.member_state != "NL"
    assert reply.recorded_reference.startswith("NL")


@pytest.mark.parametrize("age", [0, 3, 5])
def test_no_eurodac_registration_under_six(age: int) -> None:
    request = write_request(
        CheckOperation.CHECK_OPERATION_REGISTER, age=age, eurodac_category=APPLICANT
    )
    reply, record = do(request, population(1.0))
    assert reply.status == NOT_APPLICABLE and record is None
    assert not reply.recorded_reference


def test_a_registration_needs_a_category() -> None:
    reply, record = do(write_request(CheckOperation.CHECK_OPERATION_REGISTER), population())
    assert reply.status == NOT_APPLICABLE and "category" in reply.reason and record is None


def test_a_return_alert_is_then_found_in_sis_and_its_period_end_recorded() -> None:
    pop = population()
    alert, record = stored(write_request(CheckOperation.CHECK_OPERATION_CREATE_RETURN_ALERT), pop)
    assert alert.status == RECORDED and alert.category == "RETURN" and alert.member_state == "NL"
    assert record.kind == SIS_RETURN_ALERT and alert.recorded_reference.startswith("SIS-NL-")
    person = subject(1)
    found = query(S.EU_SYSTEM_SIS, person, RETURN, pop, (record,))
    assert (found.status, found.category, found.member_state) == (HIT, "RETURN", "NL")
    assert "ended" not in found.action
    ended, end_record = stored(
        write_request(CheckOperation.CHECK_OPERATION_RECORD_DEPARTURE_PERIOD_END), pop, (record,)
    )
    assert ended.status == RECORDED and end_record.kind == SIS_DEPARTURE_PERIOD_END
    later = query(S.EU_SYSTEM_SIS, person, RETURN, pop, (record, end_record))
    assert "departure period has ended" in later.action


def test_a_deleted_return_alert_is_no_longer_found() -> None:
    pop = population()
    _, record = stored(write_request(CheckOperation.CHECK_OPERATION_CREATE_RETURN_ALERT), pop)
    gone, deletion = stored(
        write_request(CheckOperation.CHECK_OPERATION_DELETE_RETURN_ALERT), pop, (record,)
    )
    assert gone.status == RECORDED and gone.recorded_reference == record.reference
    assert query(S.EU_SYSTEM_SIS, subject(1), RETURN, pop, (record, deletion)).status == NO_HIT
    again, _ = do(
        write_request(CheckOperation.CHECK_OPERATION_DELETE_RETURN_ALERT), pop, (record, deletion)
    )
    assert again.status == NOT_APPLICABLE


def test_the_end_of_a_departure_period_needs_a_return_alert() -> None:
    reply, record = do(
        write_request(CheckOperation.CHECK_OPERATION_RECORD_DEPARTURE_PERIOD_END), population()
    )
    assert reply.status == NOT_APPLICABLE and record is None


def test_ees_records_an_exit_that_return_queries_see_and_screening_does_not() -> None:
    pop = population()
    reply, record = stored(write_request(CheckOperation.CHECK_OPERATION_RECORD_EXIT), pop)
    assert reply.status == RECORDED and record.kind == EES_EXIT
    person = subject(1)
    seen = query(S.EU_SYSTEM_EES, person, RETURN, pop, (record,))
    assert (seen.status, seen.category) == (HIT, "EXIT_RECORDED")
    assert query(S.EU_SYSTEM_EES, person, SCREENING, pop, (record,)).status == NO_HIT


def test_records_of_another_person_are_not_found() -> None:
    pop = population()
    _, record = stored(write_request(CheckOperation.CHECK_OPERATION_CREATE_RETURN_ALERT, n=1), pop)
    assert query(S.EU_SYSTEM_SIS, subject(2), RETURN, pop, (record,)).status == NO_HIT


def test_an_answer_through_the_esp_says_so() -> None:
    request = CheckRequest(v_nummer="2600000001", purpose=SCREENING, claimed_age=30)
    reply, _ = answer(Consult(S.EU_SYSTEM_SIS, via=S.EU_SYSTEM_ESP), request, population())
    assert reply.via == S.EU_SYSTEM_ESP and reply.system == S.EU_SYSTEM_SIS

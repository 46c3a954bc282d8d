"""The Europaloket in scenarios with planted records and a fixed seed: Eurodac hit in
another state, SIS refusal of entry, red MID link, a child under 6, a denied partner,
DTenV's return alert and exit, and the audit log behind all of it."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from chainctl.traces import case_traces
from e2e.europaloket_helpers import (
    DATA_SYSTEMS,
    PATIENT_SCREENING,
    Running,
    answers_to,
    arrival,
    ask,
    events,
    everything,
    fingerprint,
    request_id,
    rows,
    running,
    send,
)
from migratieketen.v1.arrival_pb2 import ArrivalReport
from migratieketen.v1.bvv_pb2 import PersonRegistered
from migratieketen.v1.common_pb2 import EuSystem, Partner
from migratieketen.v1.europaloket_pb2 import (
    CheckOperation,
    CheckPurpose,
    CheckRequest,
    CheckResult,
    CheckStatus,
    EurodacCategory,
    EurodacVerification,
    MidLinkColour,
    SystemAnswer,
)
from migratieketen.v1.outcome_pb2 import CaseOutcome
from migratieketen.v1.screening_pb2 import ScreeningCompleted
from returns.domain import DELETE_ALERT, departure_records, period_end_records

pytestmark = pytest.mark.e2e

S = EuSystem
HIT = CheckStatus.CHECK_STATUS_HIT
RECORDED = CheckStatus.CHECK_STATUS_RECORDED
SEED = 4242
DOCUMENT = "E2E-DOC-000417"

FIXTURES = f"""
[[eurodac]]
biometric_hash = "{fingerprint("EURODAC-IT")}"
member_state = "IT"
category = "IRREGULAR_BORDER_CROSSER"
reference = "IT2026000417"

[[eurodac]]
biometric_hash = "{fingerprint("EURODAC-REJECTED")}"
member_state = "GR"
category = "APPLICANT"
verification = "REJECTED"

[[sis]]
biometric_hash = "{fingerprint("SIS-REFUSAL")}"
member_state = "DE"
category = "REFUSAL_OF_ENTRY"

[[mid]]
biometric_hash = "{fingerprint("MID-RED")}"
colour = "RED"

[[vis]]
document_number = "{DOCUMENT}"
member_state = "FR"
record = "REFUSED"
security_ground = true
"""

PEOPLE = {
    "EURODAC-IT": arrival("EURODAC-IT", biometric_hash=fingerprint("EURODAC-IT")),
    "EURODAC-REJECTED": arrival("EURODAC-REJECTED", biometric_hash=fingerprint("EURODAC-REJECTED")),
    "SIS-REFUSAL": arrival("SIS-REFUSAL", biometric_hash=fingerprint("SIS-REFUSAL")),
    "MID-RED": arrival("MID-RED", biometric_hash=fingerprint("MID-RED")),
    "CHILD": arrival("CHILD", age=4),
    **{
        f"RETURNER-{n}": arrival(f"RETURNER-{n}", asylum=False, document_number=f"{DOCUMENT}{n}")
        for n in range(3)
    },
}
RETURNERS = [p for p in PEOPLE if p.startswith("RETURNER")]


@dataclass
class World:
    running: Running
    v: dict[str, str]  # person -> V-nummer
    screened: dict[str, ScreeningCompleted]
    outcomes: dict[str, CaseOutcome]
    own: list[CheckRequest] = field(default_factory=list)  # sent by the tests themselves

    @property
    def bootstrap(self) -> str:
        return self.running.bootstrap_servers

    async def results_for(self, person: str, partner: Partner.ValueType) -> list[CheckResult]:
        """The gateway's answers to the chain's requests about this person."""
        requests = await everything(self.bootstrap, CheckRequest)
        v = self.v[person]
        ids = {r.request_id for _, r in requests if r.v_nummer == v and r.partner == partner}
        found = await answers_to(self.bootstrap, ids)
        return [result for answers in found.values() for _, result in answers]

    async def answer_of(
        self, person: str, partner: Partner.ValueType, system: EuSystem.ValueType
    ) -> tuple[CheckResult, SystemAnswer]:
        """The one answer of `system` among the chain's requests about this person
        (screening sends a Eurodac registration and a security query)."""
        found = [
            (result, answer)
            for result in await self.results_for(person, partner)
            for answer in result.answers
            if answer.system == system
        ]
        assert len(found) == 1, f"{len(found)} answers of {S.Name(system)} for {person}"
        return found[0]

    async def ask(self, request: CheckRequest) -> CheckResult:
        self.own.append(request)
        return await ask(self.running, request)


def the(answers: list[SystemAnswer], system: EuSystem.ValueType) -> SystemAnswer:
    (found,) = [a for a in answers if a.system == system]
    return found


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    data_dir = tmp_path_factory.mktemp("europaloket-scenarios")
    fixtures = data_dir / "planted.toml"
    fixtures.write_text(FIXTURES, "utf-8")
    env = {
        "MK_EUROPALOKET_FIXTURES": str(fixtures),
        **{f"MK_EUROPALOKET_{s}__HIT_SHARE": "0" for s in DATA_SYSTEMS},
        **PATIENT_SCREENING,
    }
    services = ("bvv", "screening", "europaloket", "returns")
    async with running(data_dir, services, env, SEED) as chain:
        await send(chain.bootstrap_servers, *PEOPLE.values())
        refs = {r.partner_reference: name for name, r in PEOPLE.items()}
        registered = await events(
            chain.bootstrap_servers,
            PersonRegistered,
            lambda es: refs.keys() <= {e.arrival.partner_reference for e in es},
        )
        v = {refs[e.arrival.partner_reference]: e.v_nummer for _, e in registered}
        screened = await events(
            chain.bootstrap_servers,
            ScreeningCompleted,
            lambda es: set(v.values()) <= {e.v_nummer for e in es},
        )
        returners = {v[p] for p in RETURNERS}
        outcomes = await events(
            chain.bootstrap_servers,
            CaseOutcome,
            lambda es: returners <= {e.v_nummer for e in es},
        )
        by_v = {number: person for person, number in v.items()}
        yield World(
            chain,
            v,
            {by_v[e.v_nummer]: e for _, e in screened if e.v_nummer in by_v},
            {by_v[e.v_nummer]: e for _, e in outcomes if e.v_nummer in by_v},
        )


async def test_a_person_with_a_eurodac_hit_in_another_state(world: World) -> None:
    result, eurodac = await world.answer_of(
        "EURODAC-IT", Partner.PARTNER_SCREENING, S.EU_SYSTEM_EURODAC
    )
    assert (eurodac.status, eurodac.member_state, eurodac.reference) == (HIT, "IT", "IT2026000417")
    assert eurodac.recorded_reference.startswith("NL"), "registered, and the search hit"
    assert eurodac.category == "IRREGULAR_BORDER_CROSSER"
    assert eurodac.verification == EurodacVerification.EURODAC_VERIFICATION_CONFIRMED
    assert eurodac.action == "take charge request to the member state of first entry"
    assert result.status == HIT
    indicators = world.screened["EURODAC-IT"].indicators
    assert indicators.eurodac_hit and indicators.eurodac_member_state == "IT"
    # Seeded shares are 0 here: nothing else hits.
    every = await world.results_for("EURODAC-IT", Partner.PARTNER_SCREENING)
    hits = [a.system for r in every for a in r.answers if a.status == HIT]
    assert hits == [S.EU_SYSTEM_EURODAC]


async def test_a_eurodac_candidate_the_expert_rejects_is_no_hit(world: World) -> None:
    _, eurodac = await world.answer_of(
        "EURODAC-REJECTED", Partner.PARTNER_SCREENING, S.EU_SYSTEM_EURODAC
    )
    assert eurodac.status == RECORDED, "registered; the rejected candidate is no hit"
    assert eurodac.verification == EurodacVerification.EURODAC_VERIFICATION_REJECTED
    assert eurodac.reference.startswith("GR")
    assert not world.screened["EURODAC-REJECTED"].indicators.eurodac_member_state


async def test_eurodac_spans_sit_in_the_case_trace(world: World) -> None:
    v = world.v["EURODAC-IT"]
    for _ in range(40):  # spans are exported in batches
        traces = case_traces(world.running.trace_dir, v)
        spans = [s for t in traces.values() for s in t if s.name == "europaloket EURODAC"]
        if spans:
            break
        await asyncio.sleep(0.25)
    assert len(traces) == 1, "the system calls continue the case's one trace"
    (span,) = spans
    assert span.attributes["europaloket.system"] == "EURODAC"
    assert span.attributes["europaloket.result"] == "HIT"
    assert span.attributes["case.v_nummer"] == v and span.attributes["case.stage"] == "eu-check"


async def test_a_person_with_a_sis_refusal_of_entry_alert(world: World) -> None:
    _, sis = await world.answer_of("SIS-REFUSAL", Partner.PARTNER_SCREENING, S.EU_SYSTEM_SIS)
    assert (sis.status, sis.category, sis.member_state) == (HIT, "REFUSAL_OF_ENTRY", "DE")
    assert sis.action == "refuse entry or stay" and sis.security_ground
    assert sis.reference.startswith("SIS-DE-")
    assert world.screened["SIS-REFUSAL"].indicators.security_flag


async def test_a_person_with_a_red_mid_link(world: World) -> None:
    person = PEOPLE["MID-RED"]
    direct = await world.ask(
        CheckRequest(
            request_id=request_id(),
            v_nummer=world.v["MID-RED"],
            partner=Partner.PARTNER_KMAR,
            purpose=CheckPurpose.CHECK_PURPOSE_SCREENING_IDENTIFICATION,
            systems=[S.EU_SYSTEM_MID],
            biometric_template_hash=person.biometrics.template_hash,
            claimed_age=person.claimed_age,
        )
    )
    mid = the(list(direct.answers), S.EU_SYSTEM_MID)
    assert (mid.status, mid.link_colour, mid.category) == (
        HIT,
        MidLinkColour.MID_LINK_COLOUR_RED,
        "RED",
    )
    assert mid.action == "identity fraud: refer for investigation"
    # Whatever the chain itself asked MID about this person gave the same link.
    for result in await world.results_for("MID-RED", Partner.PARTNER_SCREENING):
        for answer in result.answers:
            if answer.system == S.EU_SYSTEM_MID:
                assert answer.link_colour == MidLinkColour.MID_LINK_COLOUR_RED


async def test_one_esp_query_reaches_every_system_the_partner_may_see(world: World) -> None:
    person = PEOPLE["MID-RED"]
    result = await world.ask(
        CheckRequest(
            request_id=request_id(),
            v_nummer=world.v["MID-RED"],
            partner=Partner.PARTNER_KMAR,
            purpose=CheckPurpose.CHECK_PURPOSE_SCREENING_SECURITY,
            systems=[S.EU_SYSTEM_ESP],
            biometric_template_hash=person.biometrics.template_hash,
            document_numbers=[DOCUMENT],
            claimed_age=person.claimed_age,
        )
    )
    assert [S.Name(a.system).removeprefix("EU_SYSTEM_") for a in result.answers] == list(
        DATA_SYSTEMS
    )
    assert all(a.via == S.EU_SYSTEM_ESP for a in result.answers)
    mid = the(list(result.answers), S.EU_SYSTEM_MID)
    assert mid.link_colour == MidLinkColour.MID_LINK_COLOUR_RED
    vis = the(list(result.answers), S.EU_SYSTEM_VIS)  # planted by document number
    assert (vis.status, vis.category, vis.member_state) == (HIT, "VISA_REFUSED", "FR")
    dublin = await world.ask(
        CheckRequest(
            request_id=request_id(),
            v_nummer=world.v["MID-RED"],
            partner=Partner.PARTNER_IND,
            purpose=CheckPurpose.CHECK_PURPOSE_ASYLUM_DUBLIN,
            systems=[S.EU_SYSTEM_ESP],
            biometric_template_hash=person.biometrics.template_hash,
            claimed_age=person.claimed_age,
        )
    )
    assert [a.system for a in dublin.answers] == [S.EU_SYSTEM_EURODAC, S.EU_SYSTEM_VIS]


async def test_a_child_under_six_is_not_registered_in_eurodac(world: World) -> None:
    for result in await world.results_for("CHILD", Partner.PARTNER_SCREENING):
        for answer in result.answers:
            if answer.system == S.EU_SYSTEM_EURODAC:
                assert answer.status == CheckStatus.CHECK_STATUS_NOT_APPLICABLE
    assert world.screened["CHILD"].v_nummer == world.v["CHILD"]

    def register(person: str) -> CheckRequest:
        report = PEOPLE[person]
        return CheckRequest(
            request_id=request_id(),
            v_nummer=world.v[person],
            partner=Partner.PARTNER_KMAR,
            purpose=CheckPurpose.CHECK_PURPOSE_SCREENING_IDENTIFICATION,
            systems=[S.EU_SYSTEM_EURODAC],
            biometric_template_hash=report.biometrics.template_hash,
            claimed_age=report.claimed_age,
            operation=CheckOperation.CHECK_OPERATION_REGISTER,
            eurodac_category=EurodacCategory.EURODAC_CATEGORY_APPLICANT,
        )

    child = the(list((await world.ask(register("CHILD"))).answers), S.EU_SYSTEM_EURODAC)
    assert child.status == CheckStatus.CHECK_STATUS_NOT_APPLICABLE
    assert "minimum age of 6" in child.reason and not child.recorded_reference
    adult = the(list((await world.ask(register("SIS-REFUSAL"))).answers), S.EU_SYSTEM_EURODAC)
    assert adult.status == RECORDED and adult.recorded_reference.startswith("NL")
    registered = rows(
        world.running.data_dir,
        "europaloket",
        "SELECT v_nummer, reference FROM national_records WHERE kind = 'EURODAC_REGISTRATION'",
    )
    pairs = {(r["v_nummer"], r["reference"]) for r in registered}
    # Screening registered every person of 6 and over; the partner's second registration
    # of the same person was stored once; the child was never registered.
    assert (world.v["SIS-REFUSAL"], adult.recorded_reference) in pairs
    assert len(pairs) == len({v for v, _ in pairs})
    assert {v for v, _ in pairs} == {
        world.v[p] for p, report in PEOPLE.items() if report.claimed_age >= 6
    }


async def test_a_partner_is_denied_a_system_it_may_not_consult(world: World) -> None:
    coa = await world.ask(
        CheckRequest(
            request_id=request_id(),
            v_nummer=world.v["SIS-REFUSAL"],
            partner=Partner.PARTNER_COA,
            purpose=CheckPurpose.CHECK_PURPOSE_RETURN,
            systems=[S.EU_SYSTEM_SIS],
        )
    )
    assert coa.status == CheckStatus.CHECK_STATUS_DENIED
    (answer,) = coa.answers
    assert answer.status == CheckStatus.CHECK_STATUS_DENIED
    assert answer.reason == "PARTNER_COA may not consult SIS for CHECK_PURPOSE_RETURN"
    ind = await world.ask(
        CheckRequest(
            request_id=request_id(),
            v_nummer=world.v["SIS-REFUSAL"],
            partner=Partner.PARTNER_IND,
            purpose=CheckPurpose.CHECK_PURPOSE_ASYLUM_DUBLIN,
            systems=[S.EU_SYSTEM_EURODAC, S.EU_SYSTEM_ECRIS_TCN],
        )
    )
    assert ind.status == CheckStatus.CHECK_STATUS_DENIED
    assert [a.system for a in ind.answers] == [S.EU_SYSTEM_ECRIS_TCN]
    audited = rows(
        world.running.data_dir,
        "europaloket",
        "SELECT request_id, result_class, reason FROM audit WHERE result_class = 'DENIED'",
    )
    assert {r["request_id"]: r["reason"] for r in audited} == {
        coa.request_id: answer.reason,
        ind.request_id: ind.answers[0].reason,
    }


async def test_dtenv_records_the_return_alert_and_how_the_departure_ended(world: World) -> None:
    for person in RETURNERS:
        outcome = world.outcomes[person].outcome
        expected = [
            CheckOperation.CHECK_OPERATION_CREATE_RETURN_ALERT,
            *period_end_records(outcome),
            *departure_records(outcome),
        ]
        for _ in range(40):  # the last record goes out with the outcome
            results = await world.results_for(person, Partner.PARTNER_DTENV)
            if len(results) >= len(expected):
                break
            await asyncio.sleep(0.25)
        assert sorted(r.operation for r in results) == sorted(expected)
        assert all(r.status == RECORDED for r in results)
        kept = rows(
            world.running.data_dir,
            "returns",
            "SELECT state, status FROM eu_requests WHERE v_nummer = ?",
            world.v[person],
        )
        assert [(r["state"], r["status"]) for r in kept] == [
            ("answered", "CHECK_STATUS_RECORDED")
        ] * len(expected)
        sis = await world.ask(
            CheckRequest(
                request_id=request_id(),
                v_nummer=world.v[person],
                partner=Partner.PARTNER_DTENV,
                purpose=CheckPurpose.CHECK_PURPOSE_RETURN,
                systems=[S.EU_SYSTEM_SIS],
            )
        )
        alert = the(list(sis.answers), S.EU_SYSTEM_SIS)
        if DELETE_ALERT in expected:  # the person left: the alert is deleted
            assert alert.status != HIT
            continue
        assert (alert.status, alert.category, alert.member_state) == (HIT, "RETURN", "NL")
        ended = CheckOperation.CHECK_OPERATION_RECORD_DEPARTURE_PERIOD_END in expected
        assert ("departure period has ended" in alert.action) is ended


async def test_the_audit_log_holds_one_record_per_query_and_no_personal_data(
    world: World,
) -> None:
    requests = await everything(world.bootstrap, CheckRequest)
    asked = {r.request_id for _, r in requests}
    assert {r.request_id for r in world.own} <= asked
    answered = await answers_to(world.bootstrap, asked, settle=1.0)
    assert all(len({ce for ce, _ in answers}) == 1 for answers in answered.values())
    audited = rows(world.running.data_dir, "europaloket", "SELECT * FROM audit")
    assert sorted(r["request_id"] for r in audited) == sorted(asked), "one record per request"
    for row in audited:
        assert row["partner"] and row["purpose"] and row["systems"] and row["result_class"]
        assert row["at"] > 0 and row["latency_ms"] >= 0
    dump = json.dumps([dict(r) for r in audited])
    for report in PEOPLE.values():
        assert not _personal(report) & _words(dump), "personal data in the audit log"
    traces = [p.read_text("utf-8") for p in world.running.trace_dir.glob("*.jsonl")]
    logs = [p.read_text("utf-8") for p in (world.running.data_dir / "logs").glob("*.log")]
    for text in traces + logs:
        for report in PEOPLE.values():
            secrets = {report.biometrics.template_hash}
            secrets |= {d.document_number for d in report.documents}
            assert not any(s and s in text for s in secrets), "personal data in spans or logs"

    v = world.v["SIS-REFUSAL"]
    command = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "europaloket.audit",
        "--v-nummer",
        v,
        "--json",
        env={**os.environ, "MK_DATA_DIR": str(world.running.data_dir)},
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await command.communicate()
    assert command.returncode == 0
    printed = [json.loads(line) for line in out.decode().splitlines()]
    assert {p["v_nummer"] for p in printed} == {v}
    assert sorted(p["request_id"] for p in printed) == sorted(
        r["request_id"] for r in audited if r["v_nummer"] == v
    )
    assert {"DENIED", "RECORDED", "HIT"} <= {p["result_class"] for p in printed}


def _personal(report: ArrivalReport) -> set[str]:
    identity = report.claimed_identity
    values = {identity.family_name, identity.given_names, report.biometrics.template_hash}
    values |= {d.document_number for d in report.documents}
    return {v for v in values if v}


def _words(text: str) -> set[str]:
    return set(text.replace('"', " ").replace(",", " ").split())

"""Identification and screening as the Screening Regulation requires: a table of arrival
scenarios and what the chain must make of them (referral, form, V-nummer behaviour)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chainctl.broker import EmbeddedBroker, ensure_topics
from chainctl.chain import Chain
from chainctl.watch import CaseBook, ChainWatch, feed
from chainkit.clock import timestamp
from chainkit.telemetry import setup_telemetry
from migratieketen.v1.arrival_pb2 import ArrivalReport
from migratieketen.v1.bvv_pb2 import IdentificationBasis
from migratieketen.v1.common_pb2 import (
    ArrivalReason,
    ArrivalSetting,
    BiometricReference,
    CalendarDate,
    ClaimedIdentity,
    IdentityDocument,
    Partner,
    PilSourceLevel,
    VulnerabilityIndicator,
)
from migratieketen.v1.screening_pb2 import (
    CheckState,
    HealthResult,
    Referral,
    ScreeningCompleted,
)

pytestmark = pytest.mark.e2e

# One simulated day per real second: every check can finish inside its limit, so a check
# recorded as not done here is a defect, not the clock.
SECONDS_PER_DAY = 1.0
TODAY = datetime.now(UTC)
BORDER, INLAND = (
    ArrivalSetting.ARRIVAL_SETTING_EXTERNAL_BORDER,
    ArrivalSetting.ARRIVAL_SETTING_INLAND,
)
R = Referral
FIXTURES = """
[[eurodac]]
biometric_hash = "{eurodac_hash}"
member_state = "IT"
category = "APPLICANT"

[[sis]]
document_number = "SISDOC0001"
member_state = "DE"
category = "REFUSAL_OF_ENTRY"
"""


def template(name: str) -> str:
    return hashlib.sha256(f"scenario|{name}".encode()).hexdigest()


def report(
    ref: str,
    *,
    setting: ArrivalSetting.ValueType = INLAND,
    age: int = 30,
    asylum: bool = True,
    bio: str | None = "",
    family: str = "",
    names: tuple[str, str] = ("Haddad", "Rania"),
    source: PilSourceLevel.ValueType = PilSourceLevel.PIL_SOURCE_LEVEL_OWN_STATEMENT,
    **fields: object,
) -> ArrivalReport:
    """A valid report; `bio` None means no biometrics, "" a template of its own."""
    border = setting == BORDER
    arrival = ArrivalReport(
        partner_reference=f"SCN-{ref}",
        reporting_partner=Partner.PARTNER_KMAR if border else Partner.PARTNER_AVIM,
        setting=setting,
        reason=(
            (
                ArrivalReason.ARRIVAL_REASON_ASYLUM_AT_BORDER_CROSSING_POINT
                if asylum
                else ArrivalReason.ARRIVAL_REASON_IRREGULAR_CROSSING
            )
            if border
            else (
                ArrivalReason.ARRIVAL_REASON_ASYLUM_INLAND
                if asylum
                else ArrivalReason.ARRIVAL_REASON_ILLEGALLY_STAYING
            )
        ),
        location="Schiphol" if border else "Ter Apel",
        reported_at=timestamp(TODAY),
        claimed_identity=ClaimedIdentity(
            family_name=names[0],
            given_names=names[1],
            date_of_birth=CalendarDate(year=TODAY.year - age - 1, month=12, day=1),
            nationalities=["SYR"],
            source_level=source,
        ),
        claimed_age=age,
        accompanied=True,
        asylum_requested=asylum,
        family_group_id=family,
        languages=["ar"],
        countries_of_residence=["SYR"],
    )
    if bio is not None:
        arrival.biometrics.CopyFrom(
            BiometricReference(template_reference=f"bio-{ref}", template_hash=bio or template(ref))
        )
    for name, value in fields.items():
        if isinstance(value, list):
            getattr(arrival, name).extend(value)
        elif isinstance(value, CalendarDate):
            getattr(arrival, name).CopyFrom(value)
        else:
            setattr(arrival, name, value)
    return arrival


@dataclass
class ScreeningChain:
    bootstrap: str
    data_dir: Path


@pytest.fixture(scope="module")
def screening_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScreeningChain]:
    data_dir = tmp_path_factory.mktemp("screening")
    fixtures = data_dir / "fixtures.toml"
    fixtures.write_text(FIXTURES.format(eurodac_hash=template("eurodac-hit")))
    quiet = {  # no random hits: only what the fixture file plants
        f"MK_EUROPALOKET_{system}__HIT_SHARE": "0"
        for system in ("EURODAC", "SIS", "VIS", "EES", "ETIAS", "ECRIS_TCN", "MID")
    }
    with EmbeddedBroker() as broker:
        asyncio.run(ensure_topics(broker.bootstrap_servers))
        chain = Chain(
            broker.bootstrap_servers,
            data_dir,
            seconds_per_day=SECONDS_PER_DAY,
            services=("bvv", "screening", "europaloket"),
            extra_env={"MK_EUROPALOKET_FIXTURES": str(fixtures), **quiet},
        )
        with chain:
            chain.wait_ready(timeout=90)
            yield ScreeningChain(broker.bootstrap_servers, data_dir)


async def run(chain: ScreeningChain, reports: list[ArrivalReport]) -> CaseBook:
    """Feed the reports one by one (order matters for identification) and wait until
    each is rejected or screened."""
    provider = setup_telemetry("partner", chain.data_dir / "traces")
    watch = ChainWatch(chain.bootstrap)
    await watch.start()
    try:
        for arrival in reports:
            await feed(chain.bootstrap, [arrival], provider)
            registered = await watch.until(_answered(arrival.partner_reference), 60)
            assert registered, f"{arrival.partner_reference}: neither registered nor rejected"

        def screened(book: CaseBook) -> bool:
            return all(
                r.partner_reference in book.rejected
                or _screening_of(book, r.partner_reference) is not None
                for r in reports
            )

        assert await watch.until(screened, 90), "not every registered report was screened"
        return watch.book
    finally:
        await watch.stop()
        provider.shutdown()


def _answered(ref: str) -> Callable[[CaseBook], bool]:
    def answered(book: CaseBook) -> bool:
        return ref in book.rejected or ref in book.registered

    return answered


def _screening_of(book: CaseBook, ref: str) -> ScreeningCompleted | None:
    """The screening that covered this report's registration: one that was open then, or
    began after it (a screening that ended before says nothing about this report)."""
    registered = book.registered.get(ref)
    if registered is None:
        return None
    screening = book.screened.get(registered.v_nummer)
    if screening is None or screening.completed_at.ToNanoseconds() < (
        registered.registered_at.ToNanoseconds()
    ):
        return None
    return screening


def check(screening: ScreeningCompleted, name: str) -> CheckState.ValueType:
    return next(c.state for c in screening.checks if c.check == name)


@pytest.fixture(scope="module")
def first_wave(screening_chain: ScreeningChain) -> CaseBook:
    reports = [
        report("border-adult", setting=BORDER),
        report("border-held", setting=BORDER, held_hours_before_screening=80),
        report("inland-adult"),
        report("parent", family="F1", travelling_with_children=True, names=("Noori", "Amal")),
        report("child", age=8, family="F1", names=("Noori", "Sara")),
        report("toddler", age=4, bio=None, family="F1", names=("Noori", "Lina")),
        report("uam", age=16, accompanied=False),
        report("no-asylum", asylum=False),
        report("eurodac-hit", bio=template("eurodac-hit")),
        report(
            "sis-hit",
            documents=[IdentityDocument(document_type="PASSPORT", document_number="SISDOC0001")],
        ),
        report(
            "forged", documents=[IdentityDocument(document_type="ID", suspected_fraudulent=True)]
        ),
        report(
            "vulnerable",
            vulnerability_indicators=[
                VulnerabilityIndicator.VULNERABILITY_INDICATOR_SIGNS_OF_TORTURE
            ],
            needs_medical_care=True,
            family_member_states=["DE"],
        ),
        report("relocation", relocation_candidate=True),
        report("bad-dob"),
        report("bad-v-nummer", v_nummer="12AB"),
        report("bad-reason", reason=99),
        report("no-location", location=""),
        report("no-biometrics", bio=None),
    ]
    bad_dob = next(r for r in reports if r.partner_reference == "SCN-bad-dob")
    bad_dob.claimed_identity.date_of_birth.CopyFrom(CalendarDate(year=1990, month=2, day=30))
    return asyncio.run(run(screening_chain, reports))


SCENARIOS = [
    # ref, referral, time limit in days, special needs expected, checks not applicable
    ("border-adult", R.REFERRAL_ASYLUM, 7, set(), set()),
    ("border-held", R.REFERRAL_ASYLUM, 4, set(), set()),
    ("inland-adult", R.REFERRAL_ASYLUM, 3, set(), set()),
    ("parent", R.REFERRAL_ASYLUM, 3, {"family_with_children"}, set()),
    ("child", R.REFERRAL_ASYLUM, 3, {"minor", "family_with_children"}, set()),
    ("toddler", R.REFERRAL_ASYLUM, 3, {"minor", "family_with_children"}, {"eurodac"}),
    ("uam", R.REFERRAL_ASYLUM, 3, {"minor", "unaccompanied_minor"}, set()),
    ("no-asylum", R.REFERRAL_RETURN, 3, set(), set()),
    ("eurodac-hit", R.REFERRAL_ASYLUM, 3, set(), set()),
    ("sis-hit", R.REFERRAL_ASYLUM, 3, set(), set()),
    ("vulnerable", R.REFERRAL_ASYLUM, 3, {"possible_torture"}, set()),
    # The Netherlands contributes to the solidarity pool by default: no relocation out.
    ("relocation", R.REFERRAL_ASYLUM, 3, set(), set()),
]


@pytest.mark.parametrize(("ref", "referral", "days", "needs", "not_applicable"), SCENARIOS)
def test_scenario_referral_and_form(
    first_wave: CaseBook,
    ref: str,
    referral: Referral.ValueType,
    days: int,
    needs: set[str],
    not_applicable: set[str],
) -> None:
    screening = _screening_of(first_wave, f"SCN-{ref}")
    assert screening is not None
    assert screening.referral == referral
    limit = screening.deadline_at.ToNanoseconds() - screening.started_at.ToNanoseconds()
    assert limit == days * 86_400 * 10**9
    assert screening.completed_at.ToNanoseconds() <= screening.deadline_at.ToNanoseconds()
    for c in screening.checks:
        expected = (
            CheckState.CHECK_STATE_NOT_APPLICABLE
            if c.check in not_applicable
            else CheckState.CHECK_STATE_DONE
        )
        assert c.state == expected, (c.check, c.reason)
    assert {c.check for c in screening.checks} == {
        "health",
        "vulnerability",
        "identity",
        "security",
        "eurodac",
    }
    assert set(screening.form.special_needs) == needs
    assert screening.form.vulnerable == bool(needs)
    assert screening.form.family_name and screening.form.nationalities == ["SYR"]
    assert screening.form.asylum_applied == (referral != R.REFERRAL_RETURN)
    assert screening.form.cooperated
    assert not screening.indicators.checks_not_done


def test_each_new_person_gets_a_new_ten_digit_v_nummer(first_wave: CaseBook) -> None:
    refs = [f"SCN-{s[0]}" for s in SCENARIOS]
    numbers = [first_wave.v_nummer_of[r] for r in refs]
    assert all(len(n) == 10 and n.isdigit() for n in numbers)
    assert len(set(numbers)) == len(numbers)
    assert not any(first_wave.registered[r].identified_existing for r in refs)


def test_database_hits_become_referral_indicators(first_wave: CaseBook) -> None:
    eurodac = _screening_of(first_wave, "SCN-eurodac-hit")
    sis = _screening_of(first_wave, "SCN-sis-hit")
    clean = _screening_of(first_wave, "SCN-inland-adult")
    assert eurodac and sis and clean
    assert eurodac.indicators.eurodac_hit and eurodac.indicators.eurodac_member_state == "IT"
    assert eurodac.form.database_hit
    assert sis.form.database_hit and sis.indicators.security_flag
    assert not sis.indicators.eurodac_hit
    assert not clean.form.database_hit and not clean.indicators.security_flag
    assert list(clean.indicators.nationalities) == ["SYR"]


def test_family_links_and_a_guardian_for_the_unaccompanied_minor(first_wave: CaseBook) -> None:
    parent = first_wave.v_nummer_of["SCN-parent"]
    child = first_wave.registered["SCN-child"]
    assert parent in child.family_v_nummers
    assert _screening_of(first_wave, "SCN-parent").indicators.family_with_children  # type: ignore[union-attr]
    uam = first_wave.v_nummer_of["SCN-uam"]
    assert set(first_wave.guardians) == {uam}
    assert _screening_of(first_wave, "SCN-uam").indicators.unaccompanied_minor  # type: ignore[union-attr]


def test_form_carries_health_vulnerability_and_family_abroad(first_wave: CaseBook) -> None:
    vulnerable = _screening_of(first_wave, "SCN-vulnerable")
    forged = _screening_of(first_wave, "SCN-forged")
    assert vulnerable and forged
    assert vulnerable.form.health == HealthResult.HEALTH_RESULT_NEEDS_CARE
    assert list(vulnerable.form.family_member_states) == ["DE"]
    assert forged.indicators.misleading_identity
    assert next(c.result for c in forged.checks if c.check == "identity") == "misleading_identity"


@pytest.mark.parametrize(
    ("ref", "field", "code"),
    [
        ("bad-dob", "claimed_identity.date_of_birth", "invalid"),
        ("bad-v-nummer", "v_nummer", "invalid"),
        ("bad-reason", "reason", "unknown_code"),
        ("no-location", "location", "missing"),
        ("no-biometrics", "biometrics.template_hash", "missing"),
    ],
)
def test_bad_input_is_rejected_naming_the_field_and_goes_nowhere_else(
    first_wave: CaseBook, ref: str, field: str, code: str
) -> None:
    rejected = first_wave.rejected[f"SCN-{ref}"]
    assert (rejected.field, rejected.reason_code) == (field, code)
    assert field in rejected.reason
    assert f"SCN-{ref}" not in first_wave.registered


def test_repeated_arrivals_identify_the_known_person(
    first_wave: CaseBook, screening_chain: ScreeningChain
) -> None:
    adult = first_wave.v_nummer_of["SCN-border-adult"]
    toddler = first_wave.v_nummer_of["SCN-toddler"]
    passport = PilSourceLevel.PIL_SOURCE_LEVEL_OFFICIAL_IDENTIFYING_DOCUMENT
    again = [
        # The same fingerprints, now with a passport: same person, better identity data.
        report("adult-again", bio=template("border-adult"), source=passport),
        # The partner names the V-nummer; an own statement does not replace a passport.
        report("adult-by-number", bio=None, v_nummer=adult, refused_cooperation=True),
        report("unknown-number", bio=None, v_nummer="2699999999", refused_cooperation=True),
        # The parent comes back with the toddler (no biometrics under 6).
        report("parent-again", bio=template("parent"), family="F2", names=("Noori", "Amal")),
        report("toddler-again", age=4, bio=None, family="F2", names=("Noori", "Lina")),
    ]
    book = asyncio.run(run(screening_chain, again))
    by_ref = {r: book.registered[f"SCN-{r}"] for r in ("adult-again", "adult-by-number")}
    assert by_ref["adult-again"].v_nummer == adult
    assert (
        by_ref["adult-again"].identified_by == IdentificationBasis.IDENTIFICATION_BASIS_BIOMETRICS
    )
    assert by_ref["adult-by-number"].v_nummer == adult
    assert (
        by_ref["adult-by-number"].identified_by == IdentificationBasis.IDENTIFICATION_BASIS_V_NUMMER
    )
    assert by_ref["adult-by-number"].source_level == passport
    assert [(u.v_nummer, u.source_level) for u in book.identity_updates] == [(adult, passport)]
    assert book.rejected["SCN-unknown-number"].reason_code == "unknown_v_nummer"
    toddler_again = book.registered["SCN-toddler-again"]
    assert toddler_again.v_nummer == toddler
    assert (
        toddler_again.identified_by
        == IdentificationBasis.IDENTIFICATION_BASIS_BIOGRAPHIC_AND_FAMILY
    )
    assert _screening_of(book, "SCN-adult-again") is not None, "a known person is screened again"

"""Contract tests: generated code, buf lint/breaking, wire format, catalogue, codec.

Fast and without a broker. The golden encodings in golden/*.bin are written once by
running this file as a script (`.venv/bin/python tests/contract/test_contracts.py`);
within contract version 1 they must never change.
"""

from __future__ import annotations

import filecmp
import importlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from chainkit import catalogue
from chainkit.catalogue import Topic, by_ce_type, consumed_by, partners, services, topics
from chainkit.codec import (
    CONTENT_TYPE,
    REQUIRED_HEADERS,
    PoisonMessage,
    cloudevent_headers,
    decode,
)
from migratieketen.v1.arrival_pb2 import ArrivalReport
from migratieketen.v1.bvv_pb2 import PersonRegistered
from migratieketen.v1.common_pb2 import (
    ArrivalReason,
    ArrivalSetting,
    BiometricReference,
    CalendarDate,
    ClaimedIdentity,
    EuSystem,
    Gender,
    IdentityDocument,
    Partner,
    PilSourceLevel,
    VulnerabilityIndicator,
)
from migratieketen.v1.europaloket_pb2 import (
    CheckOperation,
    CheckPurpose,
    CheckResult,
    CheckStatus,
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
    ScreeningCompleted,
    ScreeningForm,
)

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
PROTO_DIR = CONTRACTS / "migratieketen" / "v1"
BUF = ROOT / ".tools" / "node_modules" / ".bin" / "buf"
GOLDEN = Path(__file__).resolve().parent / "golden"

SERVICES = ("bvv", "screening", "europaloket", "asylum", "reception", "returns")


# --- generated code -------------------------------------------------------------------


def test_generated_code_is_up_to_date(tmp_path: Path) -> None:
    """The same command as `make proto`: protoc from grpcio-tools plus mypy-protobuf."""
    protos = sorted(PROTO_DIR.glob("*.proto"))
    assert protos, f"no .proto files in {PROTO_DIR}"
    plugin = Path(sys.executable).parent / "protoc-gen-mypy"
    assert plugin.exists(), f"{plugin} is missing: pip install -e '.[dev]' (mypy-protobuf)"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-I",
            str(CONTRACTS),
            f"--plugin=protoc-gen-mypy={plugin}",
            "--mypy_opt=quiet",
            f"--python_out={tmp_path}",
            f"--mypy_out={tmp_path}",
            *(str(p.relative_to(CONTRACTS)) for p in protos),
        ],
        cwd=CONTRACTS,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"protoc failed:\n{result.stderr}"
    generated = sorted((tmp_path / "migratieketen" / "v1").glob("*_pb2.py*"))
    assert len(generated) == 2 * len(protos)
    stale = [
        g.name
        for g in generated
        if not (PROTO_DIR / g.name).exists()
        or not filecmp.cmp(g, PROTO_DIR / g.name, shallow=False)
    ]
    assert not stale, f"generated code is out of date ({', '.join(stale)}): run `make proto`"


def test_every_committed_pb2_has_a_proto() -> None:
    orphans = [
        p.name
        for p in sorted(PROTO_DIR.glob("*_pb2.py*"))
        if not (PROTO_DIR / (p.name.split("_pb2.")[0] + ".proto")).exists()
    ]
    assert not orphans, f"generated files without a .proto (delete them): {', '.join(orphans)}"


# --- buf --------------------------------------------------------------------------------


def _buf(*args: str) -> subprocess.CompletedProcess[str]:
    if not BUF.exists():
        pytest.skip(f"buf is not installed at {BUF.relative_to(ROOT)}: run `make tools`")
    return subprocess.run(
        [str(BUF), *args], cwd=CONTRACTS, capture_output=True, text=True, timeout=120
    )


def test_buf_lint() -> None:
    result = _buf("lint")
    assert result.returncode == 0, f"buf lint failed:\n{result.stdout}{result.stderr}"


def _main_branch_git_dir() -> Path | None:
    """The repository's (common) git directory when it has a commit on branch main."""
    if shutil.which("git") is None:
        return None
    git_dir = subprocess.run(
        ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    main = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", "refs/heads/main^{commit}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if git_dir.returncode != 0 or main.returncode != 0:
        return None
    return Path(git_dir.stdout.strip())


def test_buf_breaking_against_main() -> None:
    git_dir = _main_branch_git_dir()
    if git_dir is None:
        pytest.skip("no commit on branch main to compare the contracts against")
    result = _buf("breaking", "--against", f"{git_dir}#branch=main,subdir=contracts")
    assert result.returncode == 0, (
        "buf breaking: these changes break contract version 1 (never reuse or renumber a "
        "field, reserve removed ones; a breaking change is a new package migratieketen.v2 "
        f"on new *.v2 topics):\n{result.stdout}{result.stderr}"
    )


# --- golden encodings -------------------------------------------------------------------


def _ts(seconds: int, nanos: int) -> Timestamp:
    return Timestamp(seconds=seconds, nanos=nanos)


def golden_arrival_report() -> ArrivalReport:
    """Synthetic: no real person."""
    return ArrivalReport(
        partner_reference="GOLDEN-KMAR-000001",
        reporting_partner=Partner.PARTNER_KMAR,
        setting=ArrivalSetting.ARRIVAL_SETTING_EXTERNAL_BORDER,
        reason=ArrivalReason.ARRIVAL_REASON_ASYLUM_AT_BORDER_CROSSING_POINT,
        location="Schiphol",
        reported_at=_ts(1_767_225_600, 123_000_000),
        claimed_identity=ClaimedIdentity(
            family_name="Testpersoon",
            given_names="Gouden Voorbeeld",
            date_of_birth=CalendarDate(year=1990, month=7, day=15),
            place_of_birth="Nergensstad",
            gender=Gender.GENDER_X,
            nationalities=["SYR", "TUR"],
            stateless=True,
            source_level=PilSourceLevel.PIL_SOURCE_LEVEL_OFFICIAL_IDENTIFYING_DOCUMENT,
        ),
        documents=[
            IdentityDocument(
                document_type="PASSPORT",
                document_number="X00000001",
                issuing_country="SYR",
                expiry_date=CalendarDate(year=2030, month=1, day=31),
                suspected_fraudulent=True,
            ),
            IdentityDocument(
                document_type="ID_CARD",
                document_number="ID0000002",
                issuing_country="TUR",
                expiry_date=CalendarDate(year=2029, month=12, day=1),
                suspected_fraudulent=True,
            ),
        ],
        biometrics=BiometricReference(
            template_reference="GOLDEN-BIO-000001",
            template_hash="0" * 63 + "1",
            captured_at=_ts(1_767_225_500, 456_000_000),
        ),
        claimed_age=35,
        family_group_id="GOLDEN-FAM-000001",
        accompanied=True,
        asylum_requested=True,
        held_hours_before_screening=80,
        languages=["ar", "tr"],
        countries_of_residence=["SYR", "TUR"],
        v_nummer="2600000001",
        vulnerability_indicators=[
            VulnerabilityIndicator.VULNERABILITY_INDICATOR_SIGNS_OF_TORTURE,
            VulnerabilityIndicator.VULNERABILITY_INDICATOR_DISABILITY,
        ],
        needs_medical_care=True,
        family_member_states=["DE"],
        refused_cooperation=True,
        travelling_with_children=True,
        relocation_candidate=True,
        application_made_at=_ts(1_767_225_000, 500),
    )


def golden_check_result() -> CheckResult:
    return CheckResult(
        request_id="00000000-0000-4000-8000-000000000001",
        v_nummer="2600000001",
        partner=Partner.PARTNER_SCREENING,
        purpose=CheckPurpose.CHECK_PURPOSE_SCREENING_SECURITY,
        status=CheckStatus.CHECK_STATUS_HIT,
        answers=[
            SystemAnswer(
                system=EuSystem.EU_SYSTEM_EURODAC,
                status=CheckStatus.CHECK_STATUS_HIT,
                member_state="IT",
                category="1",
                reference="EURODAC-GOLDEN-1",
                action="take_back",
                security_ground=True,
                reason="synthetic",
                verification=EurodacVerification.EURODAC_VERIFICATION_CONFIRMED,
                link_colour=MidLinkColour.MID_LINK_COLOUR_RED,
                member_states=["IT", "GR"],
                via=EuSystem.EU_SYSTEM_ESP,
                recorded_reference="NL-EURODAC-GOLDEN-1",
            ),
            SystemAnswer(
                system=EuSystem.EU_SYSTEM_SIS,
                status=CheckStatus.CHECK_STATUS_UNAVAILABLE,
                member_state="NL",
                category="art_24",
                reference="SIS-GOLDEN-2",
                action="report",
                security_ground=True,
                reason="system unavailable",
                verification=EurodacVerification.EURODAC_VERIFICATION_REJECTED,
                link_colour=MidLinkColour.MID_LINK_COLOUR_YELLOW,
                member_states=["NL"],
                via=EuSystem.EU_SYSTEM_ESP,
                recorded_reference="NL-SIS-GOLDEN-2",
            ),
        ],
        completed_at=_ts(1_767_229_200, 789_000_000),
        operation=CheckOperation.CHECK_OPERATION_QUERY,
    )


def golden_screening_completed() -> ScreeningCompleted:
    return ScreeningCompleted(
        v_nummer="2600000001",
        setting=ArrivalSetting.ARRIVAL_SETTING_INLAND,
        form=ScreeningForm(
            family_name="Testpersoon",
            given_names="Gouden Voorbeeld",
            date_of_birth=CalendarDate(year=1990, month=7, day=15),
            place_of_birth="Nergensstad",
            gender=Gender.GENDER_FEMALE,
            nationalities=["ERI"],
            stateless=True,
            countries_of_residence=["ERI", "ETH"],
            languages=["ti", "en"],
            reason_for_screening=ArrivalReason.ARRIVAL_REASON_ASYLUM_INLAND,
            health=HealthResult.HEALTH_RESULT_NEEDS_CARE,
            vulnerable=True,
            special_needs=["family", "medical"],
            asylum_applied=True,
            family_member_states=["DE", "SE"],
            database_hit=True,
            cooperated=True,
        ),
        referral=Referral.REFERRAL_ASYLUM,
        indicators=ReferralIndicators(
            eurodac_hit=True,
            eurodac_member_state="IT",
            security_flag=True,
            misleading_identity=True,
            unaccompanied_minor=True,
            family_with_children=True,
            checks_not_done=["ecris_tcn"],
            nationalities=["ERI"],
            relocation_candidate=True,
            eurodac_category="APPLICANT",
            eurodac_reference="IT-GOLDEN-1",
            vis_hit=True,
            vis_member_state="FR",
            sis_alert_category="REFUSAL_OF_ENTRY",
            sis_action="refuse entry",
            sirene_consultation_needed=True,
            application_made_at=_ts(1_767_225_000, 500),
            partner_reference="GOLDEN-KMAR-000001",
            family_group_id="GOLDEN-FAM-000001",
        ),
        started_at=_ts(1_767_225_600, 1_000),
        completed_at=_ts(1_767_484_800, 2_000),
        claimed_age=17,
        checks=[
            ScreeningCheck(
                check="security",
                state=CheckState.CHECK_STATE_NOT_DONE,
                result="no_hit",
                reason="ecris_tcn did not answer within 3 days",
                done_at=_ts(1_767_484_800, 3_000),
            )
        ],
        deadline_at=_ts(1_767_484_800, 4_000),
    )


GOLDEN_MESSAGES: dict[str, Callable[[], Message]] = {
    "ArrivalReport": golden_arrival_report,
    "CheckResult": golden_check_result,
    "ScreeningCompleted": golden_screening_completed,
}


def _unset_fields(message: Message, path: str = "") -> list[str]:
    """Every field (recursively) that still holds its default value."""
    missing: list[str] = []
    for field in message.DESCRIPTOR.fields:
        name = f"{path}{field.name}"
        value = getattr(message, field.name)
        is_message = field.type == FieldDescriptor.TYPE_MESSAGE
        if field.is_repeated:
            if len(value) == 0:
                missing.append(name)
            elif is_message:
                for i, item in enumerate(value):
                    missing += _unset_fields(item, f"{name}[{i}].")
        elif is_message:
            if message.HasField(field.name):
                missing += _unset_fields(value, f"{name}.")
            else:
                missing.append(name)
        elif value == field.default_value:
            missing.append(name)
    return missing


def write_golden() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for name, build in GOLDEN_MESSAGES.items():
        (GOLDEN / f"{name}.bin").write_bytes(build().SerializeToString(deterministic=True))
        print(f"wrote {GOLDEN / f'{name}.bin'}")


@pytest.mark.parametrize("name", sorted(GOLDEN_MESSAGES))
def test_golden_fixture_is_fully_populated(name: str) -> None:
    unset = _unset_fields(GOLDEN_MESSAGES[name]())
    assert not unset, f"golden {name} leaves fields at their default: {', '.join(unset)}"


@pytest.mark.parametrize("name", sorted(GOLDEN_MESSAGES))
def test_golden_encoding(name: str) -> None:
    golden = (GOLDEN / f"{name}.bin").read_bytes()
    expected = GOLDEN_MESSAGES[name]()
    decoded = type(expected).FromString(golden)
    assert decoded == expected, (
        f"golden/{name}.bin no longer decodes to the same {name}: the wire format changed "
        "(a field was renumbered or retyped); that is never allowed within v1"
    )
    assert decoded.SerializeToString(deterministic=True) == golden, (
        f"re-encoding golden/{name}.bin gives other bytes: the wire format changed"
    )
    assert expected.SerializeToString(deterministic=True) == golden


# --- catalogue --------------------------------------------------------------------------


def test_catalogue_is_not_empty() -> None:
    assert topics(), "topics.toml lists no topics"


@pytest.mark.parametrize("topic", list(topics().values()), ids=lambda t: t.name)
def test_topic_message_and_key(topic: Topic) -> None:
    assert issubclass(topic.message, Message)
    assert topic.message.DESCRIPTOR.full_name.startswith("migratieketen.v1.")
    assert topic.name.endswith(".v1") and topic.ce_type.endswith(".v1")
    assert topic.retention_days > 0
    if topic.keyed_by_v_nummer:
        field = topic.message.DESCRIPTOR.fields_by_name.get("v_nummer")
        assert field is not None, f"{topic.name} is keyed by v_nummer, its message has none"
        assert field.type == FieldDescriptor.TYPE_STRING
        assert not field.is_repeated


def test_an_addressee_is_a_partner_field_of_the_topic_s_message() -> None:
    addressed = {t.name: t.addressee for t in topics().values() if t.addressee}
    assert addressed == {"europaloket.check-completed.v1": "partner"}
    with pytest.raises(LookupError, match="is not a Partner field"):
        catalogue._addressee({"message": "CheckResult", "addressee": "v_nummer"})
    with pytest.raises(LookupError, match="is not a Partner field"):
        catalogue._addressee({"message": "CheckResult", "addressee": "no_such_field"})


def test_ce_types_are_unique() -> None:
    ce_types = [t.ce_type for t in topics().values()]
    assert len(ce_types) == len(set(ce_types))
    for topic in topics().values():
        assert by_ce_type(topic.ce_type) is topic


def test_each_message_travels_on_one_topic() -> None:
    messages = [t.message for t in topics().values()]
    assert len(messages) == len(set(messages))


@pytest.mark.parametrize("service", SERVICES)
def test_service_handles_exactly_what_it_consumes(service: str) -> None:
    spec = importlib.import_module(f"{service}.service").SPEC
    assert spec.name == service
    expected = {t.message for t in consumed_by(service)}
    handled = set(spec.handlers)
    assert handled == expected, (
        f"{service} handles {sorted(m.__name__ for m in handled)} but topics.toml names it "
        f"consumer of {sorted(m.__name__ for m in expected)}"
    )


def test_the_services_are_the_catalogue_s_non_partners() -> None:
    assert set(services()) == set(SERVICES)


def test_producers_and_consumers_are_known() -> None:
    for topic in topics().values():
        for producer in topic.producers:
            assert producer in SERVICES or producer in partners(), (
                f"{topic.name}: producer {producer!r} is neither a service nor a partner"
            )
        for consumer in topic.consumers:
            assert consumer in SERVICES, f"{topic.name}: consumer {consumer!r} is no service"
        for reader in topic.readers:
            assert reader in partners(), f"{topic.name}: reader {reader!r} is no partner"


# --- codec ------------------------------------------------------------------------------

V_NUMMER_TOPICS = [t for t in topics().values() if t.keyed_by_v_nummer]


def _headers(topic: Topic) -> dict[str, str]:
    return cloudevent_headers(topic, "contract-test", "subject")


@pytest.mark.parametrize("topic", list(topics().values()), ids=lambda t: t.name)
@pytest.mark.parametrize("garbage", [b"\xff\xff\xff\xff", b"not a protobuf message"])
def test_decode_garbage_is_undecodable(topic: Topic, garbage: bytes) -> None:
    with pytest.raises(PoisonMessage) as caught:
        decode(topic.name, garbage, _headers(topic))
    assert caught.value.code == "undecodable"
    assert garbage.decode("latin-1") not in caught.value.reason
    assert repr(garbage) not in caught.value.reason


@pytest.mark.parametrize("topic", V_NUMMER_TOPICS, ids=lambda t: t.name)
@pytest.mark.parametrize("bad", ["98765", "26000000012", "26000000O1", " 2600000001"])
def test_decode_rejects_invalid_v_nummer(topic: Topic, bad: str) -> None:
    payload = topic.message(v_nummer=bad).SerializeToString()
    with pytest.raises(PoisonMessage) as caught:
        decode(topic.name, payload, _headers(topic))
    assert caught.value.code == "invalid_v_nummer"
    assert bad.strip() not in caught.value.reason
    assert "v_nummer" in caught.value.reason


@pytest.mark.parametrize("topic", V_NUMMER_TOPICS, ids=lambda t: t.name)
def test_decode_accepts_valid_v_nummer(topic: Topic) -> None:
    message = topic.message(v_nummer="2600000001")
    assert decode(topic.name, message.SerializeToString(), _headers(topic)) == message


def test_decode_rejects_a_type_from_another_topic() -> None:
    arrival = topics()["arrival.reported.v1"]
    report = golden_arrival_report()
    headers = _headers(arrival)
    assert headers["content-type"] == CONTENT_TYPE
    with pytest.raises(PoisonMessage) as caught:
        decode("bvv.registered.v1", report.SerializeToString(), headers)
    assert caught.value.code == "unexpected_type"
    assert report.partner_reference not in caught.value.reason
    assert report.claimed_identity.family_name not in caught.value.reason


def test_unexpected_type_reason_does_not_repeat_the_header() -> None:
    """The reason names the field, never the bad value (here a partner-supplied header)."""
    bvv = topics()["bvv.registered.v1"]
    bad_ce_type = "nl.partner.private-value-0612345678"
    headers = {**_headers(bvv), "ce_type": bad_ce_type}
    payload = golden_screening_completed().SerializeToString()
    with pytest.raises(PoisonMessage) as caught:
        decode(bvv.name, payload, headers)
    assert caught.value.code == "unexpected_type"
    assert bad_ce_type not in caught.value.reason


@pytest.mark.parametrize("name", REQUIRED_HEADERS)
@pytest.mark.parametrize("value", [None, ""])
def test_decode_refuses_a_record_without_a_required_header(name: str, value: str | None) -> None:
    bvv = topics()["bvv.registered.v1"]
    headers = _headers(bvv)
    if value is None:
        del headers[name]
    else:
        headers[name] = value
    payload = PersonRegistered(v_nummer="2600000001").SerializeToString()
    with pytest.raises(PoisonMessage) as caught:
        decode(bvv.name, payload, headers)
    assert caught.value.code == "missing_header"
    assert name in caught.value.reason


@pytest.mark.parametrize(
    ("name", "value", "code"),
    [
        ("ce_specversion", "0.3", "unsupported_specversion"),
        ("content-type", "application/json", "unsupported_content_type"),
        ("ce_type", "nl.migratieketen.case.outcome.v1", "unexpected_type"),
    ],
)
def test_decode_refuses_a_wrong_header(name: str, value: str, code: str) -> None:
    bvv = topics()["bvv.registered.v1"]
    headers = {**_headers(bvv), name: value}
    payload = PersonRegistered(v_nummer="2600000001").SerializeToString()
    with pytest.raises(PoisonMessage) as caught:
        decode(bvv.name, payload, headers)
    assert caught.value.code == code
    assert value not in caught.value.reason


@pytest.mark.parametrize("topic", list(topics().values()), ids=lambda t: t.name)
def test_the_chain_s_own_events_carry_every_required_header(topic: Topic) -> None:
    headers = cloudevent_headers(topic, "bvv", "2600000001")
    assert all(headers.get(name) for name in REQUIRED_HEADERS)
    assert headers["ce_type"] == topic.ce_type


def test_recommended_headers_are_optional() -> None:
    bvv = topics()["bvv.registered.v1"]
    headers = {name: value for name, value in _headers(bvv).items() if name in REQUIRED_HEADERS}
    message = PersonRegistered(v_nummer="2600000001")
    assert decode(bvv.name, message.SerializeToString(), headers) == message


def test_decode_refuses_a_topic_outside_the_catalogue() -> None:
    with pytest.raises(PoisonMessage) as caught:
        decode("private.topic.v1", b"", _headers(topics()["bvv.registered.v1"]))
    assert caught.value.code == "unknown_topic"


def test_every_reason_code_is_in_the_reason_code_module() -> None:
    with pytest.raises(ValueError, match="not a reason code"):
        PoisonMessage("made_up", "a code nobody documents")


if __name__ == "__main__":
    write_golden()

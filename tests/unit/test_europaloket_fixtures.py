"""Planted reference records and gateway settings: what loads, and clear errors when not."""

from __future__ import annotations

import json
import os
import tomllib
import typing
from pathlib import Path

import pytest
from pydantic import ValidationError

from europaloket.fixtures import (
    EurodacCategoryName,
    FixtureError,
    Fixtures,
    MidColour,
    load_fixtures,
    parse_fixtures,
)
from europaloket.resilience import Outage
from europaloket.settings import DEFAULT_PROFILES, GatewaySettings
from migratieketen.v1.common_pb2 import EuSystem
from migratieketen.v1.europaloket_pb2 import EurodacCategory, MidLinkColour

EXAMPLE = Path(__file__).resolve().parents[2] / "services" / "europaloket" / "fixtures.example.toml"


def test_the_shipped_example_plants_a_record_in_every_system() -> None:
    fixtures = load_fixtures(EXAMPLE)
    for section in Fixtures.model_fields:
        assert getattr(fixtures, section), f"the example has no {section} record"


def test_json_and_toml_say_the_same(tmp_path: Path) -> None:
    raw = tomllib.loads(EXAMPLE.read_text("utf-8"))
    as_json = tmp_path / "fixtures.json"
    as_json.write_text(json.dumps(raw), "utf-8")
    assert load_fixtures(as_json) == load_fixtures(EXAMPLE)


def test_fixture_vocabulary_matches_the_contract() -> None:
    assert {f"EURODAC_CATEGORY_{c}" for c in typing.get_args(EurodacCategoryName)} == {
        v.name for v in EurodacCategory.DESCRIPTOR.values if v.number
    }
    assert {f"MID_LINK_COLOUR_{c}" for c in typing.get_args(MidColour)} == {
        v.name for v in MidLinkColour.DESCRIPTOR.values if v.number
    }


EURODAC = '[[eurodac]]\nbiometric_hash = "ab"\nmember_state = "IT"\ncategory = "APPLICANT"\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[sisx]]\nv_nummer = '2600000001'\n", "sisx: unknown section (known: eurodac, sis"),
        (
            "[[sis]]\nv_nummer = '2600000001'\nmember_state = 'DE'\ncategory = 'ARREST'\n"
            "colour = 'RED'\n",
            "sis[0].colour: unknown field (known: biometric_hash, v_nummer, document_number",
        ),
        (
            "[[sis]]\nv_nummer = '2600000001'\nmember_state = 'XX'\ncategory = 'ARREST'\n",
            "sis[0].member_state: 'XX' is not a member state code",
        ),
        (
            "[[sis]]\nv_nummer = '2600000001'\nmember_state = 'DE'\ncategory = 'WANTED'\n",
            "sis[0].category: Input should be 'RETURN', 'REFUSAL_OF_ENTRY'",
        ),
        (
            "[[sis]]\nmember_state = 'DE'\ncategory = 'ARREST'\n",
            "sis[0]: give biometric_hash, v_nummer or document_number",
        ),
        (
            "[[sis]]\nv_nummer = '12345'\nmember_state = 'DE'\ncategory = 'ARREST'\n",
            "sis[0].v_nummer: a V-nummer is exactly 10 digits",
        ),
        (
            EURODAC.replace('"IT"', '"NL"'),
            "eurodac[0].member_state: a Eurodac hit is a record of another member state",
        ),
        (
            EURODAC.replace('biometric_hash = "ab"', 'v_nummer = "2600000001"'),
            "eurodac[0]: Eurodac finds records by fingerprints only: give biometric_hash",
        ),
        (
            EURODAC + 'reference = "GR0001"\n',
            "eurodac[0]: the reference must start with IT",
        ),
        (
            EURODAC + 'verification = "MAYBE"\n',
            "eurodac[0].verification: Input should be 'CONFIRMED' or 'REJECTED'",
        ),
        (
            "[[ecris_tcn]]\nv_nummer = '2600000001'\nmember_states = []\n",
            "ecris_tcn[0].member_states",
        ),
        ("[[mid]]\nv_nummer = '2600000001'\ncolour = 'BLUE'\n", "mid[0].colour: Input should be"),
        ("[[mid]\nv_nummer = 1", "planted.toml: not valid TOML"),
    ],
)
def test_a_bad_fixture_file_says_where_and_why(text: str, expected: str) -> None:
    with pytest.raises(FixtureError) as caught:
        parse_fixtures(text, "toml", "planted.toml")
    assert str(caught.value).startswith("planted.toml: ")
    assert expected in str(caught.value)


def test_bad_json_names_the_file() -> None:
    with pytest.raises(FixtureError, match=r"^x.json: not valid JSON"):
        parse_fixtures("{", "json", "x.json")


def test_a_fixture_file_must_be_toml_or_json(tmp_path: Path) -> None:
    path = tmp_path / "fixtures.yaml"
    path.write_text("eurodac: []\n")
    with pytest.raises(FixtureError, match=r"ends in \.toml or \.json"):
        load_fixtures(path)


def test_a_missing_fixture_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FixtureError, match=r"missing\.toml: cannot be read"):
        load_fixtures(tmp_path / "missing.toml")


# --- settings ---------------------------------------------------------------------------


def test_unset_system_settings_keep_the_system_defaults() -> None:
    settings = GatewaySettings()
    for system, default in DEFAULT_PROFILES.items():
        assert settings.profile(system) == default


def test_system_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MK_EUROPALOKET_EURODAC__HIT_SHARE", "0.5")
    monkeypatch.setenv("MK_EUROPALOKET_EURODAC__ERROR_RATE", "0.1")
    monkeypatch.setenv("MK_EUROPALOKET_EURODAC__OUTAGES", '[{"start_s": 5, "end_s": 20}]')
    monkeypatch.setenv("MK_EUROPALOKET_ECRIS_TCN__RATE_LIMIT_PER_S", "3")
    monkeypatch.setenv("MK_EUROPALOKET_FIXTURES", str(EXAMPLE))
    settings = GatewaySettings()
    eurodac = settings.profile(EuSystem.EU_SYSTEM_EURODAC)
    assert (eurodac.hit_share, eurodac.error_rate) == (0.5, 0.1)
    assert eurodac.outages == (Outage(start_s=5, end_s=20),)
    default = DEFAULT_PROFILES[EuSystem.EU_SYSTEM_EURODAC]
    assert eurodac.latency_median_ms == default.latency_median_ms
    assert settings.profile(EuSystem.EU_SYSTEM_ECRIS_TCN).rate_limit_per_s == 3
    assert settings.profile(EuSystem.EU_SYSTEM_SIS) == DEFAULT_PROFILES[EuSystem.EU_SYSTEM_SIS]
    assert settings.fixtures == EXAMPLE


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MK_EUROPALOKET_SIS__ERROR_RATIO", "0.1"),  # a typo must not be ignored
        ("MK_EUROPALOKET_SIS__ERROR_RATE", "2"),
        ("MK_EUROPALOKET_SIS__OUTAGES", '[{"start_s": 5}]'),
        ("MK_EUROPALOKET_RETRIES", "-1"),
    ],
)
def test_bad_settings_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        GatewaySettings.from_environment(os.environ)


@pytest.mark.parametrize("name", ["MK_EUROPALOKET_RETRYS", "MK_EUROPALOKET_EURODOC__ERROR_RATE"])
def test_a_misspelt_setting_is_refused(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "1")
    with pytest.raises(ValueError, match=name):
        GatewaySettings.from_environment(os.environ)


def test_shares_and_latencies_have_defaults_for_every_data_system() -> None:
    portal = (EuSystem.EU_SYSTEM_UNSPECIFIED, EuSystem.EU_SYSTEM_ESP)
    assert set(DEFAULT_PROFILES) == {v for v in EuSystem.values() if v not in portal}

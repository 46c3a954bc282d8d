"""The IND's data files: the dated, sourced rate table and the planted fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from asylum.fixtures import FixtureError, load_fixtures, parse_fixtures
from asylum.rates import RateTableError, parse_rates, rate_table

EXAMPLE = Path(__file__).parents[2] / "services" / "asylum" / "fixtures.example.toml"


def test_packaged_rate_table_is_dated_and_sourced() -> None:
    table = rate_table()
    assert table.as_of.year >= 2025 and table.source
    assert table.rate(["SYR"]) == pytest.approx(0.90)
    assert table.rate(["MAR", "SYR"]) == pytest.approx(0.90)  # the most protective
    assert table.rate(["BRA"]) == pytest.approx(table.default_rate)
    assert table.rate([]) == pytest.approx(table.default_rate)  # stateless


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('source = "x"\ndefault_rate = 0.4\n[rates]\nSYR = 0.9', "as_of"),
        ('as_of = 2025-12-31\nsource = ""\ndefault_rate = 0.4\n[rates]', "source"),
        ('as_of = 2025-12-31\nsource = "x"\ndefault_rate = 0.4\n[rates]\nXYZ = 0.9', "XYZ"),
        ('as_of = 2025-12-31\nsource = "x"\ndefault_rate = 0.4\n[rates]\nSYR = 9', "SYR"),
    ],
)
def test_a_bad_rate_table_names_the_field(text: str, field: str) -> None:
    with pytest.raises(RateTableError, match=field):
        parse_rates(text, "rates.toml")


def test_the_example_fixture_file_loads() -> None:
    planted = load_fixtures(EXAMPLE)
    assert planted.dublin_for("", "KMAR-2026-000417") is not None
    decision = planted.decision_for("2600000123", "")
    assert decision is not None and decision.outcome == "REJECTED_MANIFESTLY_UNFOUNDED"
    assert planted.decision_for("2600000124", "other") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[dublin]]\nanswer = "ACCEPT"', "dublin[0]: give v_nummer or partner_reference"),
        ('[[dublin]]\nv_nummer = "123"', "dublin[0].v_nummer: a V-nummer is exactly 10 digits"),
        ('[[dublin]]\nv_nummer = "2600000001"\nanswer = "MAYBE"', "dublin[0].answer"),
        ('[[decision]]\nv_nummer = "2600000001"', "decision[0].outcome"),
        (
            '[[decision]]\nv_nummer = "2600000001"\noutcome = "INADMISSIBLE"\nlate_days = -1',
            "late_days",
        ),
        ("[[appeals]]", "appeals: unknown section"),
        ('[[dublin]]\nv_nummer = "2600000001"\ncolour = 1', "unknown field"),
    ],
)
def test_a_bad_fixture_names_the_entry_and_field(text: str, message: str) -> None:
    with pytest.raises(FixtureError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_fixtures(text, "toml", "planted.toml")

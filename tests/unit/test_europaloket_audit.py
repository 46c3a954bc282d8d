"""The audit command: filters over the gateway's audit log, read through MK_DATA_DIR."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert

from europaloket.audit import main
from europaloket.records import audit

ROWS = [
    # v_nummer, partner, purpose, operation, systems, answers, result, at
    ("2600000001", "PARTNER_SCREENING", "CHECK_PURPOSE_SCREENING_SECURITY", "QUERY",
     "EURODAC,SIS", "EURODAC=HIT SIS=NO_HIT", "HIT", 1_800_000_000.0),
    ("2600000001", "PARTNER_COA", "CHECK_PURPOSE_RETURN", "QUERY",
     "SIS", "SIS=DENIED", "DENIED", 1_800_000_100.0),
    ("2600000002", "PARTNER_KMAR", "CHECK_PURPOSE_SCREENING_SECURITY", "QUERY",
     "ESP", "SIS=NO_HIT VIS=NO_HIT", "NO_HIT", 1_800_000_200.0),
    ("2600000002", "PARTNER_DTENV", "CHECK_PURPOSE_RETURN", "RECORD_EXIT",
     "EES", "EES=RECORDED", "RECORDED", 1_800_000_300.0),
]  # fmt: skip


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    engine = create_engine(f"sqlite:///{tmp_path / 'europaloket.db'}")
    audit.create(engine)
    with engine.begin() as conn:
        for n, (v, partner, purpose, op, systems, answers, result, at) in enumerate(ROWS):
            conn.execute(
                insert(audit).values(
                    request_id=f"req-{n}",
                    v_nummer=v,
                    partner=partner,
                    purpose=purpose,
                    operation=op,
                    systems=systems,
                    answers=answers,
                    result_class=result,
                    reason="PARTNER_COA may not consult SIS" if result == "DENIED" else "",
                    latency_ms=12.5,
                    at=at,
                )
            )
    engine.dispose()
    monkeypatch.setenv("MK_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("MK_DATABASE_URL", raising=False)
    return tmp_path


def request_ids(args: list[str], capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main([*args, "--json"]) == 0
    return [json.loads(line)["request_id"] for line in capsys.readouterr().out.splitlines()]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], ["req-0", "req-1", "req-2", "req-3"]),
        (["--v-nummer", "2600000001"], ["req-0", "req-1"]),
        (["--partner", "COA"], ["req-1"]),
        (["--partner", "PARTNER_COA"], ["req-1"]),
        (["--purpose", "return"], ["req-1", "req-3"]),
        (["--system", "SIS"], ["req-0", "req-1", "req-2"]),  # req-2 reached SIS through the ESP
        (["--system", "EU_SYSTEM_EES"], ["req-3"]),
        (["--operation", "record_exit"], ["req-3"]),
        (["--result", "DENIED"], ["req-1"]),
        (["--since", "2027-01-15T08:01:40"], ["req-1", "req-2", "req-3"]),
        (["--until", "2027-01-15T09:01:40+01:00"], ["req-0"]),
        (["--limit", "2"], ["req-2", "req-3"]),
        (["--v-nummer", "2600000003"], []),
    ],
)
def test_filters(
    data_dir: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: list[str]
) -> None:
    assert request_ids(args, capsys) == expected


def test_the_table_shows_who_why_what_and_how_long(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--result", "DENIED"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    for part in (
        "2027-01-15T08:01:40.000+00:00",
        "2600000001",
        "PARTNER_COA",
        "CHECK_PURPOSE_RETURN",
        "DENIED",
        "12.5 ms",
        "SIS=DENIED",
        "(PARTNER_COA may not consult SIS)",
        "[req-1]",
    ):
        assert part in line


def test_json_lines_carry_every_column(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--v-nummer", "2600000002", "--json"]) == 0
    first = json.loads(capsys.readouterr().out.splitlines()[0])
    assert set(first) == {
        "at",
        "request_id",
        "v_nummer",
        "partner",
        "purpose",
        "operation",
        "result_class",
        "latency_ms",
        "answers",
        "reason",
    }


def test_without_a_database_it_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MK_DATA_DIR", str(tmp_path / "nowhere"))
    monkeypatch.delenv("MK_DATABASE_URL", raising=False)
    assert main([]) == 2
    assert "no Europaloket database at" in capsys.readouterr().err

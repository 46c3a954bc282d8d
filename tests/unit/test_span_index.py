"""The span index finds one case's spans without reading every span file."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider

from chainctl.cli import main, self_command
from chainctl.traces import case_traces
from chainkit.spanindex import SpanIndex
from chainkit.telemetry import V_NUMMER, setup_telemetry


def _case(provider: TracerProvider, v_nummer: str, hops: int) -> None:
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("partner publish"):
        for hop in range(hops):
            with tracer.start_as_current_span(f"hop {hop}") as span:
                span.set_attribute(V_NUMMER, v_nummer)


def _run(trace_dir: Path, service: str, cases: dict[str, int]) -> None:
    provider = setup_telemetry(service, trace_dir)
    for v_nummer, hops in cases.items():
        _case(provider, v_nummer, hops)
    provider.shutdown()


def test_the_index_finds_every_span_of_a_case_and_only_those(tmp_path: Path) -> None:
    _run(tmp_path, "bvv", {"2600000001": 2, "2600000002": 3})
    _run(tmp_path, "screening", {"2600000001": 1})
    assert (tmp_path / "index.sqlite").exists()

    first = case_traces(tmp_path, "2600000001")
    assert len(first) == 2  # one trace per service run here
    spans = [s for trace in first.values() for s in trace]
    # The parent span carries no V-nummer, but belongs to the case's trace.
    assert sorted(s.name for s in spans) == [
        "hop 0",
        "hop 0",
        "hop 1",
        "partner publish",
        "partner publish",
    ]
    assert {s.service for s in spans} == {"bvv", "screening"}
    second = case_traces(tmp_path, "2600000002")
    assert sum(len(t) for t in second.values()) == 4
    assert case_traces(tmp_path, "2600000009") == {}


def _age(path: Path) -> None:
    """As if no exporter had written to it for a minute."""
    then = time.time() - 60
    os.utime(path, (then, then))


def test_a_reader_indexes_lines_the_exporter_did_not(tmp_path: Path) -> None:
    _run(tmp_path, "bvv", {"2600000001": 1})
    line = {
        "trace_id": "ab" * 16,
        "span_id": "cd" * 8,
        "parent_id": None,
        "name": "old span",
        "kind": "INTERNAL",
        "service": "returns",
        "start_ns": 1,
        "end_ns": 2,
        "status": "UNSET",
        "attributes": {V_NUMMER: "2600000003"},
    }
    text = json.dumps(line) + "\n"
    returns = tmp_path / "returns.jsonl"
    returns.write_text(text + text[:20], "utf-8")  # a half-written line, of an older run
    _age(returns)

    found = case_traces(tmp_path, "2600000003")
    assert [s.name for s in found["ab" * 16]] == ["old span"]
    # The half-written line is indexed once it is complete, not before.
    with returns.open("a", encoding="utf-8") as out:
        out.write(text[20:])
    assert len(case_traces(tmp_path, "2600000003")["ab" * 16]) == 1  # being written: wait
    _age(returns)
    assert len(case_traces(tmp_path, "2600000003")["ab" * 16]) == 2
    assert len(case_traces(tmp_path, "2600000001")) == 1


def test_the_exporter_keeps_the_index_current(tmp_path: Path) -> None:
    _run(tmp_path, "bvv", {"2600000001": 1})
    index = SpanIndex(tmp_path)
    size = (tmp_path / "bvv.jsonl").stat().st_size
    with index._connect(write=False) as db:
        upto = db.execute("SELECT indexed_upto FROM files WHERE name = 'bvv.jsonl'").fetchone()
    assert upto == (size,)


def test_trace_command_explains_bad_and_unknown_v_nummers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(tmp_path / "traces", "bvv", {"2600000001": 1})
    assert main(["trace", "12AB", "--data-dir", str(tmp_path)]) == 2
    assert "'12AB' is not a V-nummer (a V-nummer is exactly 10 digits)" in capsys.readouterr().out
    assert main(["trace", "2600000077", "--data-dir", str(tmp_path)]) == 1
    assert "no spans carry V-nummer 2600000077" in capsys.readouterr().out
    assert main(["trace", "2600000001", "--data-dir", str(tmp_path)]) == 0
    assert "V-nummer 2600000001" in capsys.readouterr().out
    assert main(["trace", "2600000001", "--data-dir", str(tmp_path / "nowhere")]) == 2
    assert "no traces in" in capsys.readouterr().out


def test_hints_name_the_command_as_it_was_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [".venv/bin/migratieketen", "run"])
    assert self_command() == ".venv/bin/migratieketen"
    monkeypatch.setattr(sys, "argv", [str(tmp_path / ".venv/bin/migratieketen"), "run"])
    assert self_command() == ".venv/bin/migratieketen"
    monkeypatch.setattr(sys, "argv", ["/opt/elsewhere/migratieketen", "run"])
    assert self_command() == "/opt/elsewhere/migratieketen"
    monkeypatch.setattr(sys, "argv", ["/x/chainctl/__main__.py", "run"])
    assert self_command() == f"{sys.executable} -m chainctl"


def test_a_trace_exported_in_one_batch_is_one_index_entry(tmp_path: Path) -> None:
    """The exporter writes a batch grouped by trace: the index keeps one row per run of
    adjacent lines, not one per span, and a lookup still returns every span."""
    _run(tmp_path, "asylum", {"2600000001": 6, "2600000002": 4, "2600000003": 5})
    db = sqlite3.connect(tmp_path / "index.sqlite")
    assert db.execute("SELECT count(*) FROM spans").fetchone() == (3,)
    db.close()
    found = case_traces(tmp_path, "2600000002")
    assert [len(spans) for spans in found.values()] == [5]
    assert sorted(s.name for trace in found.values() for s in trace)[-1] == "partner publish"


def test_a_case_exported_over_many_batches_is_found_whole(tmp_path: Path) -> None:
    """The exporter indexes a case's (V-nummer, trace) pair once, however many batches
    carry its spans; every batch's spans are still found, and another exporter (a
    second service) adds the pair for its own file."""
    provider = setup_telemetry("asylum", tmp_path)
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("partner publish"):
        for hop in range(3):
            with tracer.start_as_current_span(f"hop {hop}") as span:
                span.set_attribute(V_NUMMER, "2600000001")
            provider.force_flush()  # each hop's span in a batch of its own
    provider.shutdown()
    _run(tmp_path, "returns", {"2600000001": 2})
    db = sqlite3.connect(tmp_path / "index.sqlite")
    assert db.execute("SELECT count(*) FROM cases").fetchone() == (2,)  # two traces
    db.close()
    found = case_traces(tmp_path, "2600000001")
    assert sorted(len(spans) for spans in found.values()) == [3, 4]


def _line(trace_id: str, v_nummer: str, name: str) -> str:
    return json.dumps(
        {
            "trace_id": trace_id,
            "span_id": "cd" * 8,
            "parent_id": None,
            "name": name,
            "kind": "INTERNAL",
            "service": "returns",
            "start_ns": 1,
            "end_ns": 2,
            "status": "UNSET",
            "attributes": {V_NUMMER: v_nummer},
        }
    )


def test_traces_sharing_the_key_s_64_bits_are_told_apart(tmp_path: Path) -> None:
    mine, other = "ab" * 8 + "00" * 8, "ab" * 8 + "11" * 8  # one key, two traces
    returns = tmp_path / "returns.jsonl"
    returns.write_text(
        _line(mine, "2600000001", "mine") + "\n" + _line(other, "2600000002", "other") + "\n"
    )
    _age(returns)
    assert {
        t: [s.name for s in spans] for t, spans in case_traces(tmp_path, "2600000001").items()
    } == {mine: ["mine"]}
    assert [s.name for s in case_traces(tmp_path, "2600000002")[other]] == ["other"]


def test_an_index_of_an_older_format_is_built_again_from_the_files(tmp_path: Path) -> None:
    """The first format keyed runs by the trace id as text: such an index is dropped
    when opened, and the files are indexed again."""
    _run(tmp_path, "bvv", {"2600000001": 2})
    old = sqlite3.connect(tmp_path / "index.sqlite")
    old.executescript(
        "DROP TABLE spans; DROP TABLE files; DROP TABLE cases; PRAGMA user_version = 0;"
        "CREATE TABLE files (name TEXT PRIMARY KEY, indexed_upto INTEGER NOT NULL);"
        "CREATE TABLE spans (trace_id TEXT NOT NULL, file TEXT NOT NULL,"
        " offset INTEGER NOT NULL, length INTEGER NOT NULL);"
        "CREATE TABLE cases (v_nummer TEXT NOT NULL, trace_id TEXT NOT NULL,"
        " PRIMARY KEY (v_nummer, trace_id)) WITHOUT ROWID;"
        "INSERT INTO files VALUES ('bvv.jsonl', 999999);"  # claims all is indexed
    )
    old.close()
    _age(tmp_path / "bvv.jsonl")
    found = case_traces(tmp_path, "2600000001")
    assert [len(spans) for spans in found.values()] == [3]
    db = sqlite3.connect(tmp_path / "index.sqlite")
    assert db.execute("PRAGMA user_version").fetchone() == (2,)
    db.close()

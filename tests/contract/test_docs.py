"""The README's and the partner guide's tables come from topics.toml and the reason codes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from bvv.domain import REPORTING_PARTNERS
from chainctl import docs
from chainctl.cli import main
from chainkit.catalogue import topics
from chainkit.codec import REQUIRED_HEADERS
from chainkit.reasons import REASON_CODES
from migratieketen.v1.common_pb2 import Partner

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "services"


@pytest.mark.parametrize("relative", list(docs.TABLES), ids=str)
def test_generated_tables_are_up_to_date(relative: Path) -> None:
    text = (ROOT / relative).read_text("utf-8")
    assert docs.render(text, docs.TABLES[relative]) == text, (
        f"{relative} has drifted from topics.toml or chainkit/reasons.py: "
        "run `.venv/bin/migratieketen docs --write`"
    )


def test_a_drifted_table_is_found_and_rewritten(tmp_path: Path) -> None:
    for relative in docs.TABLES:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        text = (ROOT / relative).read_text("utf-8")
        drifted = text.replace("| `case.outcome.v1` |", "| `case.outcomes.v1` |", 1)
        (tmp_path / relative).write_text(drifted, "utf-8")
    assert main(["docs", "--write", "--root", str(tmp_path)]) == 0
    for relative in docs.TABLES:
        assert (tmp_path / relative).read_text("utf-8") == (ROOT / relative).read_text("utf-8")


def test_every_topic_and_reason_code_is_in_both_documents() -> None:
    for relative in docs.TABLES:
        text = (ROOT / relative).read_text("utf-8")
        for name in topics():
            assert f"| `{name}` |" in text, f"{relative} misses topic {name}"
        for code in REASON_CODES:
            assert f"| `{code}` |" in text, f"{relative} misses reason code {code}"


def _reason_codes_in_code() -> set[str]:
    """Every literal first argument of PoisonMessage(...) and of _dead_letter's code."""
    found: set[str] = set()
    for path in SERVICES.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                args = node.args
                first = args[0] if args else None
                if name == "PoisonMessage" and isinstance(first, ast.Constant):
                    found.add(str(first.value))
                if name == "_dead_letter":
                    found |= {
                        a.value
                        for a in args
                        if isinstance(a, ast.Constant) and isinstance(a.value, str)
                    }
    return found


def test_every_reason_code_the_services_use_is_documented() -> None:
    used = _reason_codes_in_code()
    assert {"missing_header", "unknown_topic", "no_handler", "processing_error"} <= used
    assert used <= set(REASON_CODES)


def test_the_bvv_accepts_exactly_the_catalogue_s_reporting_partners() -> None:
    reporters = {Partner.Name(p).removeprefix("PARTNER_") for p in REPORTING_PARTNERS}
    catalogue = {name.upper() for name in topics()["arrival.reported.v1"].producers}
    assert reporters == catalogue


def test_the_guide_calls_exactly_the_checked_headers_required() -> None:
    guide = (ROOT / docs.GUIDE).read_text("utf-8")
    required = re.findall(r"^\| `([\w-]+)` \| yes \|", guide, re.MULTILINE)
    assert tuple(required) == REQUIRED_HEADERS

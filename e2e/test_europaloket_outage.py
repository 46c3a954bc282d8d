"""Eurodac down for a while during a run: every request still gets exactly one answer,
cases screened meanwhile complete with the Eurodac check recorded as not done, and
cases screened after it is back have their Eurodac check done."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from chainctl.traces import case_traces
from e2e.europaloket_helpers import (
    PATIENT_SCREENING,
    answers_to,
    arrival,
    everything,
    rows,
    running,
)
from e2e.helpers import drive
from migratieketen.v1.common_pb2 import EuSystem
from migratieketen.v1.europaloket_pb2 import CheckRequest, CheckStatus

pytestmark = pytest.mark.e2e

OUTAGE_SECONDS = 12  # after the gateway starts serving
EURODAC = EuSystem.EU_SYSTEM_EURODAC
UNAVAILABLE = CheckStatus.CHECK_STATUS_UNAVAILABLE


def adults(prefix: str) -> list:  # type: ignore[type-arg]
    """Three asylum seekers and one person to return, all old enough for Eurodac."""
    return [arrival(f"{prefix}-{n}", age=20 + n, asylum=n < 3) for n in range(4)]


async def test_every_request_is_answered_once_and_every_case_completes_through_an_outage(
    tmp_path: Path,
) -> None:
    env = {
        "MK_EUROPALOKET_EURODAC__OUTAGES": json.dumps([{"start_s": 0, "end_s": OUTAGE_SECONDS}]),
        "MK_EUROPALOKET_BREAKER_RESET_MS": "500",
        **PATIENT_SCREENING,
    }
    services = ("bvv", "screening", "europaloket", "asylum", "reception", "returns")
    async with running(tmp_path, services, env, seed=515) as chain:
        back_at = chain.ready_at("europaloket") + OUTAGE_SECONDS
        during = adults("DURING")
        book = await drive(chain.bootstrap_servers, chain.trace_dir, during)
        await asyncio.sleep(max(0.0, back_at + 1.0 - time.time()))
        after = adults("AFTER")
        book_after = await drive(chain.bootstrap_servers, chain.trace_dir, after)

        requests = await everything(chain.bootstrap_servers, CheckRequest)
        asked = {r.request_id for _, r in requests}
        answered = await answers_to(chain.bootstrap_servers, asked, settle=1.0)
        audited = rows(tmp_path, "europaloket", "SELECT request_id FROM audit")

    assert answered.keys() == asked
    for request, answers in answered.items():
        assert len({ce_id for ce_id, _ in answers}) == 1, f"{request} answered twice"
    assert sorted(r["request_id"] for r in audited) == sorted(asked)

    def eurodac_answers(v_nummer: str) -> list[CheckStatus.ValueType]:
        return [
            a.status
            for answers in answered.values()
            for _, result in answers
            if result.v_nummer == v_nummer
            for a in result.answers
            if a.system == EURODAC
        ]

    for report in during:
        v = book.v_nummer_of[report.partner_reference]
        assert v in book.outcomes, "the case completed"
        assert "eurodac" in book.screened[v].indicators.checks_not_done
        assert set(eurodac_answers(v)) == {UNAVAILABLE}
    for report in after:
        v = book_after.v_nummer_of[report.partner_reference]
        assert v in book_after.outcomes
        assert "eurodac" not in book_after.screened[v].indicators.checks_not_done
        assert UNAVAILABLE not in eurodac_answers(v) and eurodac_answers(v)

    v = book.v_nummer_of[during[0].partner_reference]
    (spans,) = case_traces(tmp_path / "traces", v).values()
    eurodac = [s for s in spans if s.name == "europaloket EURODAC"]
    assert eurodac and {s.attributes["europaloket.result"] for s in eurodac} == {"UNAVAILABLE"}

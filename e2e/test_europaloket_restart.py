"""The gateway killed with SIGKILL while requests are under way: after a restart each
request is answered exactly once, and a request sent again is not answered again."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from e2e.europaloket_helpers import DATA_SYSTEMS, answers_to, request_id, rows, running, send
from migratieketen.v1.common_pb2 import EuSystem, Partner
from migratieketen.v1.europaloket_pb2 import CheckPurpose, CheckRequest

pytestmark = pytest.mark.e2e

# Every system takes 1.5 s, so requests are still pending when the gateway is killed.
SLOW = {
    **{f"MK_EUROPALOKET_{s}__LATENCY_MEDIAN_MS": "1500" for s in DATA_SYSTEMS},
    **{f"MK_EUROPALOKET_{s}__LATENCY_P95_MS": "1500" for s in DATA_SYSTEMS},
    "MK_EUROPALOKET_TIMEOUT_MS": "5000",
}


def query(n: int, partner: Partner.ValueType = Partner.PARTNER_KMAR) -> CheckRequest:
    return CheckRequest(
        request_id=request_id(),
        v_nummer=f"{2_600_100_000 + n:010d}",
        partner=partner,
        purpose=CheckPurpose.CHECK_PURPOSE_SCREENING_SECURITY,
        systems=[EuSystem.EU_SYSTEM_SIS, EuSystem.EU_SYSTEM_VIS, EuSystem.EU_SYSTEM_EURODAC],
        biometric_template_hash=f"{n:064x}",
        claimed_age=30,
    )


async def test_a_gateway_killed_mid_request_answers_each_request_exactly_once(
    tmp_path: Path,
) -> None:
    requests = [query(n) for n in range(12)] + [query(99, Partner.PARTNER_COA)]
    ids = {r.request_id for r in requests}
    async with running(tmp_path, ("europaloket",), SLOW, seed=77) as chain:
        await send(chain.bootstrap_servers, *requests)
        deadline = time.monotonic() + 30
        while len(rows(tmp_path, "europaloket", "SELECT 1 FROM requests")) < len(requests):
            assert time.monotonic() < deadline, "the gateway did not accept the requests"
            await asyncio.sleep(0.05)
        chain.chain.kill("europaloket")
        pending = rows(tmp_path, "europaloket", "SELECT 1 FROM requests WHERE state = 'pending'")
        assert pending, "the kill came after every answer: nothing was tested"

        chain.chain.start("europaloket")
        await asyncio.to_thread(chain.chain.wait_ready, 90.0, "europaloket")
        answered = await answers_to(chain.bootstrap_servers, ids, timeout=60)
        # The same requests once more, as new events: still one answer each.
        await send(chain.bootstrap_servers, *requests[:3])
        answered = await answers_to(chain.bootstrap_servers, ids, settle=3.0)
        still_pending = rows(
            tmp_path, "europaloket", "SELECT 1 FROM requests WHERE state = 'pending'"
        )
        audited = rows(tmp_path, "europaloket", "SELECT request_id FROM audit")

    assert answered.keys() == ids
    for request, answers in answered.items():
        assert len({ce_id for ce_id, _ in answers}) == 1, f"{request} answered twice"
        # A copy re-sent by the relay after the kill carries the same event and content.
        assert all(result == answers[0][1] for _, result in answers)
    assert not still_pending
    assert sorted(r["request_id"] for r in audited) == sorted(ids), "one audit record each"
    assert len(pending) > 0

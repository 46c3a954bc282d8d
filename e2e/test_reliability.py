"""Nothing lost, nothing doubled: poison messages, redelivery, services killed mid-run."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.structs import ConsumerRecord

from chainctl.arrivals import make_arrivals
from chainkit.catalogue import topics
from chainkit.codec import header_dict
from e2e.conftest import RunningChain
from e2e.helpers import drive
from e2e.kafka_io import headers_for, publish_raw, read_until
from migratieketen.v1.arrival_pb2 import ArrivalRejected
from migratieketen.v1.bvv_pb2 import PersonRegistered
from migratieketen.v1.deadletter_pb2 import DeadLetter
from migratieketen.v1.screening_pb2 import ScreeningCompleted

pytestmark = pytest.mark.e2e

ARRIVALS = "arrival.reported.v1"


def _letters(
    records: list[ConsumerRecord], marker: bytes
) -> list[tuple[DeadLetter, dict[str, str]]]:
    out = []
    for record in records:
        letter = DeadLetter.FromString(record.value)
        if marker in letter.key:
            out.append((letter, header_dict(record.headers)))
    return out


async def test_poison_messages_go_to_the_dead_letter_topic_and_the_chain_goes_on(
    running_chain: RunningChain,
) -> None:
    bootstrap = running_chain.bootstrap_servers
    good, incomplete = make_arrivals(2, seed=5, prefix="POISON")
    incomplete.ClearField("reporting_partner")
    garbage = b"\xff\xff\xff\xff"
    await publish_raw(bootstrap, ARRIVALS, garbage, b"POISON-garbage", headers_for(ARRIVALS))
    await publish_raw(
        bootstrap,
        ARRIVALS,
        good.SerializeToString(),
        b"POISON-wrongtype",
        headers_for(ARRIVALS, ce_type="nl.migratieketen.case.outcome.v1"),
    )
    await publish_raw(
        bootstrap,
        ARRIVALS,
        incomplete.SerializeToString(),
        incomplete.partner_reference.encode(),
        headers_for(ARRIVALS),
    )
    for name in ("ce_id", "content-type"):  # required headers: no fallback, a dead letter
        headers = headers_for(ARRIVALS)
        del headers[name]
        key = f"POISON-no-{name}".encode()
        await publish_raw(bootstrap, ARRIVALS, good.SerializeToString(), key, headers)
    bad_v = ScreeningCompleted(v_nummer="12AB").SerializeToString()
    topic = "screening.completed.v1"
    await publish_raw(bootstrap, topic, bad_v, b"POISON-badv", headers_for(topic))

    book = await drive(bootstrap, running_chain.trace_dir, [good])  # the chain goes on
    assert good.partner_reference in book.v_nummer_of
    # A report a partner can correct is rejected to the partner, not dead-lettered.
    rejections = await read_until(
        bootstrap,
        "arrival.rejected.v1",
        lambda rs: any(r.key == incomplete.partner_reference.encode() for r in rs),
    )
    rejected = [
        ArrivalRejected.FromString(r.value)
        for r in rejections
        if r.key == incomplete.partner_reference.encode()
    ]
    assert [(r.field, r.reason_code) for r in rejected] == [("reporting_partner", "missing")]
    assert incomplete.partner_reference not in book.v_nummer_of

    # Every consumer of screening.completed.v1 dead-letters the bad V-nummer.
    expected = {
        ("POISON-garbage", "bvv", "undecodable"),
        ("POISON-wrongtype", "bvv", "unexpected_type"),
        ("POISON-no-ce_id", "bvv", "missing_header"),
        ("POISON-no-content-type", "bvv", "missing_header"),
        *(("POISON-badv", service, "invalid_v_nummer") for service in topics()[topic].consumers),
    }
    records = await read_until(
        bootstrap, "deadletter.v1", lambda rs: len(_letters(rs, b"POISON")) >= len(expected)
    )
    found = {
        (letter.key.decode(), letter.service, letter.reason_code)
        for letter, _ in _letters(records, b"POISON")
    }
    assert found == expected
    for letter, headers in _letters(records, b"POISON"):
        assert headers["dlq_reason_code"] == letter.reason_code
        assert headers["dlq_service"] == letter.service
        assert letter.reason and "12AB" not in letter.reason
        if letter.key == b"POISON-garbage":
            assert letter.payload == garbage  # nothing lost: the original bytes are kept
            assert letter.topic == ARRIVALS and letter.offset >= 0


async def test_a_redelivered_event_has_one_effect(running_chain: RunningChain) -> None:
    bootstrap = running_chain.bootstrap_servers
    (report,) = make_arrivals(1, seed=6, prefix="DUP")
    key = report.partner_reference.encode()
    same = headers_for(ARRIVALS, ce_id="dup-ce-id-0001")
    for headers in (same, same, headers_for(ARRIVALS)):  # same id twice, then a resend
        await publish_raw(bootstrap, ARRIVALS, report.SerializeToString(), key, headers)

    def registered(records: list[ConsumerRecord]) -> list[PersonRegistered]:
        events = [PersonRegistered.FromString(r.value) for r in records]
        return [e for e in events if e.arrival.partner_reference == report.partner_reference]

    records = await read_until(
        bootstrap, "bvv.registered.v1", lambda rs: bool(registered(rs)), settle=3.0
    )
    assert len(registered(records)) == 1


async def test_services_killed_mid_run_lose_and_double_nothing(
    running_chain: RunningChain,
) -> None:
    chain = running_chain.chain
    chain.kill("screening")  # SIGKILL: no clean shutdown, no final commit
    reports = make_arrivals(10, seed=8, prefix="CRASH")
    task = asyncio.create_task(
        drive(running_chain.bootstrap_servers, running_chain.trace_dir, reports, timeout=240)
    )
    await asyncio.sleep(3)
    chain.start("screening")
    await asyncio.to_thread(chain.wait_ready, 90.0, "screening")
    await asyncio.sleep(1)
    chain.kill("asylum")  # with decisions pending on its stored timers
    chain.start("asylum")
    book = await task
    for report in reports:
        v = book.v_nummer_of[report.partner_reference]
        assert book.registrations[report.partner_reference] == 1
        assert book.history[v]["ScreeningCompleted"] == 1, "screened exactly once"
        assert book.history[v]["CaseOutcome"] >= 1
        # One decision, and another only after an upheld appeal or an expired transfer.
        assert book.history[v]["AsylumDecision"] <= (
            1 + book.history[v]["AppealDecided"] + book.history[v]["TransferExpired"]
        )

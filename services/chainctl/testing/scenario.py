"""Driving cases through the chain as a partner does, and checking their traces."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaProducer
from google.protobuf.message import Message

from chainctl.arrivals import make_arrivals
from chainctl.traces import SpanRecord, build_tree, case_traces
from chainctl.watch import CaseBook, ChainWatch, feed
from chainkit.catalogue import topic_for, topics
from chainkit.codec import cloudevent_headers
from chainkit.kafka_security import client_args
from chainkit.pact import is_granted
from chainkit.people import is_minor_age
from chainkit.telemetry import setup_telemetry
from migratieketen.v1.arrival_pb2 import ArrivalReport
from migratieketen.v1.common_pb2 import BiometricReference, CalendarDate, IdentityDocument
from migratieketen.v1.screening_pb2 import Referral


async def drive(
    bootstrap_servers: str,
    trace_dir: Path,
    reports: list[ArrivalReport],
    timeout: float = 180.0,
) -> CaseBook:
    """Feed the reports and wait until every one of them has reached a final outcome."""
    provider = setup_telemetry("partner", trace_dir)
    watch = ChainWatch(bootstrap_servers)
    await watch.start()
    refs = {r.partner_reference for r in reports}

    def done(book: CaseBook) -> bool:
        mine = {book.v_nummer_of[r] for r in refs if r in book.v_nummer_of}
        return len(mine) == len(refs) and mine <= set(book.outcomes)

    try:
        await feed(bootstrap_servers, reports, provider)
        reached = await watch.until(done, timeout)
    finally:
        await watch.stop()
        provider.shutdown()
    book = watch.book
    missing = sorted(r for r in refs if book.v_nummer_of.get(r) not in book.outcomes)
    assert reached, f"{len(missing)} of {len(refs)} cases reached no outcome: {missing[:5]}"
    return book


def expected_services(book: CaseBook, v_nummer: str) -> set[str]:
    """The services a case passes through, from what the chain said about it."""
    path = {"partner", "bvv", "screening", "europaloket"}
    screened = book.screened[v_nummer]
    if screened.referral == Referral.REFERRAL_ASYLUM:
        path |= {"asylum", "reception"}
        if not is_granted(book.decisions[v_nummer].outcome):
            path.add("returns")
    else:
        path |= {"returns", "reception"}  # reception hears the outcome
    return path


def check_case_trace(trace_dir: Path, book: CaseBook, v_nummer: str) -> list[SpanRecord]:
    """One trace per case; every consumer span is the child of the publish span of the
    message it consumed, made by a producer the catalogue names; one root, the report."""
    traces = case_traces(trace_dir, v_nummer)
    assert len(traces) == 1, f"case {v_nummer} is spread over {len(traces)} traces"
    spans = next(iter(traces.values()))
    roots = build_tree(spans)
    assert len(roots) == 1, f"case {v_nummer} trace has {len(roots)} roots"
    assert roots[0].service == "partner" and roots[0].name == "arrival.reported.v1 publish"
    by_id = {s.span_id: s for s in spans}
    for span in spans:
        topic_name, _, action = span.name.rpartition(" ")
        if action != "process" or topic_name not in topics():
            continue
        parent = by_id[span.parent_id or ""]
        assert parent.name == f"{topic_name} publish", (span.name, parent.name)
        topic = topics()[topic_name]
        assert parent.service in (*topic.producers, "partner"), (parent.service, topic_name)
        assert span.service in topic.consumers, (span.service, topic_name)
        assert parent.start_ns <= span.start_ns
    missing = expected_services(book, v_nummer) - {s.service for s in spans}
    assert not missing, f"case {v_nummer} trace lacks spans from {sorted(missing)}"
    return spans


async def wait_for_traces(
    trace_dir: Path, book: CaseBook, v_nummers: list[str], timeout: float = 20.0
) -> None:
    """Spans are exported in batches: retry the checks until the files have caught up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            for v in v_nummers:
                check_case_trace(trace_dir, book, v)
            return
        except (AssertionError, KeyError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


def fingerprint(name: str) -> str:
    """A synthetic fingerprint template hash, as partners report it."""
    return hashlib.sha256(f"europaloket-e2e|{name}".encode()).hexdigest()


def arrival(
    reference: str,
    age: int = 30,
    asylum: bool = True,
    biometric_hash: str | None = None,
    document_number: str | None = None,
) -> ArrivalReport:
    """A plausible inland arrival with the traits a scenario needs."""
    (report,) = make_arrivals(1, seed=1, prefix="ELK")
    report.partner_reference = reference
    report.claimed_age = age
    report.claimed_identity.date_of_birth.CopyFrom(
        CalendarDate(year=datetime.now(UTC).year - age, month=1, day=15)
    )
    report.asylum_requested = asylum
    report.accompanied = True
    report.family_group_id = f"{reference}-FAM" if is_minor_age(age) else ""
    report.ClearField("biometrics")
    if age >= 6:
        report.biometrics.CopyFrom(
            BiometricReference(
                template_reference=f"{reference}-BIO",
                template_hash=biometric_hash or fingerprint(reference),
                captured_at=report.reported_at,
            )
        )
    del report.documents[:]
    if document_number:
        report.documents.append(
            IdentityDocument(
                document_type="PASSPORT",
                document_number=document_number,
                issuing_country=report.claimed_identity.nationalities[0],
            )
        )
    return report


async def send(bootstrap_servers: str, *messages: Message, ce_id: str | None = None) -> None:
    """Publish as a partner does: protobuf value, CloudEvents headers, keyed by V-nummer."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", **client_args())
    await producer.start()
    try:
        for message in messages:
            topic = topic_for(message)
            key = getattr(message, topic.key)
            headers = cloudevent_headers(topic, "test-partner", key)
            headers["ce_id"] = ce_id or str(uuid.uuid4())
            await producer.send_and_wait(
                topic.name,
                value=message.SerializeToString(),
                key=key.encode(),
                headers=[(k, v.encode()) for k, v in headers.items()],
            )
    finally:
        await producer.stop()


def europaloket_records(directory: Path, toml: str) -> dict[str, str]:
    """Plant reference records in the simulated eu-LISA systems: write them (TOML, as in
    services/europaloket/fixtures.example.toml) and return the service setting to pass
    as `chain_env` or `env`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "planted-records.toml"
    path.write_text(toml, "utf-8")
    return {"MK_EUROPALOKET_FIXTURES": str(path)}

"""Acceptance: a partner with no code of this project can talk to the chain.

Everything the partner side does here uses only the contract (the .proto files and
the topic catalogue in contracts/README.md) and standard tools: protoc for text format
<-> protobuf, a plain librdkafka client (confluent-kafka) with CloudEvents headers.
No chainkit, no generated Python code.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import grpc_tools
import pytest
from confluent_kafka import Consumer, Producer

if TYPE_CHECKING:
    from e2e.conftest import RunningChain

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = ROOT / "contracts"
GRPC_INCLUDE = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
PROTO_FILES = [f"migratieketen/v1/{name}.proto" for name in ("arrival", "bvv", "outcome", "common")]
# librdkafka group joins take 15-25 s against the embedded broker.
TIMEOUT = 120.0

RETURN_OUTCOMES = {"OUTCOME_DEPARTED_VOLUNTARY", "OUTCOME_DEPARTED_FORCED", "OUTCOME_ABSCONDED"}


def protoc(mode: str, message_type: str, data: bytes) -> bytes:
    """`protoc --encode|--decode=migratieketen.v1.<type>`; Debian's protoc when on PATH."""
    binary = shutil.which("protoc")
    command = [binary] if binary else [sys.executable, "-m", "grpc_tools.protoc"]
    result = subprocess.run(
        [
            *command,
            f"--{mode}=migratieketen.v1.{message_type}",
            "-I",
            str(CONTRACTS),
            "-I",
            GRPC_INCLUDE,
            *PROTO_FILES,
        ],
        cwd=CONTRACTS,
        input=data,
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 0, f"protoc --{mode} failed: {result.stderr.decode()}"
    return result.stdout


def arrival_report_text(reference: str) -> str:
    """A synthetic adult who asks no asylum: screening refers to return, DTenV ends it."""
    template_hash = hashlib.sha256(f"partner-e2e|{reference}".encode()).hexdigest()
    return f"""
partner_reference: "{reference}"
reporting_partner: PARTNER_KMAR
setting: ARRIVAL_SETTING_EXTERNAL_BORDER
reason: ARRIVAL_REASON_IRREGULAR_CROSSING
location: "Schiphol"
reported_at {{ seconds: {int(time.time())} }}
claimed_identity {{
  family_name: "Voorbeeld"
  given_names: "Testpersoon"
  date_of_birth {{ year: {datetime.now(UTC).year - 30} month: 3 day: 14 }}
  gender: GENDER_MALE
  nationalities: "MAR"
  source_level: PIL_SOURCE_LEVEL_OWN_STATEMENT
}}
biometrics {{
  template_reference: "{reference}-BIO"
  template_hash: "{template_hash}"
  captured_at {{ seconds: {int(time.time())} }}
}}
claimed_age: 30
accompanied: true
asylum_requested: false
languages: "ar"
countries_of_residence: "MAR"
"""


def test_partner_without_project_code(running_chain: RunningChain, tmp_path: Path) -> None:
    reference = f"E2E-PARTNER-{uuid.uuid4().hex[:12].upper()}"
    report_txt = tmp_path / "report.txt"
    report_txt.write_text(arrival_report_text(reference), "utf-8")
    payload = protoc("encode", "ArrivalReport", report_txt.read_bytes())
    assert reference.encode() in payload

    trace_id = os.urandom(16).hex()
    headers = {
        "ce_specversion": "1.0",
        "ce_id": str(uuid.uuid4()),
        "ce_type": "nl.migratieketen.arrival.reported.v1",
        "ce_source": "/partners/kmar",
        "ce_subject": reference,
        "ce_time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "content-type": "application/protobuf",
        "traceparent": f"00-{trace_id}-{os.urandom(8).hex()}-01",
    }
    # No enable.idempotence: the embedded broker rejects idempotent producers.
    producer = Producer({"bootstrap.servers": running_chain.bootstrap_servers, "acks": "all"})
    delivery_errors: list[object] = []
    producer.produce(
        "arrival.reported.v1",
        key=reference.encode(),
        value=payload,
        headers=list(headers.items()),
        on_delivery=lambda err, _msg: delivery_errors.append(err),
    )
    assert producer.flush(30) == 0, "the arrival report was not delivered in 30 s"
    assert delivery_errors == [None], f"delivery failed: {delivery_errors}"

    consumer = Consumer(
        {
            "bootstrap.servers": running_chain.bootstrap_servers,
            "group.id": f"partner-e2e-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe(["bvv.registered.v1", "case.outcome.v1"])
    v_nummer: str | None = None
    registered_headers: dict[str, bytes] = {}
    outcome_payloads: dict[bytes, list[bytes]] = {}  # key (V-nummer) -> raw CaseOutcome
    outcome_text: str | None = None
    last_error = "none"
    deadline = time.monotonic() + TIMEOUT
    try:
        while outcome_text is None and time.monotonic() < deadline:
            running_chain.chain.check_alive()
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            error = msg.error()
            if error is not None:
                assert not error.fatal(), str(error)
                last_error = str(error)
                continue
            value: bytes = msg.value() or b""
            if msg.topic() == "bvv.registered.v1":
                # Cheap filter on the raw bytes, then decode the candidate with protoc.
                if v_nummer is not None or reference.encode() not in value:
                    continue
                text = protoc("decode", "PersonRegistered", value).decode()
                if f'partner_reference: "{reference}"' not in text:
                    continue
                found = re.search(r'^v_nummer: "([^"]*)"', text, re.MULTILINE)
                assert found, f"PersonRegistered without a v_nummer:\n{text}"
                v_nummer = found.group(1)
                assert "identified_existing: true" not in text
                raw_headers = msg.headers() or []
                items = raw_headers.items() if isinstance(raw_headers, dict) else raw_headers
                registered_headers = {
                    name: raw if isinstance(raw, bytes) else (raw or "").encode()
                    for name, raw in items
                }
            else:
                outcome_payloads.setdefault(msg.key() or b"", []).append(value)
            if v_nummer is not None:
                for raw in outcome_payloads.pop(v_nummer.encode(), []):
                    text = protoc("decode", "CaseOutcome", raw).decode()
                    if re.search(rf'^v_nummer: "{v_nummer}"$', text, re.MULTILINE):
                        outcome_text = text
    finally:
        consumer.close()

    assert v_nummer is not None, (
        f"no PersonRegistered for {reference} within {TIMEOUT:.0f} s (last error: {last_error})"
    )
    assert re.fullmatch(r"\d{10}", v_nummer), "the V-nummer is not 10 digits"
    assert registered_headers.get("ce_type") == b"nl.migratieketen.bvv.registered.v1"
    assert registered_headers.get("content-type") == b"application/protobuf"
    assert registered_headers.get("ce_subject") == v_nummer.encode()
    # The partner's trace goes on in the chain: same W3C trace id.
    assert registered_headers.get("traceparent", b"").decode().split("-")[1:2] == [trace_id]

    assert outcome_text is not None, (
        f"no CaseOutcome for the case within {TIMEOUT:.0f} s (last error: {last_error})"
    )
    outcome = re.search(r"^outcome: (OUTCOME_\w+)$", outcome_text, re.MULTILINE)
    assert outcome, f"CaseOutcome without an outcome:\n{outcome_text}"
    assert outcome.group(1) in RETURN_OUTCOMES, outcome_text

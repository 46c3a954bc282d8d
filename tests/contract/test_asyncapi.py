"""The AsyncAPI document (contracts/asyncapi.json): up to date, complete and valid."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from chainctl.asyncapi import SERVICES, build, message_descriptor, render
from chainctl.cli import main
from chainkit.catalogue import Topic, partners, topics
from chainkit.codec import PARTNER_HEADER, REQUIRED_HEADERS
from migratieketen.v1.common_pb2 import Partner

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "contracts" / "asyncapi.json"
ASYNCAPI_CLI = ROOT / ".tools" / "node_modules" / ".bin" / "asyncapi"
REF_PREFIX = "#/components/schemas/"

JSON = dict[str, Any]


@pytest.fixture(scope="module")
def doc() -> JSON:
    return build()


def _resolve(doc: JSON, node: JSON) -> JSON:
    """Follow a local $ref (#/a/b/c) to the node it names."""
    while "$ref" in node:
        target: JSON = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _channel(doc: JSON, topic: Topic) -> JSON:
    channels: dict[str, JSON] = doc["channels"]
    found = [c for c in channels.values() if c["address"] == topic.name]
    assert len(found) == 1, f"{topic.name} should be exactly one channel, found {len(found)}"
    return found[0]


def _message(doc: JSON, topic: Topic) -> JSON:
    messages = list(_channel(doc, topic)["messages"].values())
    assert len(messages) == 1, f"{topic.name} carries one message type"
    return _resolve(doc, messages[0])


def test_committed_document_is_up_to_date() -> None:
    assert DOCUMENT.exists(), "contracts/asyncapi.json is missing: run `make asyncapi`"
    assert DOCUMENT.read_text("utf-8") == render(), (
        "contracts/asyncapi.json is out of date with topics.toml or the .proto files: "
        "run `make asyncapi`"
    )


def test_cli_writes_the_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "asyncapi.json"
    assert main(["asyncapi", "--output", str(out)]) == 0
    assert out.read_text("utf-8") == render()
    capsys.readouterr()
    assert main(["asyncapi"]) == 0
    assert capsys.readouterr().out == render()


def test_document_header(doc: JSON) -> None:
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["version"] == "1.0.0"
    assert "contracts/README.md" in doc["info"]["description"]
    servers = doc["servers"]
    assert servers["embedded"]["host"] == "127.0.0.1:9092"
    assert {s["protocol"] for s in servers.values()} == {"kafka"}
    assert "production" in servers


def test_every_topic_is_a_channel(doc: JSON) -> None:
    addresses = sorted(c["address"] for c in doc["channels"].values())
    assert addresses == sorted(topics()), "one channel per catalogue topic, no others"


@pytest.mark.parametrize("topic", list(topics().values()), ids=lambda t: t.name)
def test_channel_describes_the_topic(doc: JSON, topic: Topic) -> None:
    channel = _channel(doc, topic)
    assert channel["description"] == topic.description
    retention = channel["bindings"]["kafka"]["topicConfiguration"]["retention.ms"]
    assert retention == topic.retention_days * 24 * 60 * 60 * 1000
    message = _message(doc, topic)
    assert message["contentType"] == "application/protobuf"
    assert _resolve(doc, message["payload"])["x-protobuf-message"] == (
        message_descriptor(topic).full_name
    )
    headers = message["headers"]["properties"]
    assert set(headers) == {
        "ce_specversion",
        "ce_id",
        "ce_type",
        "ce_source",
        "ce_subject",
        "ce_time",
        "content-type",
        "traceparent",
    } | ({PARTNER_HEADER} if topic.addressee else set())
    if topic.addressee:  # the partner's name, one of the contract's Partner values
        assert set(headers[PARTNER_HEADER]["enum"]) == set(Partner.keys()) - {"PARTNER_UNSPECIFIED"}
    assert message["headers"]["required"] == list(REQUIRED_HEADERS)
    assert headers["ce_type"]["const"] == topic.ce_type
    assert headers["content-type"]["const"] == "application/protobuf"
    key = message["bindings"]["kafka"]["key"]
    assert key["type"] == "string"
    assert topic.key in key["description"]


def _check_field(doc: JSON, where: str, field: FieldDescriptor, schema: JSON) -> None:
    entry = field.message_type
    if entry is not None and entry.GetOptions().map_entry:
        assert schema["type"] == "object", f"{where} is a map: expected an object"
        _check_field(doc, where, entry.fields_by_name["value"], schema["additionalProperties"])
        return
    if field.is_repeated:
        assert schema.get("type") == "array", f"{where} is repeated: expected an array"
        schema = schema["items"]
    if field.message_type is not None:
        if field.message_type.full_name == "google.protobuf.Timestamp":
            assert (schema["type"], schema["format"]) == ("string", "date-time"), where
        else:
            assert schema["$ref"] == REF_PREFIX + field.message_type.full_name, where
    elif field.enum_type is not None:
        enum = _resolve(doc, schema)
        assert enum["type"] == "string", where
        assert enum["enum"] == [v.name for v in field.enum_type.values], where
    elif field.type == FieldDescriptor.TYPE_BOOL:
        assert schema["type"] == "boolean", where
    elif field.type == FieldDescriptor.TYPE_STRING:
        assert schema["type"] == "string", where
    elif field.type in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64):
        assert schema["type"] == "integer", where
    else:
        assert "type" in schema, where


def _check_message(doc: JSON, descriptor: Descriptor, seen: set[str]) -> None:
    if descriptor.full_name in seen or descriptor.full_name == "google.protobuf.Timestamp":
        return
    seen.add(descriptor.full_name)
    schema = doc["components"]["schemas"].get(descriptor.full_name)
    assert schema is not None, f"no components/schemas entry for {descriptor.full_name}"
    properties = schema["properties"]
    fields = [f.name for f in descriptor.fields]
    assert list(properties) == fields, (
        f"schema of {descriptor.full_name} lists {sorted(properties)}, the proto {fields}"
    )
    for field in descriptor.fields:
        where = f"{descriptor.full_name}.{field.name}"
        _check_field(doc, where, field, properties[field.name])
        if field.message_type is not None:
            _check_message(doc, field.message_type, seen)


@pytest.mark.parametrize("topic", list(topics().values()), ids=lambda t: t.name)
def test_message_schema_lists_every_proto_field(doc: JSON, topic: Topic) -> None:
    payload = _message(doc, topic)["payload"]
    assert payload == {"$ref": REF_PREFIX + message_descriptor(topic).full_name}
    _check_message(doc, message_descriptor(topic), set())


def _operations(doc: JSON, actor: str, action: str) -> set[str]:
    return {
        _resolve(doc, op["channel"])["address"]
        for op in doc["operations"].values()
        if op["action"] == action and op["tags"] == [{"name": actor}]
    }


@pytest.mark.parametrize("service", SERVICES)
def test_service_operations(doc: JSON, service: str) -> None:
    consumed = {t.name for t in topics().values() if service in t.consumers}
    produced = {t.name for t in topics().values() if service in t.producers}
    assert _operations(doc, service, "receive") == consumed
    assert _operations(doc, service, "send") == produced


@pytest.mark.parametrize("partner", list(partners()))
def test_partner_operations(doc: JSON, partner: str) -> None:
    produced = {t.name for t in topics().values() if partner in t.producers}
    read = {t.name for t in topics().values() if partner in t.readers}
    assert _operations(doc, partner, "send") == produced
    assert _operations(doc, partner, "receive") == read


def test_reporting_partners_send_reports_and_read_their_outcome(doc: JSON) -> None:
    for partner in ("KMar", "AVIM", "DISA", "IND"):
        assert _operations(doc, partner, "send") == {"arrival.reported.v1"}
        assert {"bvv.registered.v1", "case.outcome.v1", "arrival.rejected.v1"} == (
            _operations(doc, partner, "receive")
        )


def _validate(path: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`asyncapi validate`, failing on warnings too; no analytics, nothing in $HOME."""
    metrics = tmp_path / "asyncapi-analytics.json"
    metrics.write_text('{"analyticsEnabled": "false", "infoMessageShown": "true"}')
    env = {
        **os.environ,
        "ASYNCAPI_METRICS_CONFIG_PATH": str(metrics),
        "SUPPRESS_NO_CONFIG_WARNING": "1",
        "CI": "true",
    }
    return subprocess.run(
        [str(ASYNCAPI_CLI), "validate", str(path), "--fail-severity", "warn"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.fixture
def asyncapi_cli() -> Path:
    if not ASYNCAPI_CLI.exists():
        pytest.skip(f"{ASYNCAPI_CLI} is missing: run `make tools` (needs npm)")
    return ASYNCAPI_CLI


@pytest.mark.usefixtures("asyncapi_cli")
def test_document_validates_with_asyncapi_cli(tmp_path: Path) -> None:
    result = _validate(DOCUMENT, tmp_path)
    assert result.returncode == 0, (
        f"asyncapi validate contracts/asyncapi.json failed:\n{result.stdout}\n{result.stderr}"
    )


@pytest.mark.usefixtures("asyncapi_cli")
def test_asyncapi_cli_refuses_a_broken_document(tmp_path: Path) -> None:
    """The validator is no rubber stamp: a message from another channel is an error."""
    broken = build()
    operation = broken["operations"]["bvv.receive.arrival.reported.v1"]
    operation["messages"] = [{"$ref": "#/channels/bvv.registered.v1/messages/PersonRegistered"}]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    result = _validate(path, tmp_path)
    assert result.returncode != 0, f"a broken document passed:\n{result.stdout}"

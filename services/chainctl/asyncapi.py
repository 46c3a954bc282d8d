"""The AsyncAPI 3.0.0 document of every topic, from the catalogue and the protobuf descriptors.

`build()` gives the document as a dict, `render()` as the JSON text that is committed as
contracts/asyncapi.json (`make asyncapi` regenerates it). Nothing here repeats a topic
name or a field: channels come from topics.toml, payload schemas from the descriptors.
"""

from __future__ import annotations

import json
from typing import Any, cast

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from chainkit.catalogue import Topic, partners, topics
from chainkit.codec import CONTENT_TYPE, PARTNER_HEADER, PARTNER_NAMES, REQUIRED_HEADERS
from chainkit.people import V_NUMMER_PATTERN

JSON = dict[str, Any]

ASYNCAPI_VERSION = "3.0.0"
DOCUMENT_VERSION = "1.0.0"  # contract version 1: package migratieketen.v1, topics *.v1
KAFKA_BINDING_VERSION = "0.5.0"
SERVICES = ("bvv", "screening", "europaloket", "asylum", "reception", "returns")
_DAY_MS = 24 * 60 * 60 * 1000
_V_NUMMER_PATTERN = f"^{V_NUMMER_PATTERN}$"

_SCALARS: dict[int, JSON] = {
    FieldDescriptor.TYPE_DOUBLE: {"type": "number", "format": "double"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number", "format": "float"},
    FieldDescriptor.TYPE_INT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_SINT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_UINT32: {"type": "integer", "format": "int32", "minimum": 0},
    FieldDescriptor.TYPE_FIXED32: {"type": "integer", "format": "int32", "minimum": 0},
    FieldDescriptor.TYPE_INT64: {"type": "integer", "format": "int64"},
    FieldDescriptor.TYPE_SINT64: {"type": "integer", "format": "int64"},
    FieldDescriptor.TYPE_SFIXED64: {"type": "integer", "format": "int64"},
    FieldDescriptor.TYPE_UINT64: {"type": "integer", "format": "int64", "minimum": 0},
    FieldDescriptor.TYPE_FIXED64: {"type": "integer", "format": "int64", "minimum": 0},
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
}

# Well-known types with a string form in the protobuf JSON mapping.
_WELL_KNOWN: dict[str, JSON] = {
    "google.protobuf.Timestamp": {
        "type": "string",
        "format": "date-time",
        "description": "google.protobuf.Timestamp (RFC 3339 in the JSON mapping)",
    },
    "google.protobuf.Duration": {
        "type": "string",
        "pattern": r"^-?\d+(\.\d+)?s$",
        "description": "google.protobuf.Duration (seconds with suffix s in the JSON mapping)",
    },
}


def schema_ref(full_name: str) -> JSON:
    return {"$ref": f"#/components/schemas/{full_name}"}


class _Schemas:
    """Collects one component schema per protobuf message and enum; safe for recursion."""

    def __init__(self) -> None:
        self.schemas: dict[str, JSON] = {}

    def message(self, descriptor: Descriptor) -> JSON:
        known = _WELL_KNOWN.get(descriptor.full_name)
        if known is not None:
            return dict(known)
        name = descriptor.full_name
        if name not in self.schemas:
            self.schemas[name] = {}  # placeholder: a recursive reference finds it
            properties = {field.name: self._field(field) for field in descriptor.fields}
            self.schemas[name] = {
                "type": "object",
                "title": descriptor.name,
                "x-protobuf-message": name,
                "x-protobuf-file": descriptor.file.name,
                "properties": properties,
            }
        return schema_ref(name)

    def enum(self, descriptor: EnumDescriptor) -> JSON:
        name = descriptor.full_name
        if name not in self.schemas:
            self.schemas[name] = {
                "type": "string",
                "title": descriptor.name,
                "x-protobuf-enum": name,
                "enum": [value.name for value in descriptor.values],
            }
        return schema_ref(name)

    def _field(self, field: FieldDescriptor) -> JSON:
        entry = field.message_type
        if entry is not None and entry.GetOptions().map_entry:
            return {
                "type": "object",
                "additionalProperties": self._single(entry.fields_by_name["value"]),
            }
        single = self._single(field)
        return {"type": "array", "items": single} if field.is_repeated else single

    def _single(self, field: FieldDescriptor) -> JSON:
        if field.enum_type is not None:
            return self.enum(field.enum_type)
        if field.message_type is not None:
            return self.message(field.message_type)
        return dict(_SCALARS[field.type])


def _key_schema(topic: Topic) -> JSON:
    fields = message_descriptor(topic).fields_by_name
    if topic.key in fields:
        description = f"The message's `{topic.key}` field, as a UTF-8 string."
    else:
        description = f"The {topic.key}, as a UTF-8 string."
    schema: JSON = {"type": "string", "description": description}
    if topic.keyed_by_v_nummer:
        schema["pattern"] = _V_NUMMER_PATTERN
    return schema


def _headers(topic: Topic) -> JSON:
    subject: JSON = {"type": "string", "description": f"The Kafka key ({topic.key})."}
    if topic.keyed_by_v_nummer:
        subject["pattern"] = _V_NUMMER_PATTERN
    properties: JSON = {
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {
            "type": "string",
            "minLength": 1,
            "description": "Unique per event; a resend of the same event keeps its id.",
        },
        "ce_type": {"type": "string", "const": topic.ce_type},
        "ce_source": {
            "type": "string",
            "description": "The producer, e.g. /partners/kmar or /migratieketen/<service>.",
        },
        "ce_subject": subject,
        "ce_time": {"type": "string", "format": "date-time"},
        "content-type": {"type": "string", "const": CONTENT_TYPE},
        "traceparent": {
            "type": "string",
            "pattern": "^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
            "description": "W3C trace context; the chain continues the producer's trace.",
        },
    }
    if topic.addressee:
        properties[PARTNER_HEADER] = {
            "type": "string",
            "enum": sorted(PARTNER_NAMES),
            "description": (
                f"CloudEvents extension: the Partner the event is for, as the message's "
                f"`{topic.addressee}` field says. A consumer acting for other partners may "
                "skip the record without decoding it."
            ),
        }
    return {
        "type": "object",
        "description": (
            "CloudEvents Kafka protocol binding (binary content mode) plus W3C trace "
            "context; header values are UTF-8 strings. A record without a required "
            "header, or with a wrong ce_specversion, ce_type or content-type, goes to "
            "deadletter.v1 with its reason code."
        ),
        "required": list(REQUIRED_HEADERS),
        "properties": properties,
    }


def message_descriptor(topic: Topic) -> Descriptor:
    """The descriptor of the topic's message (upb's and the Python one are alike)."""
    return cast(Descriptor, topic.message.DESCRIPTOR)


def _message(topic: Topic, schemas: _Schemas) -> JSON:
    message = message_descriptor(topic)
    return {
        "name": message.name,
        "title": message.full_name,
        "summary": topic.description,
        "contentType": CONTENT_TYPE,
        "headers": _headers(topic),
        "payload": schemas.message(message),
        "bindings": {"kafka": {"key": _key_schema(topic), "bindingVersion": KAFKA_BINDING_VERSION}},
    }


def _channel(topic: Topic) -> JSON:
    name = message_descriptor(topic).name
    return {
        "address": topic.name,
        "title": topic.name,
        "description": topic.description,
        "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        "bindings": {
            "kafka": {
                # Production settings (`migratieketen topics --create`); one broker gets
                # 3 partitions and one replica.
                "partitions": topic.partitions,
                "replicas": topic.replication_factor,
                "topicConfiguration": {"retention.ms": topic.retention_days * _DAY_MS},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _actors() -> list[str]:
    """The chain's services, then every partner the catalogue names, in catalogue order."""
    return [*SERVICES, *(name for name in partners() if name not in SERVICES)]


def _operations() -> JSON:
    operations: JSON = {}
    for actor in _actors():
        kind = "service" if actor in SERVICES else "partner"
        for topic in topics().values():
            message = message_descriptor(topic).name
            for action, involved in (
                ("send", actor in topic.producers),
                ("receive", actor in topic.consumers or actor in topic.readers),
            ):
                if not involved:
                    continue
                verb = "produces" if action == "send" else "consumes"
                operations[f"{actor.lower()}.{action}.{topic.name}"] = {
                    "action": action,
                    "channel": {"$ref": f"#/channels/{topic.name}"},
                    "summary": f"{actor} ({kind}) {verb} {message} on {topic.name}.",
                    "tags": [{"name": actor}],
                    "messages": [{"$ref": f"#/channels/{topic.name}/messages/{message}"}],
                }
    return operations


def build() -> JSON:
    schemas = _Schemas()
    messages = {message_descriptor(t).name: _message(t, schemas) for t in topics().values()}
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Migratieketen events",
            "version": DOCUMENT_VERSION,
            "description": (
                "The events of the Dutch migration chain on Kafka, contract version 1 "
                "(protobuf package `migratieketen.v1`, topics `*.v1`). Values are "
                "protobuf-encoded (binary); the payload schemas show each message's "
                "structure with the field names of the .proto files, which stay the single "
                "source of truth. Keys, headers, evolution rules and a walkthrough: the "
                "partner guide, contracts/README.md. Generated by `make asyncapi` from "
                "contracts/migratieketen/v1/topics.toml and the .proto files; do not edit."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "embedded": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": (
                    "The embedded Kafka-compatible broker (Tansu) with every topic: "
                    "`migratieketen broker --port 9092`."
                ),
            },
            "production": {
                "host": "kafka.migratieketen.example:9092",
                "protocol": "kafka",
                "description": (
                    "Placeholder: the chain's operators give each partner the real "
                    "bootstrap servers and credentials."
                ),
            },
        },
        "channels": {topic.name: _channel(topic) for topic in topics().values()},
        "operations": _operations(),
        "components": {"schemas": dict(sorted(schemas.schemas.items())), "messages": messages},
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"

"""Protobuf payloads and CloudEvents Kafka-binding headers."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from google.protobuf.message import DecodeError, Message

from chainkit.catalogue import Topic, topics

CONTENT_TYPE = "application/protobuf"
_V_NUMMER = re.compile(r"\d{10}")


class PoisonMessage(Exception):
    """A message no retry can fix; it goes to the dead-letter topic with this reason."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


def validate_v_nummer(value: str, field: str = "v_nummer") -> str:
    """A V-nummer is exactly 10 digits; the message never repeats the bad value."""
    if not _V_NUMMER.fullmatch(value):
        raise PoisonMessage("invalid_v_nummer", f"field {field} must be exactly 10 digits")
    return value


def cloudevent_headers(topic: Topic, source: str, subject: str) -> dict[str, str]:
    return {
        "ce_specversion": "1.0",
        "ce_id": str(uuid.uuid4()),
        "ce_type": topic.ce_type,
        "ce_source": f"/migratieketen/{source}",
        "ce_subject": subject,
        "ce_time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "content-type": CONTENT_TYPE,
    }


def header_dict(headers: Iterable[tuple[str, bytes]] | Mapping[str, object]) -> dict[str, str]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for name, value in items:
        if isinstance(value, bytes):
            out[name] = value.decode("utf-8", "replace")
        else:
            out[name] = str(value)
    return out


def decode(topic_name: str, payload: bytes, headers: Mapping[str, str]) -> Message:
    """Decode a value read from `topic_name`; raise PoisonMessage when it cannot be."""
    topic = topics().get(topic_name)
    if topic is None:
        raise PoisonMessage("unknown_topic", f"topic {topic_name} is not in the catalogue")
    ce_type = headers.get("ce_type")
    if ce_type is not None and ce_type != topic.ce_type:
        raise PoisonMessage("unexpected_type", f"header ce_type does not match topic {topic_name}")
    content_type = headers.get("content-type")
    if content_type is not None and content_type != CONTENT_TYPE:
        raise PoisonMessage("unsupported_content_type", f"content-type must be {CONTENT_TYPE}")
    message = topic.message()
    try:
        message.ParseFromString(payload)
    except DecodeError:
        raise PoisonMessage(
            "undecodable", f"value is not a valid {topic.message.__name__} protobuf"
        ) from None
    if topic.keyed_by_v_nummer:
        validate_v_nummer(getattr(message, topic.key), topic.key)
    return message

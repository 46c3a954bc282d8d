"""The topic catalogue (contracts/migratieketen/v1/topics.toml) as Python objects."""

from __future__ import annotations

import importlib
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from google.protobuf.message import Message

_CONTRACT_PACKAGE = "migratieketen.v1"
_MODULES = (
    "arrival",
    "asylum",
    "bvv",
    "common",
    "deadletter",
    "deadline",
    "europaloket",
    "ind",
    "outcome",
    "reception",
    "returns",
    "screening",
)


@dataclass(frozen=True)
class Topic:
    name: str
    message: type[Message]
    ce_type: str
    key: str
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    readers: tuple[str, ...]  # partners that may read it besides the consumers
    retention_days: int
    description: str
    # Apache Kafka settings (topics.toml [kafka], or the topic's own).
    partitions: int
    replication_factor: int
    min_insync_replicas: int
    # The field of the message naming the partner (a `Partner`) the event is for: its
    # name travels as the header `ce_partner`, so a consumer acting for other partners
    # skips the record unread (chainkit.consumer). Empty: the event is for every consumer.
    addressee: str = ""

    @property
    def keyed_by_v_nummer(self) -> bool:
        return self.key == "v_nummer"


def _message_class(name: str) -> type[Message]:
    for module_name in _MODULES:
        module = importlib.import_module(f"{_CONTRACT_PACKAGE}.{module_name}_pb2")
        cls = getattr(module, name, None)
        if isinstance(cls, type) and issubclass(cls, Message):
            return cls
    raise LookupError(f"topics.toml names message {name!r}, which no .proto defines")


@cache
def _raw() -> dict[str, Any]:
    text = resources.files(_CONTRACT_PACKAGE).joinpath("topics.toml").read_text("utf-8")
    return tomllib.loads(text)


@cache
def partners() -> dict[str, str]:
    """The partners outside the chain's services, name -> description."""
    return {name: spec["description"] for name, spec in _raw()["partners"].items()}


@cache
def services() -> tuple[str, ...]:
    """The chain's services: every producer or consumer that is not a partner."""
    names: list[str] = []
    for topic in topics().values():
        for name in (*topic.producers, *topic.consumers):
            if name not in partners() and name not in names:
                names.append(name)
    return tuple(names)


@cache
def topics() -> dict[str, Topic]:
    raw = _raw()
    kafka = raw["kafka"]
    return {
        name: Topic(
            name=name,
            message=_message_class(spec["message"]),
            ce_type=spec["ce_type"],
            key=spec["key"],
            producers=tuple(spec["producers"]),
            consumers=tuple(spec["consumers"]),
            readers=tuple(spec.get("readers", ())),
            retention_days=int(spec["retention_days"]),
            description=spec["description"],
            partitions=int(spec.get("partitions", kafka["partitions"])),
            replication_factor=int(spec.get("replication_factor", kafka["replication_factor"])),
            min_insync_replicas=int(spec.get("min_insync_replicas", kafka["min_insync_replicas"])),
            addressee=_addressee(spec),
        )
        for name, spec in raw["topics"].items()
    }


def _addressee(spec: dict[str, Any]) -> str:
    field = str(spec.get("addressee", ""))
    if field:
        descriptor = _message_class(spec["message"]).DESCRIPTOR.fields_by_name.get(field)
        if (
            descriptor is None
            or descriptor.enum_type is None
            or (descriptor.enum_type.name != "Partner")
        ):
            raise LookupError(
                f"topics.toml: addressee {field!r} of {spec['message']} is not a Partner field"
            )
    return field


def topic_for(message: type[Message] | Message) -> Topic:
    """The one topic that carries this message type."""
    cls = message if isinstance(message, type) else type(message)
    topic = _by_message().get(cls)
    if topic is None:
        raise LookupError(f"no topic in the catalogue carries {cls.__name__}")
    return topic


@cache
def _by_message() -> dict[type[Message], Topic]:
    """Message class -> its topic (looked up for every event published)."""
    return {topic.message: topic for topic in topics().values()}


def consumed_by(service: str) -> list[Topic]:
    return [topic for topic in topics().values() if service in topic.consumers]


def by_ce_type(ce_type: str) -> Topic | None:
    return next((t for t in topics().values() if t.ce_type == ce_type), None)

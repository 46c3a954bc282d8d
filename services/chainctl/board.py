"""What the operations team sees: the chain's own topics folded into a board.

Reads topics from the beginning without a consumer group (it changes nothing), and keeps
the latest state of every watched legal deadline, arrivals and outcomes per minute, and
the last word of whatever capacity events exist. No personal data: V-nummers, types,
stages and times only.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aiokafka import TopicPartition
from google.protobuf.message import Message

from chainctl.watch import CoaTally, observer
from chainkit.catalogue import topic_for, topics
from chainkit.codec import PoisonMessage, decode, header_dict
from migratieketen.v1.arrival_pb2 import ArrivalReport
from migratieketen.v1.deadline_pb2 import DeadlineEvent, DeadlineState
from migratieketen.v1.ind_pb2 import (
    BorderCapacityChanged,
    CapacityState,
    CrisisDeclared,
    CrisisEnded,
)
from migratieketen.v1.outcome_pb2 import CaseOutcome
from migratieketen.v1.reception_pb2 import (
    LadderChanged,
    NoPlace,
    ReceptionEnded,
    ReceptionPlacement,
)

AT_RISK = DeadlineState.DEADLINE_STATE_AT_RISK
BREACHED = DeadlineState.DEADLINE_STATE_BREACHED
RUNNING = (DeadlineState.DEADLINE_STATE_STARTED, AT_RISK)


def state_name(state: DeadlineState.ValueType) -> str:
    return DeadlineState.Name(state).removeprefix("DEADLINE_STATE_").lower().replace("_", " ")


def _dt(ts: object) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)  # type: ignore[attr-defined, no-any-return]


@dataclass(frozen=True)
class DeadlineRow:
    type: str
    v_nummer: str
    ref: str
    service: str
    state: str
    started_at: datetime
    due_at: datetime
    at: datetime
    late_seconds: int
    description: str

    def left(self, now: datetime) -> timedelta:
        return self.due_at - now


def left_text(delta: timedelta) -> str:
    """'2d 03h left' or '5h 10m over', in simulated time."""
    seconds = int(delta.total_seconds())
    word = "left" if seconds >= 0 else "over"
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    if days:
        return f"{days}d {hours:02d}h {word}"
    return f"{hours}h {rest // 60:02d}m {word}"


@dataclass
class Capacity:
    """Occupancy per location type and the ladder step (COA, replayed from its placements,
    ends and ladder changes), the border procedure's capacity (IND) and the crisis state."""

    coa: CoaTally = field(default_factory=CoaTally)
    border: BorderCapacityChanged | None = None
    crises: dict[str, CrisisDeclared] = field(default_factory=dict)  # running, by id
    crises_ended: int = 0
    waiting: set[str] = field(default_factory=set)  # without a place now (V-nummers)

    def add(self, message: Message) -> None:
        match message:
            case ReceptionPlacement() | ReceptionEnded() | LadderChanged() | NoPlace():
                self.coa.add(message)
                if isinstance(message, NoPlace):
                    self.waiting.add(message.v_nummer)
                elif not isinstance(message, LadderChanged):
                    self.waiting.discard(message.v_nummer)
            case BorderCapacityChanged():
                self.border = message
            case CrisisDeclared():
                self.crises[message.crisis_id] = message
            case CrisisEnded():
                if self.crises.pop(message.crisis_id, None) is not None:
                    self.crises_ended += 1

    def summary(self) -> dict[str, object]:
        """Figures only: location types, steps, counts and chain times."""
        border = self.border
        return {
            "occupancy": dict(sorted(self.coa.occupancy.items())),
            "step": self.coa.step,
            "highest_step": self.coa.highest_step_name,
            "ladder_changes": len(self.coa.ladder),
            "without_place": len(self.waiting),
            "ever_without_place": len(self.coa.without_place),
            "border": None
            if border is None
            else {
                "in_use": border.in_use,
                "capacity": border.capacity,
                "reached": border.state == CapacityState.CAPACITY_STATE_REACHED,
            },
            "crisis": {
                "declared": bool(self.crises),
                "ended": self.crises_ended,
                "running": [
                    {
                        "crisis_id": c.crisis_id,
                        "since": _dt(c.starts_at).isoformat(timespec="minutes"),
                        "until": _dt(c.ends_at).isoformat(timespec="minutes")
                        if c.HasField("ends_at")
                        else None,
                        "registration_weeks": c.registration_weeks,
                        "border_extension_weeks": c.border_extension_weeks,
                    }
                    for c in self.crises.values()
                ],
            },
        }


@dataclass
class Board:
    """The latest state of every deadline, and counts per real minute."""

    deadlines: dict[tuple[str, str, str], DeadlineRow] = field(default_factory=dict)
    chain_now: datetime | None = None  # the newest simulated time any event carried
    arrivals: Counter[int] = field(default_factory=Counter)  # per real minute (epoch // 60)
    outcomes: Counter[int] = field(default_factory=Counter)
    latest: dict[str, Message] = field(default_factory=dict)  # last event per topic
    counts: Counter[str] = field(default_factory=Counter)  # events per topic
    capacity: Capacity = field(default_factory=Capacity)

    def add(self, topic: str, message: Message, timestamp_ms: int) -> None:
        self.counts[topic] += 1
        self.latest[topic] = message
        self.capacity.add(message)
        minute = timestamp_ms // 60_000
        if isinstance(message, ArrivalReport):
            self.arrivals[minute] += 1
        elif isinstance(message, CaseOutcome):
            self.outcomes[minute] += 1
        elif isinstance(message, DeadlineEvent):
            at = _dt(message.at)
            self.chain_now = at if self.chain_now is None else max(self.chain_now, at)
            self.deadlines[(message.type, message.v_nummer, message.ref)] = DeadlineRow(
                type=message.type,
                v_nummer=message.v_nummer,
                ref=message.ref,
                service=message.service,
                state=state_name(message.state),
                started_at=_dt(message.started_at),
                due_at=_dt(message.due_at),
                at=at,
                late_seconds=message.late_seconds,
                description=message.description,
            )

    def watched(self, *states: str) -> dict[str, list[DeadlineRow]]:
        """Deadlines in these states per type, the closest (or longest over) first."""
        by_type: dict[str, list[DeadlineRow]] = defaultdict(list)
        for row in self.deadlines.values():
            if row.state in states:
                by_type[row.type].append(row)
        return {t: sorted(rows, key=lambda r: r.due_at) for t, rows in sorted(by_type.items())}

    def totals(self) -> dict[str, Counter[str]]:
        """Per type: how many deadlines are in each state now."""
        out: dict[str, Counter[str]] = defaultdict(Counter)
        for row in self.deadlines.values():
            out[row.type][row.state] += 1
        return dict(sorted(out.items()))

    def of_case(self, v_nummer: str) -> list[DeadlineRow]:
        return sorted(
            (r for r in self.deadlines.values() if r.v_nummer == v_nummer),
            key=lambda r: r.started_at,
        )


def existing_topics(*names: str) -> list[str]:
    """The names that are in the catalogue (topics.toml): read what exists, skip the rest."""
    known = {t.name for t in topics().values()}
    return [n for n in names if n in known]


BOARD_TOPICS = existing_topics(
    topic_for(ArrivalReport).name,
    topic_for(CaseOutcome).name,
    topic_for(DeadlineEvent).name,
)
# What `Capacity` folds: reception's placements, ends, ladder and people without a place,
# the border capacity and the crisis topics.
CAPACITY_TOPICS = existing_topics(
    *(
        topic_for(kind).name
        for kind in (
            ReceptionPlacement,
            ReceptionEnded,
            LadderChanged,
            NoPlace,
            BorderCapacityChanged,
            CrisisDeclared,
            CrisisEnded,
        )
    )
)


class BoardReader:
    """Follows topics from the beginning without a consumer group."""

    def __init__(self, bootstrap_servers: str, topic_names: list[str]) -> None:
        self.board = Board()
        self.topic_names = topic_names
        self._consumer = observer(bootstrap_servers)

    async def start(self) -> None:
        await self._consumer.start()
        self._consumer.subscribe(self.topic_names)

    async def stop(self) -> None:
        await self._consumer.stop()

    async def poll(self, timeout: float = 0.2) -> int:
        batches = await self._consumer.getmany(timeout_ms=int(timeout * 1000))
        read = 0
        for records in batches.values():
            for record in records:
                read += 1
                try:
                    message = decode(record.topic, record.value or b"", header_dict(record.headers))
                except PoisonMessage:
                    continue  # the services dead-letter what they cannot read
                self.board.add(record.topic, message, record.timestamp)
        return read

    async def catch_up(self, timeout: float = 20.0) -> bool:
        """Read until every partition is at the end it had when this was called."""
        deadline = time.monotonic() + timeout
        while not self._consumer.assignment() and time.monotonic() < deadline:
            await self.poll(0.1)
        parts: set[TopicPartition] = set(self._consumer.assignment())
        ends = await self._consumer.end_offsets(list(parts))
        while time.monotonic() < deadline:
            positions = {tp: await self._consumer.position(tp) for tp in parts}
            if all(positions[tp] >= ends[tp] for tp in parts):
                return True
            await self.poll(0.2)
        return False

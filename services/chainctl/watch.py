"""Feed arrival reports into the chain and follow every case to its outcome."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from google.protobuf.message import Message
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from chainctl.ind_report import IND_WATCHED, IndBook
from chainkit.catalogue import topic_for
from chainkit.clock import SimClock, timestamp
from chainkit.codec import PoisonMessage, cloudevent_headers, decode, header_dict
from chainkit.kafka_security import client_args
from chainkit.telemetry import STAGE, inject_current
from migratieketen.v1.arrival_pb2 import ArrivalRejected, ArrivalReport
from migratieketen.v1.asylum_pb2 import AsylumApplicationRegistered, AsylumDecision
from migratieketen.v1.bvv_pb2 import IdentityUpdated, PersonRegistered
from migratieketen.v1.deadletter_pb2 import DeadLetter
from migratieketen.v1.deadline_pb2 import DeadlineBreached
from migratieketen.v1.outcome_pb2 import CaseOutcome
from migratieketen.v1.reception_pb2 import (
    LadderChanged,
    LadderStep,
    LocationType,
    NoPlace,
    ReceptionEnded,
    ReceptionPlacement,
    ReportMissed,
)
from migratieketen.v1.returns_pb2 import (
    DetentionChanged,
    ReturnBorderProcedureEnded,
    ReturnCaseOpened,
    ReturnTrack,
    TransferExpired,
)
from migratieketen.v1.screening_pb2 import GuardianRequested, ScreeningCompleted

WATCHED = (
    ArrivalRejected,
    PersonRegistered,
    IdentityUpdated,
    GuardianRequested,
    DeadlineBreached,
    ScreeningCompleted,
    AsylumApplicationRegistered,
    AsylumDecision,
    ReceptionPlacement,
    ReceptionEnded,
    CaseOutcome,
    DeadLetter,
    *IND_WATCHED,
)
# COA's ladder and places, DTenV's cases and detention (see CoaTally).
COA_DTENV_WATCHED = (
    LadderChanged,
    NoPlace,
    ReportMissed,
    ReturnCaseOpened,
    DetentionChanged,
    ReturnBorderProcedureEnded,
    TransferExpired,
)

# An observer (this watcher, the console's board) reads many topics (23 and 10), and a
# fetch covers every partition of them. The embedded broker's work per fetch grows with
# the partitions it covers, and it answers a fetch after (half) the fetch's wait: at a
# 50 ms wait, following 20 topics (3 partitions each, as `migratieketen run` creates
# them) while 500 records a second flowed cost the broker a third of a core; at 500 ms,
# a fifth of that. An observer can wait. (No fetch_min_bytes: above one byte the
# embedded broker re-reads every partition until the bytes are there, and an observer
# asking for 64 KiB once missed 3 of 12,200 outcomes in a 12,200-case run.)
OBSERVER_FETCH_WAIT_MS = 500


def observer(bootstrap_servers: str) -> AIOKafkaConsumer:
    """A consumer that reads from the beginning without a consumer group (it changes
    nothing) and fetches seldom: it sees the chain a fraction of a second late."""
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        **client_args(),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=OBSERVER_FETCH_WAIT_MS,
    )


async def feed(
    bootstrap_servers: str,
    reports: list[ArrivalReport],
    provider: TracerProvider,
    spread_seconds: float = 0.0,
    clock: SimClock | None = None,
) -> None:
    """Publish arrival reports as a partner would; each starts the trace of its case.
    `spread_seconds` spreads them evenly over that much real time (arrivals come in over
    days, not all at once); with a `clock`, reported_at is the chain's simulated now."""
    tracer = provider.get_tracer("migratieketen.partner")
    topic = topic_for(ArrivalReport)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", **client_args())
    await producer.start()
    try:
        pending = []
        started = time.monotonic()
        for index, report in enumerate(reports):
            if spread_seconds:
                wait = started + spread_seconds * index / len(reports) - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            if clock is not None:
                _report_now(report, clock.now())
            with tracer.start_as_current_span(
                f"{topic.name} publish",
                kind=trace.SpanKind.PRODUCER,
                attributes={
                    STAGE: "arrival",
                    "case.partner_reference": report.partner_reference,
                    "messaging.destination.name": topic.name,
                },
            ):
                headers = cloudevent_headers(topic, "partner", report.partner_reference)
                headers.update(inject_current())
                pending.append(
                    await producer.send(
                        topic.name,
                        value=report.SerializeToString(),
                        key=report.partner_reference.encode(),
                        headers=[(k, v.encode()) for k, v in headers.items()],
                    )
                )
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def _report_now(report: ArrivalReport, now: datetime) -> None:
    """Report the arrival at the chain's simulated now; a birth date moves along with the
    report, so the person is as old as claimed (a fast clock runs years during a feed)."""
    if report.HasField("reported_at"):
        shift = now - report.reported_at.ToDatetime(tzinfo=UTC)
        born = report.claimed_identity.date_of_birth
        if born.year and born.month and born.day:
            moved = date(born.year, born.month, born.day) + timedelta(days=shift.days)
            born.year, born.month, born.day = moved.year, moved.month, moved.day
    report.reported_at.CopyFrom(timestamp(now))


def _type(kind: LocationType.ValueType) -> str:
    return LocationType.Name(kind).removeprefix("LOCATION_TYPE_").lower().replace("_", " ")


def _step(step: LadderStep.ValueType) -> str:
    return LadderStep.Name(step).removeprefix("LADDER_STEP_").lower().replace("_", " ")


@dataclass
class CoaTally:
    """Reception and return under pressure: occupancy per location type replayed from
    the placements and ends, the ladder, people without a place, MOB, detention."""

    occupancy: Counter[str] = field(default_factory=Counter)
    peak: int = 0
    peak_by_type: dict[str, int] = field(default_factory=dict)
    step: str = "regular"
    peak_step: str = "regular"
    highest_step: LadderStep.ValueType = LadderStep.LADDER_STEP_REGULAR
    ladder: list[LadderChanged] = field(default_factory=list)
    without_place: set[str] = field(default_factory=set)
    missed_reports: int = 0
    mob: set[str] = field(default_factory=set)
    detention_peak: int = 0
    detention_capacity: int = 0
    detained: set[str] = field(default_factory=set)
    return_cases: Counter[str] = field(default_factory=Counter)
    border_procedure_ended: int = 0
    transfers_expired: int = 0
    where: dict[str, str] = field(default_factory=dict)  # V-nummer -> place held
    two_places: int = 0  # placements that did not move the person out of the bed held
    outcomes: Counter[str] = field(default_factory=Counter)

    def add(self, message: object) -> None:
        match message:
            case CaseOutcome():
                self.outcomes[message.v_nummer] += 1
            case ReceptionPlacement():
                if self.where.get(message.v_nummer, "") != message.previous_location:
                    self.two_places += 1
                self.where[message.v_nummer] = message.location
                if message.previous_location_type:
                    self.occupancy[_type(message.previous_location_type)] -= 1
                self.occupancy[_type(message.location_type)] += 1
                total = sum(self.occupancy.values())
                if total > self.peak:
                    self.peak, self.peak_step = total, self.step
                    self.peak_by_type = {k: v for k, v in self.occupancy.items() if v > 0}
            case ReceptionEnded():
                if message.location_type:
                    self.occupancy[_type(message.location_type)] -= 1
            case LadderChanged():
                self.ladder.append(message)
                self.step = _step(message.step)
                self.highest_step = max(self.highest_step, message.step)
            case NoPlace():
                self.without_place.add(message.v_nummer)
            case ReportMissed():
                self.missed_reports += 1
                if message.missed_in_a_row >= message.limit:
                    self.mob.add(message.v_nummer)
            case DetentionChanged():
                self.detention_capacity = message.capacity
                self.detention_peak = max(self.detention_peak, message.occupancy)
                if message.detained:
                    self.detained.add(message.v_nummer)
            case ReturnCaseOpened():
                track = ReturnTrack.Name(message.track).removeprefix("RETURN_TRACK_")
                self.return_cases[track.lower().replace("_", " ")] += 1
            case ReturnBorderProcedureEnded():
                self.border_procedure_ended += 1
            case TransferExpired():
                self.transfers_expired += 1

    @property
    def highest_step_name(self) -> str:
        return _step(self.highest_step)

    def rows(self) -> list[tuple[str, str]]:
        """Summary lines for the demo."""
        by_type = ", ".join(f"{k} {v}" for k, v in sorted(self.peak_by_type.items())) or "none"
        ups = sum(1 for c in self.ladder if c.step > c.previous_step)
        return [
            ("reception peak", f"{self.peak} ({by_type})"),
            (
                "ladder",
                f"step at the peak: {self.peak_step}; highest: {_step(self.highest_step)};"
                f" {ups} up, {len(self.ladder) - ups} down; now {self.step}",
            ),
            ("without a place", str(len(self.without_place))),
            (
                "return cases",
                ", ".join(f"{k} {v}" for k, v in self.return_cases.most_common()) or "none",
            ),
            ("reports missed / MOB", f"{self.missed_reports} / {len(self.mob)}"),
            (
                "detention (DJI)",
                f"{len(self.detained)} detained, peak {self.detention_peak}"
                f" of {self.detention_capacity} places",
            ),
            (
                "return border procedure",
                f"{self.border_procedure_ended} ended; transfers expired {self.transfers_expired}",
            ),
            (
                "integrity",
                f"{self.two_places} in two places;"
                f" {sum(1 for n in self.outcomes.values() if n > 1)} with more than one outcome",
            ),
        ]


@dataclass
class CaseBook:
    """What the chain has said so far, per case."""

    v_nummer_of: dict[str, str] = field(default_factory=dict)  # partner ref -> V-nummer
    identified_existing: int = 0
    screened: dict[str, ScreeningCompleted] = field(default_factory=dict)
    applications: dict[str, AsylumApplicationRegistered] = field(default_factory=dict)
    decisions: dict[str, AsylumDecision] = field(default_factory=dict)
    placements: dict[str, ReceptionPlacement] = field(default_factory=dict)
    reception_ended: dict[str, ReceptionEnded] = field(default_factory=dict)
    outcomes: dict[str, CaseOutcome] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    rejected: dict[str, ArrivalRejected] = field(default_factory=dict)  # per partner ref
    breaches: list[DeadlineBreached] = field(default_factory=list)
    registered: dict[str, PersonRegistered] = field(default_factory=dict)  # per partner ref
    guardians: dict[str, GuardianRequested] = field(default_factory=dict)
    identity_updates: list[IdentityUpdated] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    # Every event seen per V-nummer, by message type, to tell duplicates from effects.
    history: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    registrations: Counter[str] = field(default_factory=Counter)  # per partner reference
    coa: CoaTally = field(default_factory=CoaTally)
    ind: IndBook = field(default_factory=IndBook)

    def add(self, message: object) -> None:
        self.coa.add(message)
        self.ind.add(message)
        match message:
            case PersonRegistered():
                self.v_nummer_of[message.arrival.partner_reference] = message.v_nummer
                self.registrations[message.arrival.partner_reference] += 1
                self.registered[message.arrival.partner_reference] = message
                self.identified_existing += message.identified_existing
            case ScreeningCompleted():
                self.screened[message.v_nummer] = message
            case AsylumApplicationRegistered():
                self.applications[message.v_nummer] = message
            case AsylumDecision():
                self.decisions[message.v_nummer] = message
            case ReceptionPlacement():
                self.placements[message.v_nummer] = message
            case ReceptionEnded():
                self.reception_ended[message.v_nummer] = message
            case CaseOutcome():
                self.outcomes[message.v_nummer] = message
            case DeadLetter():
                self.dead_letters.append(message)
            case ArrivalRejected():
                self.rejected[message.partner_reference] = message
            case DeadlineBreached():
                self.breaches.append(message)
            case GuardianRequested():
                self.guardians[message.v_nummer] = message
            case IdentityUpdated():
                self.identity_updates.append(message)
        self.counts[type(message).__name__] += 1
        v_nummer = getattr(message, "v_nummer", "")
        if v_nummer:
            self.history[v_nummer][type(message).__name__] += 1

    def open_cases(self) -> set[str]:
        return set(self.v_nummer_of.values()) - set(self.outcomes)

    def settled(self, partner_reference: str) -> bool:
        """The report was refused, or the person it registered reached an outcome."""
        if partner_reference in self.rejected:
            return True
        return self.v_nummer_of.get(partner_reference) in self.outcomes


class ChainWatch:
    """Reads the chain's topics from the beginning without joining a consumer group."""

    def __init__(
        self,
        bootstrap_servers: str,
        watched: Sequence[type[Message]] = (*WATCHED, *COA_DTENV_WATCHED),
    ) -> None:
        self.book = CaseBook()
        self._consumer = observer(bootstrap_servers)
        self._topics = [topic_for(m).name for m in watched]

    async def start(self) -> None:
        await self._consumer.start()
        self._consumer.subscribe(self._topics)

    async def stop(self) -> None:
        await self._consumer.stop()

    async def poll(self, timeout: float = 0.2) -> None:
        batches = await self._consumer.getmany(timeout_ms=int(timeout * 1000))
        for records in batches.values():
            for record in records:
                headers = header_dict(record.headers)
                try:
                    self.book.add(decode(record.topic, record.value or b"", headers))
                except PoisonMessage:
                    self.book.counts["undecodable"] += 1  # the services dead-letter it

    async def until(
        self,
        done: Callable[[CaseBook], bool],
        timeout: float,
        progress: Callable[[CaseBook], None] | None = None,
        check: Callable[[], None] | None = None,
        every: float = 1.0,
    ) -> bool:
        """Poll until `done(book)`; call `progress` every `every` s and `check` to fail fast."""
        deadline = time.monotonic() + timeout
        next_report = time.monotonic() + every
        while not done(self.book):
            if time.monotonic() > deadline:
                return False
            if check is not None:
                check()
            await self.poll()
            if progress is not None and time.monotonic() >= next_report:
                progress(self.book)
                next_report += every
        return True

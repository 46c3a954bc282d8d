"""Metrics through the OpenTelemetry metrics SDK: every measure is defined once, here.

Events in and out, handling time and hop latency come from the spans the kit already
makes (a span processor, so no handler is touched); legal-deadline events from what a
service publishes; occupancy per location type, the ladder step and consumer lag from
callbacks (the COA service and the operations console register them). Exported on a
Prometheus endpoint (setting MK_METRICS_PORT, bound to MK_METRICS_HOST, 127.0.0.1 by
default) and over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set. Labels are services,
topics, deadline types, location types and states: never a V-nummer or anything about a
person.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Histogram, Meter, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.trace import SpanKind

from chainkit.telemetry import span_attributes
from migratieketen.v1.deadline_pb2 import DeadlineEvent, DeadlineState

log = logging.getLogger(__name__)

# The span attribute with the Kafka record's timestamp (ms), set on every consumer span.
RECORD_TIMESTAMP = "messaging.kafka.message.timestamp"
DEAD_LETTER_REASON = "case.dead_letter_reason"
TOPIC = "messaging.destination.name"
DAY = 86_400.0
SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
DAYS_BUCKETS = (0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 14.0, 30.0, 90.0, 180.0, 365.0)

# Callbacks that report gauges: occupancy per location type, the scaling ladder's step,
# consumer lag per group and topic.
OccupancySource = Callable[[], Mapping[str, float]]
LadderSource = Callable[[], int | None]
LagSource = Callable[[], Mapping[tuple[str, str], int]]
_occupancy: list[OccupancySource] = []
_ladder: list[LadderSource] = []
_lag: list[LagSource] = []


def observe_occupancy(source: OccupancySource, ladder: LadderSource | None = None) -> None:
    """Hook for the reception (COA) service: `source()` returns occupied places per
    location type, `ladder()` the scaling ladder's step (1 = regular; None: not known yet)."""
    _occupancy.append(source)
    if ladder is not None:
        _ladder.append(ladder)


def observe_lag(source: LagSource) -> None:
    """Hook for whoever reads the consumer groups' offsets: (group, topic) -> records behind."""
    _lag.append(source)


def _occupancy_now(_: CallbackOptions) -> Iterable[Observation]:
    for source in _occupancy:
        for location, occupied in source().items():
            yield Observation(occupied, {"location_type": location})


def _ladder_now(_: CallbackOptions) -> Iterable[Observation]:
    for source in _ladder:
        step = source()
        if step is not None:
            yield Observation(step)


def _lag_now(_: CallbackOptions) -> Iterable[Observation]:
    for source in _lag:
        for (group, topic), behind in source().items():
            yield Observation(behind, {"group": group, "topic": topic})


class Tally:
    """A monotonic count per label set, kept in a dict and read by the exporter through
    an observable counter: adding is a dict update, not an SDK measurement (which costs
    as much as the span it counts; every event adds one)."""

    def __init__(self) -> None:
        self._counts: dict[tuple[tuple[str, str], ...], int] = {}

    def add(self, amount: int, attributes: Mapping[str, str]) -> None:
        self.add_key(amount, tuple(sorted(attributes.items())))

    def add_key(self, amount: int, key: tuple[tuple[str, str], ...]) -> None:
        """`add` for labels already given as their sorted (name, value) pairs."""
        self._counts[key] = self._counts.get(key, 0) + amount

    def observe(self, _: CallbackOptions) -> Iterable[Observation]:
        # list() copies the items in one step under the GIL: safe beside add().
        for key, count in list(self._counts.items()):
            yield Observation(count, dict(key))


def _tally(meter: Meter, name: str, unit: str, description: str) -> Tally:
    tally = Tally()
    meter.create_observable_counter(name, [tally.observe], unit=unit, description=description)
    return tally


@dataclass(frozen=True)
class Measures:
    """The one definition of each measure."""

    events_in: Tally
    events_out: Tally
    handling: Histogram
    hop_latency: Histogram
    stage_duration: Histogram
    deadline_events: Tally
    dead_letters: Tally
    # Whether a reader collects them. Without one the histograms' values go nowhere, and
    # the SDK's way to record one (a measurement object, its labels checked, the context
    # looked up: 5 µs, two per event consumed) is skipped; the tallies are kept anyway.
    exported: bool = True

    @classmethod
    def on(cls, meter: Meter, exported: bool = True) -> Measures:
        meter.create_observable_gauge(
            "mk.occupancy",
            [_occupancy_now],
            unit="{place}",
            description="Occupied reception places per location type (COA)",
        )
        meter.create_observable_gauge(
            "mk.ladder.step",
            [_ladder_now],
            unit="{step}",
            description="COA's scaling ladder step: 1 regular, 2 raised occupancy, 3 reserve "
            "capacity, 4 emergency reception, 5 crisis emergency reception",
        )
        meter.create_observable_gauge(
            "mk.consumer.lag",
            [_lag_now],
            unit="{record}",
            description="Records a service's consumer group is behind, per topic (backlog)",
        )
        return cls(
            events_in=_tally(
                meter, "mk.events.in", "{event}", "Events consumed, per service and topic"
            ),
            events_out=_tally(
                meter,
                "mk.events.out",
                "{event}",
                "Events published (sent by the outbox relay), per service and topic",
            ),
            handling=meter.create_histogram(
                "mk.handling.duration",
                unit="s",
                explicit_bucket_boundaries_advisory=SECONDS_BUCKETS,
                description="Time a service spends on one consumed event",
            ),
            hop_latency=meter.create_histogram(
                "mk.hop.latency",
                unit="s",
                explicit_bucket_boundaries_advisory=SECONDS_BUCKETS,
                description="From the event's write to the broker to its consumer starting on it",
            ),
            stage_duration=meter.create_histogram(
                "mk.stage.duration",
                unit="d",
                explicit_bucket_boundaries_advisory=DAYS_BUCKETS,
                description="Simulated days from the start of a legally timed step to its end "
                "(a deadline met), per deadline type",
            ),
            deadline_events=_tally(
                meter,
                "mk.deadline.events",
                "{deadline}",
                "Legal deadlines per type and state (started, at risk, met, breached, cancelled)",
            ),
            dead_letters=_tally(
                meter,
                "mk.dead_letters",
                "{event}",
                "Events sent to the dead-letter topic, per service, topic and reason",
            ),
            exported=exported,
        )


_measures: Measures | None = None


def state_label(state: DeadlineState.ValueType) -> str:
    return (
        _STATE_LABELS.get(state)
        or DeadlineState.Name(state).removeprefix("DEADLINE_STATE_").lower()
    )


# Looked up once per deadline event: the enum wrapper's Name() is a Python call chain.
_STATE_LABELS = {
    value: name.removeprefix("DEADLINE_STATE_").lower() for name, value in DeadlineState.items()
}


def published(service: str, message: Message) -> None:
    """Called for every event a handler publishes: counts the deadline events."""
    if _measures is None or type(message) is not DeadlineEvent:
        return
    # The tally's key, in its sorted order (service, state, type): no dict to sort.
    _measures.deadline_events.add_key(
        1, (("service", service), ("state", state_label(message.state)), ("type", message.type))
    )
    if message.state == DeadlineState.DEADLINE_STATE_MET and _measures.exported:
        took = message.at.ToSeconds() - message.started_at.ToSeconds()
        _measures.stage_duration.record(max(took, 0) / DAY, {"type": message.type})


class MetricsSpanProcessor(SpanProcessor):
    """Counts events in and out, handling time, hop latency and dead letters from spans."""

    def __init__(self, measures: Measures) -> None:
        self._measures = measures
        # (service, topic) -> the labels and the tallies' key: made once, not per span.
        self._labels: dict[tuple[object, object], tuple[dict[str, str], Any]] = {}

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        attributes = span_attributes(span)
        topic = attributes.get(TOPIC)
        if topic is None or span.start_time is None or span.end_time is None:
            return
        service = span.resource.attributes.get("service.name")
        known = self._labels.get((service, topic))
        if known is None:
            labels = {"service": str(service), "topic": str(topic)}
            known = self._labels[(service, topic)] = (labels, tuple(sorted(labels.items())))
        labels, key = known
        m = self._measures
        kind = span.kind
        if kind is SpanKind.PRODUCER:
            m.events_out.add_key(1, key)
        elif kind is SpanKind.CONSUMER:
            m.events_in.add_key(1, key)
            reason = attributes.get(DEAD_LETTER_REASON)
            if reason:
                m.dead_letters.add(1, {**labels, "reason": str(reason)})
            if not m.exported:
                return
            m.handling.record((span.end_time - span.start_time) / 1e9, labels)
            written_ms = attributes.get(RECORD_TIMESTAMP)
            if isinstance(written_ms, int) and written_ms > 0:
                m.hop_latency.record(max(span.start_time / 1e6 - written_ms, 0.0) / 1e3, labels)

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def setup_metrics(
    service: str,
    tracer_provider: TracerProvider | None = None,
    *,
    port: int | None = None,
    host: str = "127.0.0.1",
    otlp_endpoint: str | None = None,
    readers: Iterable[MetricReader] = (),
) -> MeterProvider:
    """The process's meter provider; call once per process. Without a port, an OTLP
    endpoint or `readers` nothing is exported: the counts are kept, the histograms'
    values (which only a reader aggregates) are not recorded."""
    global _measures
    readers = list(readers)
    if port:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import start_http_server

        start_http_server(port, addr=host)
        readers.append(PrometheusMetricReader())
        log.info("metrics for Prometheus on http://%s:%d/metrics", host, port)
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        endpoint = otlp_endpoint.rstrip("/")
        if not endpoint.endswith("/v1/metrics"):
            endpoint += "/v1/metrics"
        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=endpoint)))
    provider = MeterProvider(
        resource=Resource.create({"service.name": service}), metric_readers=readers
    )
    _measures = Measures.on(provider.get_meter("migratieketen"), exported=bool(readers))
    if tracer_provider is not None:
        tracer_provider.add_span_processor(MetricsSpanProcessor(_measures))
    return provider

"""The metrics come out of the spans and events a service already makes, one name each."""

from __future__ import annotations

import socket
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

from chainkit import metrics
from chainkit.clock import timestamp
from migratieketen.v1.deadline_pb2 import DeadlineEvent, DeadlineState

START = datetime(2026, 7, 1, tzinfo=UTC)


def _points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    assert data is not None
    out: dict[str, list[Any]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                out[metric.name] = list(metric.data.data_points)
    return out


def _spans(tracer_provider: TracerProvider) -> None:
    tracer = tracer_provider.get_tracer("test")
    written = 1_000
    consume: dict[str, str | int] = {
        metrics.TOPIC: "bvv.registered.v1",
        metrics.RECORD_TIMESTAMP: written,
    }
    with tracer.start_as_current_span(
        "bvv.registered.v1 process",
        kind=SpanKind.CONSUMER,
        attributes=consume,
        start_time=(written + 250) * 1_000_000,
    ):
        pass
    with tracer.start_as_current_span(
        "x process",
        kind=SpanKind.CONSUMER,
        attributes={metrics.TOPIC: "arrival.reported.v1", metrics.DEAD_LETTER_REASON: "bad_field"},
    ):
        pass
    with tracer.start_as_current_span(
        "screening.completed.v1 publish",
        kind=SpanKind.PRODUCER,
        attributes={metrics.TOPIC: "screening.completed.v1"},
    ):
        pass


def test_events_latency_deadlines_and_occupancy_are_measured() -> None:
    reader = InMemoryMetricReader()
    tracer_provider = TracerProvider(resource=Resource.create({"service.name": "screening"}))
    meters = metrics.setup_metrics("screening", tracer_provider, readers=[reader])
    metrics.observe_occupancy(lambda: {"CENTRAL_RECEPTION": 2100.0})
    _spans(tracer_provider)
    for state, at in (
        (DeadlineState.DEADLINE_STATE_AT_RISK, 2),
        (DeadlineState.DEADLINE_STATE_MET, 3),
    ):
        metrics.published(
            "screening",
            DeadlineEvent(
                type="screening.time_limit",
                v_nummer="2600000001",
                state=state,
                started_at=timestamp(START),
                at=timestamp(START + timedelta(days=at)),
            ),
        )
    points = _points(reader)
    meters.shutdown()

    events_in = {p.attributes["topic"]: p.value for p in points["mk.events.in"]}
    assert events_in == {"bvv.registered.v1": 1, "arrival.reported.v1": 1}
    assert [p.attributes for p in points["mk.events.out"]] == [
        {"service": "screening", "topic": "screening.completed.v1"}
    ]
    [hop] = points["mk.hop.latency"]
    assert hop.sum == 0.25
    assert [p.attributes["reason"] for p in points["mk.dead_letters"]] == ["bad_field"]
    states = {p.attributes["state"]: p.value for p in points["mk.deadline.events"]}
    assert states == {"at_risk": 1, "met": 1}
    [stage] = points["mk.stage.duration"]
    assert stage.sum == 3.0 and stage.attributes == {"type": "screening.time_limit"}
    assert [(p.attributes, p.value) for p in points["mk.occupancy"]] == [
        ({"location_type": "CENTRAL_RECEPTION"}, 2100.0)
    ]
    for labels in (p.attributes for values in points.values() for p in values):
        assert "2600000001" not in labels.values()  # no V-nummer in a label


def test_a_service_serves_its_metrics_to_prometheus_on_localhost() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    tracer_provider = TracerProvider(resource=Resource.create({"service.name": "bvv"}))
    meters = metrics.setup_metrics("bvv", tracer_provider, port=port)
    _spans(tracer_provider)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    meters.shutdown()
    assert 'service="bvv",topic="bvv.registered.v1"} 1.0' in text
    assert 'mk_hop_latency_seconds_bucket{le="0.25",' in text


def test_without_a_reader_the_counts_are_kept_and_no_histogram_is_recorded() -> None:
    """Nothing collects a histogram without a reader: its values are not recorded (the
    SDK's per-value path was 5 µs, two per event consumed), the tallies still count."""
    tracer_provider = TracerProvider(resource=Resource.create({"service.name": "screening"}))
    meters = metrics.setup_metrics("screening", tracer_provider)
    measures = metrics._measures
    assert measures is not None and not measures.exported
    recorded: list[float] = []
    for histogram in (measures.handling, measures.hop_latency, measures.stage_duration):
        histogram.record = lambda value, *_, **__: recorded.append(value)  # type: ignore[method-assign]
    _spans(tracer_provider)
    metrics.published(
        "screening",
        DeadlineEvent(
            type="screening.time_limit",
            state=DeadlineState.DEADLINE_STATE_MET,
            started_at=timestamp(START),
            at=timestamp(START + timedelta(days=3)),
        ),
    )
    meters.shutdown()
    assert recorded == []
    counted = {dict(key)["topic"]: n for key, n in measures.events_in._counts.items()}
    assert counted == {"bvv.registered.v1": 1, "arrival.reported.v1": 1}
    assert [dict(key)["reason"] for key in measures.dead_letters._counts] == ["bad_field"]

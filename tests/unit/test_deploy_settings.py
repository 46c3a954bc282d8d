"""One clock for the whole chain (the epoch file) and the catalogue's Kafka settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainctl.broker import new_topic
from chainctl.cli import main
from chainkit.catalogue import topics
from chainkit.clock import init_epoch
from chainkit.settings import Settings


def test_the_epoch_is_written_once_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "clock" / "epoch"
    first = init_epoch(path, 1_800_000_000.0)
    assert init_epoch(path) == first == 1_800_000_000.0  # a restart keeps the chain's clock


def test_services_read_the_shared_epoch_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "epoch"
    init_epoch(path, 1_800_000_000.5)
    monkeypatch.delenv("MK_CLOCK_EPOCH", raising=False)
    monkeypatch.setenv("MK_CLOCK_EPOCH_FILE", str(path))
    assert Settings().clock_epoch == 1_800_000_000.5


def test_a_service_refuses_to_start_without_the_epoch_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MK_CLOCK_EPOCH", raising=False)
    monkeypatch.setenv("MK_CLOCK_EPOCH_FILE", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match=r"clock epoch file .* does not exist"):
        Settings()


def test_production_topics_are_replicated_and_partitioned_for_scale_out() -> None:
    for topic in topics().values():
        assert topic.replication_factor >= 3, topic.name
        assert 2 <= topic.min_insync_replicas < topic.replication_factor, topic.name
        assert topic.partitions >= 3, topic.name
    # Every service's input topics allow more consumers than one.
    assert topics()["arrival.reported.v1"].partitions == 12


def test_a_single_node_gets_one_replica_and_a_matching_min_insync() -> None:
    topic = topics()["bvv.registered.v1"]
    production = new_topic(topic, None, None)
    assert (production.num_partitions, production.replication_factor) == (12, 3)
    assert production.topic_configs == {"retention.ms": "2592000000", "min.insync.replicas": "2"}
    single = new_topic(topic, 3, 1)
    assert (single.num_partitions, single.replication_factor) == (3, 1)
    assert single.topic_configs["min.insync.replicas"] == "1"


def test_kafka_config_prints_one_create_command_per_topic(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["topics", "--kafka-config", "--bootstrap-servers", "kafka:9092"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(topics())
    assert (
        "kafka-topics.sh --bootstrap-server kafka:9092"
        " --create --if-not-exists --topic chain.deadline-breached.v1"
        " --partitions 3 --replication-factor 3"
        " --config retention.ms=7776000000 --config min.insync.replicas=2"
    ) in lines


def test_partner_spans_follow_the_otlp_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's and `feed`'s partner spans (each trace's root) go where the services' go."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    from chainctl.cli import _partner_telemetry

    def exporters() -> list[object]:
        processors = provider._active_span_processor._span_processors
        return [type(p.span_exporter) for p in processors]  # type: ignore[attr-defined]

    monkeypatch.delenv("MK_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    provider = _partner_telemetry(tmp_path)
    assert OTLPSpanExporter not in exporters()
    provider.shutdown()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector:4318")
    provider = _partner_telemetry(tmp_path)
    assert OTLPSpanExporter in exporters()
    provider.shutdown()

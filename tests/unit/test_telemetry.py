"""The kit's tracing keeps every span of a burst: a surge must not thin out traces."""

from __future__ import annotations

from pathlib import Path

from opentelemetry import trace

from chainkit.telemetry import setup_telemetry


def test_a_burst_of_spans_is_exported_whole(tmp_path: Path) -> None:
    provider = setup_telemetry("screening", tmp_path)
    tracer = provider.get_tracer("test")
    burst = 10_000  # far more than the SDK's default queue of 2,048 between exports
    for offset in range(burst):
        with tracer.start_as_current_span(
            "bvv.registered.v1 process",
            kind=trace.SpanKind.CONSUMER,
            attributes={"messaging.kafka.message.offset": offset},
        ):
            pass
    provider.shutdown()
    lines = (tmp_path / "screening.jsonl").read_text().splitlines()
    assert len(lines) == burst

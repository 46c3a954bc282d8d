"""The kit's tracing: every span of a burst is kept (a surge must not thin out traces),
span lines hold what the trace CLI reads, and trace context travels as the SDK's W3C
propagator would carry it."""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import (
    TracerProvider,
    _default_tracer_configurator,
    _disable_tracer_configurator,
)
from opentelemetry.sdk.trace import _Span as SdkSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.trace import (
    INVALID_SPAN_CONTEXT,
    NonRecordingSpan,
    SpanContext,
    TraceFlags,
    TraceState,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from chainkit.telemetry import (
    V_NUMMER,
    ChainTracerProvider,
    _LeanSpan,
    extract,
    inject_current,
    inject_span,
    put_attributes,
    setup_telemetry,
    start_span,
    tag_case,
)


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


def test_span_lines_are_json_with_every_field(tmp_path: Path) -> None:
    provider = setup_telemetry("screening", tmp_path)
    tracer = provider.get_tracer("test")
    with (
        tracer.start_as_current_span("root") as root,
        tracer.start_as_current_span(
            "child", attributes={V_NUMMER: "2600000001", "codes": ("a", "b"), "n": 3}
        ),
    ):
        pass
    provider.shutdown()
    child, parent = (json.loads(line) for line in (tmp_path / "screening.jsonl").open())
    context = root.get_span_context()
    assert parent["parent_id"] is None
    assert child["parent_id"] == f"{context.span_id:016x}"
    assert child["trace_id"] == parent["trace_id"] == f"{context.trace_id:032x}"
    assert child["service"] == "screening"
    assert child["kind"] == "INTERNAL" and child["status"] == "UNSET"
    assert child["attributes"] == {V_NUMMER: "2600000001", "codes": ["a", "b"], "n": 3}
    assert child["start_ns"] <= child["end_ns"]


def test_a_partners_unsampled_context_still_gets_the_case_traced(tmp_path: Path) -> None:
    """A partner whose tracer samples little sends "not sampled" (flags 00): the chain's
    spans continue the partner's trace and are recorded and written all the same."""
    provider = setup_telemetry("screening", tmp_path)
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    context = extract({"traceparent": f"00-{trace_id}-b7ad6b7169203331-00"})
    with provider.get_tracer("test").start_as_current_span("consume", context=context) as span:
        assert span.is_recording()
    provider.shutdown()
    (line,) = (json.loads(line) for line in (tmp_path / "screening.jsonl").open())
    assert (line["trace_id"], line["parent_id"]) == (trace_id, "b7ad6b7169203331")


_SDK = TraceContextTextMapPropagator()


def _parent(context: Context) -> SpanContext:
    return trace.get_current_span(context).get_span_context()


def test_a_traceparent_is_read_as_the_sdk_reads_it() -> None:
    rng = random.Random(7)
    headers: list[dict[str, str]] = [
        {"traceparent": f"00-{rng.getrandbits(128):032x}-{rng.getrandbits(64):016x}-{f:02x}"}
        for f in (0, 1, 3, 255)
        for _ in range(20)
    ]
    headers += [
        {},
        {"traceparent": ""},
        {"traceparent": "00-" + "0" * 32 + "-00f067aa0ba902b7-01"},  # invalid trace id
        {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-" + "0" * 16 + "-01"},
        {"traceparent": "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"},
        {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"},
        {"traceparent": "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"},
        {"traceparent": "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
        {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"},
        {
            "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "tracestate": "vendor=value,other=x",
        },
    ]
    for carrier in headers:
        ours, sdk = _parent(extract(carrier)), _parent(_SDK.extract(carrier))
        assert ours == sdk, carrier
        assert (ours.is_remote, ours.trace_flags, ours.trace_state) == (
            sdk.is_remote,
            sdk.trace_flags,
            sdk.trace_state,
        ), carrier


def test_a_traceparent_is_written_as_the_sdk_writes_it(tmp_path: Path) -> None:
    tracer = TracerProvider().get_tracer("test")
    state = TraceState([("vendor", "value")])
    remote = SpanContext(1, 2, is_remote=True, trace_flags=TraceFlags(1), trace_state=state)
    for span in (
        tracer.start_span("local"),
        tracer.start_span("child", context=trace.set_span_in_context(NonRecordingSpan(remote))),
        NonRecordingSpan(INVALID_SPAN_CONTEXT),
    ):
        sdk: dict[str, str] = {}
        _SDK.inject(sdk, context=trace.set_span_in_context(span))
        assert inject_span(span) == sdk
        with trace.use_span(span):
            assert inject_current() == sdk


def test_attributes_put_on_a_span_are_exported_as_the_sdk_would(tmp_path: Path) -> None:
    """put_attributes writes plain values straight in; anything else, and an ended
    span, goes through the SDK (which converts a list, and ignores a late attribute)."""
    provider = setup_telemetry("screening", tmp_path)
    tracer = provider.get_tracer("test")
    span = start_span(tracer, "plain", {V_NUMMER: "2600000001", "n": 3, "ok": True, "x": 0.5})
    put_attributes(span, {"codes": ["a", "b"]})
    with trace.use_span(span, end_on_exit=True):
        tag_case("2600000001", "screening", "ScreeningCompleted")
    put_attributes(span, {"late": "ignored"})
    put_attributes(NonRecordingSpan(INVALID_SPAN_CONTEXT), {"n": 1})  # no error
    provider.shutdown()
    (line,) = (json.loads(raw) for raw in (tmp_path / "screening.jsonl").open())
    assert line["attributes"] == {
        V_NUMMER: "2600000001",
        "n": 3,
        "ok": True,
        "x": 0.5,
        "codes": ["a", "b"],
        "case.stage": "screening",
        "case.event": "ScreeningCompleted",
    }


class _CountingIds(IdGenerator):
    """Ids in sequence, so two providers make the same spans."""

    def __init__(self) -> None:
        self._next = 0

    def _bump(self) -> int:
        self._next += 1
        return self._next

    def generate_span_id(self) -> int:
        return self._bump()

    def generate_trace_id(self) -> int:
        return self._bump() << 64

    def is_trace_id_random(self) -> bool:
        return True  # so the W3C "random" flag is set on new traces


def _make_spans(provider: TracerProvider) -> list[dict[str, object]]:
    """One of each kind of span the chain makes, and what a handler may do to it."""
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    state = TraceState([("vendor", "value")])
    remote = SpanContext(7 << 64, 9, is_remote=True, trace_flags=TraceFlags(1), trace_state=state)
    with tracer.start_as_current_span("root", kind=trace.SpanKind.PRODUCER) as root:
        root.set_attribute(V_NUMMER, "2600000001")
        child = tracer.start_span("child", kind=trace.SpanKind.CONSUMER)
        child.add_event("retry", {"attempt": 2}, timestamp=5)
        child.add_link(SpanContext(3 << 64, 4, False), {"why": "batch"})
        child.set_status(trace.Status(trace.StatusCode.ERROR, "boom"))
        child.end(end_time=10)
        child.set_attribute("late", "ignored")
    remote_ctx = trace.set_span_in_context(NonRecordingSpan(remote))
    try:
        with tracer.start_as_current_span("from partner", context=remote_ctx):
            raise ValueError("handler failed")
    except ValueError:
        pass
    tracer.start_span("with attributes", attributes={"n": 1}).end()
    provider.shutdown()
    lines = []
    for span in exporter.get_finished_spans():
        line = json.loads(span.to_json())
        line["span_context"] = span.context  # with its flags, which to_json leaves out
        line["parent_context"] = span.parent
        for key in ("start_time", "end_time"):
            line.pop(key)
        for event in line["events"]:
            if event["name"] == "exception":
                event.pop("timestamp")
                event["attributes"].pop("exception.stacktrace")
        lines.append(line)
    return lines


def test_the_kits_tracer_makes_the_spans_the_sdk_makes() -> None:
    """ChainTracerProvider's lean spans are exported exactly as the SDK's own: same ids,
    parents, flags, trace state, kinds, attributes, events, links and status."""
    sdk = _make_spans(TracerProvider(sampler=ALWAYS_ON, id_generator=_CountingIds()))
    probe = ChainTracerProvider(sampler=ALWAYS_ON).get_tracer("test").start_span("probe")
    assert isinstance(probe, _LeanSpan)  # the lean path is the one compared below
    lean = _make_spans(ChainTracerProvider(sampler=ALWAYS_ON, id_generator=_CountingIds()))
    assert [line["name"] for line in lean] == ["child", "root", "from partner", "with attributes"]
    assert lean == sdk


def test_the_kits_tracer_leaves_what_it_cannot_shorten_to_the_sdk(caplog: Any) -> None:
    tracer = ChainTracerProvider(sampler=ALWAYS_ON).get_tracer("test")
    assert type(tracer.start_span("a", attributes={"n": 1})) is SdkSpan
    assert type(tracer.start_span("a", record_exception=False)) is SdkSpan
    sampled = ChainTracerProvider(sampler=ParentBased(ALWAYS_ON)).get_tracer("test")
    assert type(sampled.start_span("a")) is SdkSpan
    span = tracer.start_span("lean")
    assert isinstance(span, _LeanSpan)
    span.end()
    with caplog.at_level(logging.WARNING):
        span.end()
    assert "Calling end() on an ended span." in caplog.text


def test_a_tracer_disabled_after_its_first_span_starts_no_more() -> None:
    provider = ChainTracerProvider(sampler=ALWAYS_ON)
    tracer = provider.get_tracer("test")
    assert isinstance(tracer.start_span("before"), _LeanSpan)
    provider._set_tracer_configurator(tracer_configurator=_disable_tracer_configurator)
    assert not tracer.start_span("while disabled").is_recording()
    provider._set_tracer_configurator(tracer_configurator=_default_tracer_configurator)
    assert isinstance(tracer.start_span("after"), _LeanSpan)

"""OpenTelemetry set-up: one trace per case, spans to a local file and optionally OTLP."""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson
from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Tracer, TracerProvider
from opentelemetry.sdk.trace import _Span as SdkSpan
from opentelemetry.sdk.trace._tracer_metrics import NoOpTracerMetrics
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    StatusCode,
    TraceFlags,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.trace.status import Status
from opentelemetry.util.types import AttributeValue

from chainkit.spanindex import V_NUMMER, Line, SpanIndex

# Attribute names every case span carries. Only the V-nummer identifies a person here.
__all__ = ["EVENT", "STAGE", "V_NUMMER"]
STAGE = "case.stage"
EVENT = "case.event"

_PROPAGATOR = TraceContextTextMapPropagator()
SPAN_QUEUE = 32_768


# By identity: an enum member's own hash is a Python call.
_KIND_NAMES = {id(kind): kind.name for kind in SpanKind}
_STATUS_NAMES = {id(code): code.name for code in StatusCode}


_by_trace = itemgetter(1)
_FLAGS = [f"{flags:02x}" for flags in range(256)]


def _hex(value: int, size: int) -> str:
    """An id in lower-case hex of `size` bytes, as f"{value:0{2 * size}x}" writes it in
    three times the time."""
    return value.to_bytes(size, "big").hex()


def span_attributes(span: ReadableSpan) -> Mapping[str, object]:
    """A span's attributes as the dict the SDK keeps them in (read, never change them).
    `span.attributes` is a read-only view of the SDK's BoundedAttributes: copying or
    reading through it costs a lock and a lookup per attribute, a fifth of the exporter's
    time per span. Any other span (or SDK) goes through the public view."""
    inner = getattr(getattr(span, "_attributes", None), "_dict", None)
    if isinstance(inner, dict):
        return inner
    return dict(span.attributes or {})


class JsonLinesSpanExporter(SpanExporter):
    """Appends finished spans to a JSON-lines file that the `trace` CLI reads, and indexes
    them by V-nummer (chainkit.spanindex)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._index = SpanIndex(path.parent)
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines: list[tuple[bytes, str, str | None]] = []
        services: dict[int, object] = {}
        # A batch holds a few dozen spans of each trace: its id is written in hex once.
        trace_hex: dict[int, str] = {}
        dumps = orjson.dumps
        for span in spans:
            ctx = span.context
            if ctx is None:
                continue
            trace_id = trace_hex.get(ctx.trace_id)
            if trace_id is None:
                trace_id = trace_hex[ctx.trace_id] = _hex(ctx.trace_id, 16)
            attributes = span_attributes(span)
            v_nummer = attributes.get(V_NUMMER)
            parent = span.parent
            resource = span.resource
            service = services.get(id(resource))
            if service is None:
                service = services[id(resource)] = resource.attributes.get("service.name")
            # orjson: a span line in a fifth of json.dumps's time, on the exporter thread
            # that shares the interpreter with the service's event loop.
            raw = dumps(
                {
                    "trace_id": trace_id,
                    "span_id": _hex(ctx.span_id, 8),
                    "parent_id": _hex(parent.span_id, 8) if parent else None,
                    "name": span.name,
                    "kind": _KIND_NAMES[id(span.kind)],
                    "service": service,
                    "start_ns": span.start_time,
                    "end_ns": span.end_time,
                    "status": _STATUS_NAMES[id(span.status.status_code)],
                    "attributes": attributes,
                },
                default=str,
                option=orjson.OPT_APPEND_NEWLINE,
            )
            lines.append((raw, trace_id, str(v_nummer) if v_nummer else None))
        # A batch's lines are written grouped by trace, so that the index keeps one
        # entry per trace and batch (a run of adjacent lines) instead of one per span.
        lines.sort(key=_by_trace)
        with self._lock:
            with self._path.open("ab") as out:
                start = out.tell()
                out.write(b"".join(raw for raw, _, _ in lines))
                end = out.tell()
            index_lines = []
            offset = start
            for raw, trace_id, v_nummer in lines:
                index_lines.append(Line(offset, len(raw), trace_id, v_nummer))
                offset += len(raw)
            try:
                self._index.add(self._path, start, end, index_lines)
            except sqlite3.Error as error:  # the spans are written; a reader indexes them
                logging.getLogger(__name__).warning("span index not updated: %s", error)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            self._index.close()


class _LeanSpan(SdkSpan):
    """An SDK span made by `LeanTracer`: the same class to everything that reads or
    changes it (its methods are the SDK's), built without the per-span work that cannot
    change anything for an always-sampled span without links or events. It holds no
    event and link lists until one is added, and is handed to the span processors
    itself when it ends instead of a copy (nothing can change it once ended)."""

    def _add_event(self, event: Any) -> None:
        if type(self._events) is tuple:
            self._events = BoundedList(self._limits.max_events)
        super()._add_event(event)

    def _add_link(self, link: Any) -> None:
        if type(self._links) is tuple:
            self._links = BoundedList(self._limits.max_links)
        super()._add_link(link)

    def end(self, end_time: int | None = None) -> None:
        with self._lock:
            if self._end_time is not None:
                logging.getLogger(__name__).warning("Calling end() on an ended span.")
                return
            self._end_time = end_time if end_time is not None else time.time_ns()
            self._attributes._immutable = True  # type: ignore[union-attr]
        self._span_processor._on_ending(self)
        self._span_processor.on_end(self)


_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_SAMPLED_RANDOM = TraceFlags(TraceFlags.SAMPLED | TraceFlags.RANDOM_TRACE_ID)
_UNSET = Status(StatusCode.UNSET)


class LeanTracer(Tracer):
    """The SDK's tracer with a shorter way to start the spans the kit makes (a name, a
    parent context, a kind): always sampled (the chain's ALWAYS_ON sampler), no links,
    no attributes at start (`start_span` below sets them), no SDK self-metrics. Started,
    ended and handed to the processors, such a span costs 36 µs through the SDK, most of
    it building objects that stay empty, and 23 µs here, for the same span (the SDK's
    `_Span`, same ids, flags, trace state, processors). Anything else goes to the SDK's
    own `start_span`."""

    def _set_tracer_config(self, tracer_config: Any) -> None:
        super()._set_tracer_config(tracer_config)
        self.__dict__.pop("_lean_template", None)  # enabled or not: looked at again

    def _lean(self) -> bool:
        return (
            self.sampler is ALWAYS_ON
            # An SDK without (or with other) self-metrics: its own start_span.
            and isinstance(getattr(self, "_tracer_metrics", None), NoOpTracerMetrics)
            and self._is_enabled()
        )

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Any = None,
        links: Any = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> Span:
        if attributes or links or not record_exception or not set_status_on_exception:
            return super().start_span(
                name,
                context,
                kind,
                attributes,
                links,
                start_time,
                record_exception,
                set_status_on_exception,
            )
        template = self.__dict__.get("_lean_template")
        if template is None:
            if not self._lean():
                return super().start_span(name, context, kind, start_time=start_time)
            template = self._lean_template = self._template()
        current = trace.get_current_span(context).get_span_context()
        ids = self.id_generator
        parent: SpanContext | None = current
        if current is None or not current.is_valid:
            parent = None
            trace_id = ids.generate_trace_id()
            flags = _SAMPLED_RANDOM if ids.is_trace_id_random() else _SAMPLED
            state = None
        else:
            trace_id = current.trace_id
            flags = (
                _SAMPLED_RANDOM if current.trace_flags & TraceFlags.RANDOM_TRACE_ID else _SAMPLED
            )
            state = current.trace_state
        limits = self._span_limits
        attrs = object.__new__(BoundedAttributes)
        attrs.__dict__.update(
            _dict={},
            maxlen=limits.max_span_attributes,
            dropped=0,
            max_value_len=limits.max_span_attribute_length,
            _lock=threading.Lock(),
            _immutable=False,
        )
        span = object.__new__(_LeanSpan)
        fields = template.copy()
        fields.update(
            _name=name,
            _context=SpanContext(trace_id, ids.generate_span_id(), False, flags, state),
            _kind=kind,
            _parent=parent,
            _attributes=attrs,
            _lock=threading.Lock(),
            _start_time=start_time if start_time is not None else time.time_ns(),
        )
        span.__dict__ = fields
        self.span_processor.on_start(span, parent_context=context)
        return span

    def _template(self) -> dict[str, Any]:
        """The fields every lean span of this tracer starts with, as the SDK sets them."""
        return {
            "_instrumentation_info": self.instrumentation_info,
            "_instrumentation_scope": self._instrumentation_scope,
            "_end_time": None,
            "_events": (),
            "_links": (),
            "_resource": self.resource,
            "_status": _UNSET,
            "_sampler": self.sampler,
            "_trace_config": None,
            "_record_exception": True,
            "_set_status_on_exception": True,
            "_span_processor": self.span_processor,
            "_limits": self._span_limits,
            "_record_end_metrics": None,
        }


class ChainTracerProvider(TracerProvider):
    """The SDK's provider, handing out `LeanTracer`s."""

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        tracer = super().get_tracer(*args, **kwargs)
        if type(tracer) is Tracer:
            tracer.__class__ = LeanTracer
        return tracer


def setup_telemetry(
    service: str, trace_dir: Path, otlp_endpoint: str | None = None
) -> TracerProvider:
    # Every case is traced whole: a partner's context marked "not sampled" must not make
    # the chain drop its spans (the SDK's default follows the parent's flag). ALWAYS_ON
    # also skips the parent check the default makes per span.
    provider = ChainTracerProvider(
        resource=Resource.create({"service.name": service}), sampler=ALWAYS_ON
    )
    provider.add_span_processor(
        # The SDK's default queue (2,048 spans) overflows in a burst and drops spans:
        # a case's trace must be whole during a surge, so the queue holds more.
        BatchSpanProcessor(
            JsonLinesSpanExporter(trace_dir / f"{service}.jsonl"),
            schedule_delay_millis=1000,
            max_queue_size=SPAN_QUEUE,
            max_export_batch_size=2048,
        )
    )
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = otlp_endpoint.rstrip("/")
        if not endpoint.endswith("/v1/traces"):
            endpoint += "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        logging.getLogger(__name__).info("exporting spans over OTLP to %s", endpoint)
    return provider


# A W3C traceparent of version 00 as this kit and the SDK's propagator write it. Parsed
# and formatted here for the common case (about three times per event: stored, sent,
# received), in a third of the propagator's time; anything else goes to the propagator.
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_INVALID_TRACE_ID = "0" * 32
_INVALID_SPAN_ID = "0" * 16


def inject_current() -> dict[str, str]:
    """The W3C trace context of the current span, to store beside a case or an event."""
    return _carrier(trace.get_current_span().get_span_context())


def stored_context() -> str:
    """The current trace context as the text a row keeps (a timer, a pending request),
    so that work done later continues the same trace."""
    return orjson.dumps(inject_current()).decode()


def load_context(stored: str) -> dict[str, str]:
    """A trace context kept by `stored_context`, as headers `extract` reads."""
    carrier: dict[str, str] = orjson.loads(stored)
    return carrier


def inject_span(span: Span) -> dict[str, str]:
    """The W3C trace context that makes `span` the parent."""
    return _carrier(span.get_span_context())


def _carrier(span_context: SpanContext) -> dict[str, str]:
    if not span_context.is_valid:
        return {}
    carrier = {
        "traceparent": f"00-{_hex(span_context.trace_id, 16)}-{_hex(span_context.span_id, 8)}"
        f"-{_FLAGS[span_context.trace_flags & 0xFF]}"
    }
    if span_context.trace_state:
        carrier["tracestate"] = span_context.trace_state.to_header()
    return carrier


def extract(carrier: Mapping[str, str]) -> Context:
    header = carrier.get("traceparent")
    if header is not None and "tracestate" not in carrier:
        match = _TRACEPARENT.fullmatch(header)
        if match is not None:
            trace_id, span_id, flags = match.groups()
            if trace_id == _INVALID_TRACE_ID or span_id == _INVALID_SPAN_ID:
                return Context()
            return trace.set_span_in_context(
                NonRecordingSpan(
                    SpanContext(
                        int(trace_id, 16),
                        int(span_id, 16),
                        is_remote=True,
                        trace_flags=TraceFlags(int(flags, 16)),
                    )
                )
            )
    return _PROPAGATOR.extract(carrier)


def tag_case(v_nummer: str | None, stage: str, event: str | None = None) -> None:
    """Put the case handle and stage on the current span."""
    attributes = {STAGE: stage}
    if v_nummer:
        attributes[V_NUMMER] = v_nummer
    if event:
        attributes[EVENT] = event
    put_attributes(trace.get_current_span(), attributes)


# Attribute values the SDK keeps as they are: its check and copy would change nothing.
_PLAIN_VALUES = frozenset((str, bool, int, float))


def put_attributes(span: Span, attributes: Mapping[str, AttributeValue]) -> None:
    """Set attributes on a span. The SDK checks and copies every value under a lock, a
    fifth of what a span costs with ten attributes: plain values (str, bool, int,
    float) within the span's limits are written straight into the dict it keeps them
    in. Anything else, an ended span, or another SDK goes through `set_attributes`."""
    bounded = getattr(span, "_attributes", None)
    inner = getattr(bounded, "_dict", None)
    room = getattr(bounded, "maxlen", 0)
    if (
        isinstance(inner, dict)
        and span.is_recording()
        and getattr(bounded, "max_value_len", 0) is None
        and (room is None or len(inner) + len(attributes) <= room)
        and all(type(value) in _PLAIN_VALUES for value in attributes.values())
    ):
        inner.update(attributes)
    else:
        span.set_attributes(attributes)


def start_span(
    tracer: trace.Tracer,
    name: str,
    attributes: Mapping[str, AttributeValue],
    context: Context | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
) -> Span:
    """`tracer.start_span` with the attributes set by `put_attributes`."""
    span = tracer.start_span(name, context=context, kind=kind)
    put_attributes(span, attributes)
    return span

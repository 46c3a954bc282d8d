"""A service runtime on a real SQLite store, no broker, for the kit's own tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from chainkit.runtime import ServiceRuntime, ServiceSpec
from chainkit.settings import Settings


@asynccontextmanager
async def kit_runtime(
    spec: ServiceSpec, data_dir: Path
) -> AsyncIterator[tuple[ServiceRuntime, InMemorySpanExporter]]:
    """The runtime with its store started and every finished span kept in memory."""
    runtime = ServiceRuntime(spec, Settings(data_dir=data_dir, bootstrap_servers="127.0.0.1:9"))
    exporter = InMemorySpanExporter()
    runtime.provider.add_span_processor(SimpleSpanProcessor(exporter))
    await runtime.store.start()
    try:
        yield runtime, exporter
    finally:
        await runtime.store.close()
        await runtime.producer.stop()
        runtime.provider.shutdown()

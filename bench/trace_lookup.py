"""Trace lookup at surge scale: span files of an N-case run, then one case by V-nummer.

Writes spans shaped like the chain's (about 36 per case over seven services, the same
attributes) through the services' own exporter, which indexes them as it writes, then
times `migratieketen trace` lookups. A benchmark prints numbers; it asserts nothing.

    .venv/bin/python bench/trace_lookup.py --cases 12200
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind

from chainctl.traces import case_traces
from chainkit.spanindex import SpanIndex
from chainkit.telemetry import EVENT, STAGE, V_NUMMER, JsonLinesSpanExporter

# Spans per case and service, as measured in a 1,000-case run of the chain.
SPANS_PER_CASE = {
    "partner": 1,
    "bvv": 2,
    "screening": 8,
    "europaloket": 10,
    "asylum": 4,
    "reception": 5,
    "returns": 6,
}
BATCH = 512  # BatchSpanProcessor's default export batch


def _span(service: str, resource: Resource, trace_id: int, v_nummer: str, n: int) -> ReadableSpan:
    topic = f"{service}.event-{n}.v1"
    start = time.time_ns()
    return ReadableSpan(
        name=f"{topic} process",
        context=SpanContext(trace_id, random.getrandbits(64), is_remote=False),
        parent=SpanContext(trace_id, random.getrandbits(64), is_remote=True),
        resource=resource,
        kind=SpanKind.CONSUMER,
        start_time=start,
        end_time=start + random.randint(1_000_000, 20_000_000),
        attributes={
            "messaging.system": "kafka",
            "messaging.operation": "process",
            "messaging.destination.name": topic,
            "messaging.destination.partition.id": str(n % 3),
            "messaging.kafka.message.offset": n,
            "messaging.message.id": f"{random.getrandbits(128):032x}",
            V_NUMMER: v_nummer,
            STAGE: service,
            EVENT: "Event",
        },
    )


def write_spans(trace_dir: Path, cases: int) -> None:
    for service, per_case in SPANS_PER_CASE.items():
        exporter = JsonLinesSpanExporter(trace_dir / f"{service}.jsonl")
        resource = Resource.create({"service.name": service})
        batch: list[ReadableSpan] = []
        for case in range(cases):
            trace_id = case + 1  # one trace per case, as in the chain
            v_nummer = f"{2600000001 + case}"
            for n in range(per_case):
                batch.append(_span(service, resource, trace_id, v_nummer, n))
                if len(batch) == BATCH:
                    exporter.export(batch)
                    batch = []
        exporter.export(batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=12_200)
    parser.add_argument("--lookups", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="trace-lookup-") as tmp:
        trace_dir = Path(tmp) / "traces"
        started = time.monotonic()
        write_spans(trace_dir, args.cases)
        written = time.monotonic() - started
        size = sum(p.stat().st_size for p in trace_dir.glob("*.jsonl"))
        spans = args.cases * sum(SPANS_PER_CASE.values())
        index_size = SpanIndex(trace_dir).path.stat().st_size
        print(
            f"wrote and indexed {spans:,} spans of {args.cases:,} cases "
            f"({size / 1e6:.0f} MB of span files, index {index_size / 1e6:.0f} MB)"
            f" in {written:.1f} s"
        )
        timings = []
        for _ in range(args.lookups):
            v_nummer = f"{2600000001 + random.randrange(args.cases)}"
            t0 = time.monotonic()
            found = case_traces(trace_dir, v_nummer)
            timings.append(time.monotonic() - t0)
            spans_found = sum(len(s) for s in found.values())
        timings.sort()
        print(
            f"lookup of one case by V-nummer ({args.lookups} random cases, "
            f"{spans_found} spans each): median {timings[len(timings) // 2] * 1000:.1f} ms,"
            f" max {timings[-1] * 1000:.1f} ms"
        )
        t0 = time.monotonic()
        subprocess.run(
            [
                str(Path(sys.executable).parent / "migratieketen"),
                "trace",
                "2600000001",
                "--data-dir",
                str(trace_dir.parent),
            ],
            check=False,
            capture_output=True,
        )
        print(
            f"`migratieketen trace` as a command (start-up included): {time.monotonic() - t0:.2f} s"
        )
        SpanIndex(trace_dir).path.unlink()
        then = time.time() - 60  # files of an older run, which no exporter writes any more
        for path in trace_dir.glob("*.jsonl"):
            os.utime(path, (then, then))
        t0 = time.monotonic()
        case_traces(trace_dir, "2600000001")
        print(
            f"without the index file (rebuilt from the span files): {time.monotonic() - t0:.1f} s"
        )


if __name__ == "__main__":
    main()

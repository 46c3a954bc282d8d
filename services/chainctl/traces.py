"""Read the spans the services wrote and show one case's trace as a timeline."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chainkit.spanindex import SpanIndex
from chainkit.telemetry import STAGE


@dataclass
class SpanRecord:
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    service: str
    start_ns: int
    end_ns: int
    status: str
    attributes: dict[str, Any]
    children: list[SpanRecord] = field(default_factory=list)

    @property
    def stage(self) -> str:
        return str(self.attributes.get(STAGE, ""))


def parse_span(line: str) -> SpanRecord:
    raw = json.loads(line)
    return SpanRecord(
        trace_id=raw["trace_id"],
        span_id=raw["span_id"],
        parent_id=raw["parent_id"],
        name=raw["name"],
        service=raw["service"] or "?",
        start_ns=int(raw["start_ns"]),
        end_ns=int(raw["end_ns"]),
        status=raw["status"],
        attributes=raw["attributes"],
    )


def case_traces(trace_dir: Path, v_nummer: str) -> dict[str, list[SpanRecord]]:
    """All spans of every trace that carries this V-nummer, by trace id (from the index)."""
    found = SpanIndex(trace_dir).case_lines(v_nummer)
    return {trace_id: [parse_span(line) for line in lines] for trace_id, lines in found.items()}


def build_tree(spans: list[SpanRecord]) -> list[SpanRecord]:
    """Link children to parents; return the roots (spans whose parent is not present)."""
    by_id = {s.span_id: s for s in spans}
    roots = []
    for span in sorted(spans, key=lambda s: s.start_ns):
        parent = by_id.get(span.parent_id or "")
        if parent is None:
            roots.append(span)
        else:
            parent.children.append(span)
    return roots


def render(trace_id: str, spans: list[SpanRecord], v_nummer: str) -> str:
    roots = build_tree(spans)
    start = min(s.start_ns for s in spans)
    end = max(s.end_ns for s in spans)
    services = sorted({s.service for s in spans})
    out = [
        f"trace {trace_id}  V-nummer {v_nummer}",
        f"{len(spans)} spans, {len(services)} services ({', '.join(services)}), "
        f"{(end - start) / 1e9:.3f} s",
        f"{'start':>9} {'took':>9}  {'service':<12} span",
    ]

    def walk(span: SpanRecord, depth: int) -> None:
        offset = (span.start_ns - start) / 1e9
        took = (span.end_ns - span.start_ns) / 1e6
        stage = f"  [{span.stage}]" if span.stage else ""
        error = "  ERROR" if span.status == "ERROR" else ""
        out.append(
            f"{offset:>8.3f}s {took:>7.1f}ms  {span.service:<12} {'  ' * depth}{span.name}"
            f"{stage}{error}"
        )
        for child in span.children:
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return "\n".join(out)

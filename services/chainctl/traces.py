"""Read the spans the services wrote and show one case's trace as a timeline."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chainkit.telemetry import STAGE, V_NUMMER


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


def load_spans(trace_dir: Path) -> list[SpanRecord]:
    spans = []
    for path in sorted(trace_dir.glob("*.jsonl")):
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if not line.strip():
                    continue
                raw = json.loads(line)
                spans.append(
                    SpanRecord(
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
                )
    return spans


def case_traces(trace_dir: Path, v_nummer: str) -> dict[str, list[SpanRecord]]:
    """All spans of every trace that carries this V-nummer, by trace id."""
    spans = load_spans(trace_dir)
    trace_ids = {s.trace_id for s in spans if s.attributes.get(V_NUMMER) == v_nummer}
    by_trace: dict[str, list[SpanRecord]] = defaultdict(list)
    for span in spans:
        if span.trace_id in trace_ids:
            by_trace[span.trace_id].append(span)
    return dict(by_trace)


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

"""The operations console: a page in the browser that follows the chain while it runs.

It reads the chain's own topics (without a consumer group), the consumer groups' offsets
(backlog per service) and the span index (one case's timeline); it changes nothing. It
shows V-nummers, deadline types, stages and times: no names, dates of birth or documents.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from google.protobuf.json_format import MessageToDict
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from chainctl.board import (
    BOARD_TOPICS,
    CAPACITY_TOPICS,
    Board,
    BoardReader,
    DeadlineRow,
    left_text,
)
from chainctl.chain import SERVICES
from chainctl.traces import SpanRecord, case_traces
from chainkit import metrics
from chainkit.catalogue import consumed_by, topics
from chainkit.kafka_security import client_args
from chainkit.people import is_v_nummer

log = logging.getLogger(__name__)

# Capacity and crisis topics, as the reception and border work add them to topics.toml.
CAPACITY_WORDS = ("occupancy", "capacity", "ladder", "crisis")
PAGE = (Path(__file__).parent / "console.html").read_text("utf-8")
PERSONAL = ("name", "birth", "document", "biometric", "fingerprint", "nationality")


def capacity_topics() -> list[str]:
    return [n for n in topics() if any(word in n for word in CAPACITY_WORDS)]


def consumer_groups() -> dict[str, list[str]]:
    """Each service's consumer group (its name) and the topics it reads."""
    return {s: [t.name for t in consumed_by(s)] for s in SERVICES}


async def consumer_lag(bootstrap_servers: str) -> dict[tuple[str, str], int]:
    """(group, topic) -> records not yet committed by that group."""
    groups = consumer_groups()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **client_args())
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None, **client_args())
    await admin.start()
    await consumer.start()
    try:
        lag: dict[tuple[str, str], int] = {}
        for group, names in groups.items():
            parts = [
                TopicPartition(name, p)
                for name in names
                for p in sorted(consumer.partitions_for_topic(name) or ())
            ]
            if not parts:
                await consumer.topics()  # refresh metadata once, then read again later
                continue
            ends = await consumer.end_offsets(parts)
            committed = await admin.list_consumer_group_offsets(group, partitions=parts)
            for tp in parts:
                done = committed.get(tp)
                offset = done.offset if done is not None and done.offset >= 0 else 0
                key = (group, tp.topic)
                lag[key] = lag.get(key, 0) + max(ends[tp] - offset, 0)
        return lag
    finally:
        await consumer.stop()
        await admin.close()


@dataclass
class ConsoleState:
    board: Board
    lag: dict[tuple[str, str], int]
    lag_at: float | None = None


def _deadline_json(row: DeadlineRow, now: datetime) -> dict[str, Any]:
    return {
        "type": row.type,
        "v_nummer": row.v_nummer,
        "state": row.state,
        "service": row.service,
        "started_at": row.started_at.isoformat(timespec="minutes"),
        "due_at": row.due_at.isoformat(timespec="minutes"),
        "left": left_text(row.left(now)),
    }


def overview(state: ConsoleState, minutes: int = 30) -> dict[str, Any]:
    board = state.board
    now = board.chain_now or datetime.now(UTC)
    current = int(time.time()) // 60
    per_minute = [
        {
            "minute": datetime.fromtimestamp(m * 60, UTC).strftime("%H:%M"),
            "arrivals": board.arrivals.get(m, 0),
            "outcomes": board.outcomes.get(m, 0),
        }
        for m in range(current - minutes + 1, current + 1)
    ]
    backlog: dict[str, int] = {}
    for (group, _), behind in state.lag.items():
        backlog[group] = backlog.get(group, 0) + behind
    listed = board.watched("at risk", "breached")
    deadlines = []
    for dtype, counts in board.totals().items():
        rows = listed.get(dtype, [])
        deadlines.append(
            {
                "type": dtype,
                "description": next(
                    (r.description for r in board.deadlines.values() if r.type == dtype), ""
                ),
                "counts": dict(counts),
                "at_risk": [_deadline_json(r, now) for r in rows if r.state == "at risk"][:50],
                "breached": [_deadline_json(r, now) for r in rows if r.state == "breached"][:50],
            }
        )
    capacity = [
        {"topic": name, "latest": _public_fields(MessageToDict(board.latest[name]))}
        for name in capacity_topics()
        if name in board.latest
    ]
    return {
        "chain_now": board.chain_now.isoformat(timespec="minutes") if board.chain_now else None,
        "arrivals": sum(board.arrivals.values()),
        "outcomes": sum(board.outcomes.values()),
        "per_minute": per_minute,
        "backlog": [{"service": s, "lag": backlog.get(s)} for s in SERVICES],
        "deadlines": deadlines,
        "capacity": capacity,
        "capacity_topics": capacity_topics(),
        "reception": board.capacity.summary(),
    }


def _public_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Capacity events carry figures; drop anything that could be about a person."""
    return {k: v for k, v in fields.items() if not any(word in k.lower() for word in PERSONAL)}


def timeline(spans: list[SpanRecord]) -> list[dict[str, Any]]:
    """Every hop and timer step of a case in time order, with its latency from the
    publish that caused it (the parent span)."""
    by_id = {s.span_id: s for s in spans}
    start = min(s.start_ns for s in spans)
    steps = []
    for span in sorted(spans, key=lambda s: s.start_ns):
        parent = by_id.get(span.parent_id or "")
        latency = (span.start_ns - parent.start_ns) / 1e6 if parent is not None else None
        steps.append(
            {
                "service": span.service,
                "step": span.name,
                "stage": span.stage,
                "at": datetime.fromtimestamp(span.start_ns / 1e9, UTC).isoformat(
                    timespec="milliseconds"
                ),
                "offset_s": round((span.start_ns - start) / 1e9, 3),
                "took_ms": round((span.end_ns - span.start_ns) / 1e6, 1),
                "latency_ms": None if latency is None else round(latency, 1),
                "error": span.status == "ERROR",
            }
        )
    return steps


def _start(span: SpanRecord) -> int:
    return span.start_ns


def case_view(state: ConsoleState, trace_dir: Path, v_nummer: str) -> tuple[int, dict[str, Any]]:
    if not is_v_nummer(v_nummer):
        return 400, {"error": f"{v_nummer!r} is not a V-nummer (a V-nummer is exactly 10 digits)"}
    found = case_traces(trace_dir, v_nummer) if trace_dir.is_dir() else {}
    now = state.board.chain_now or datetime.now(UTC)
    deadlines = [_deadline_json(r, now) for r in state.board.of_case(v_nummer)]
    if not found and not deadlines:
        return 404, {"error": f"no case with V-nummer {v_nummer} in this chain's data"}
    spans = [s for trace in found.values() for s in trace]
    return 200, {
        "v_nummer": v_nummer,
        "services": list(dict.fromkeys(s.service for s in sorted(spans, key=_start))),
        "steps": timeline(spans) if spans else [],
        "deadlines": deadlines,
    }


def create_app(bootstrap_servers: str, data_dir: Path, lag_every: float = 2.0) -> Starlette:
    state = ConsoleState(Board(), {})
    trace_dir = data_dir / "traces"

    async def follow() -> None:
        names = [*BOARD_TOPICS, *CAPACITY_TOPICS, *capacity_topics()]
        reader = BoardReader(bootstrap_servers, list(dict.fromkeys(names)))
        reader.board = state.board
        while True:
            try:
                await reader.start()
                break
            except Exception as error:
                log.warning("console: broker not reachable yet (%s); retrying", error)
                await asyncio.sleep(2.0)
        try:
            while True:
                await reader.poll(0.5)
        finally:
            await reader.stop()

    async def measure_lag() -> None:
        while True:
            try:
                state.lag = await consumer_lag(bootstrap_servers)
                state.lag_at = time.time()
            except Exception as error:
                log.warning("console: consumer lag unavailable (%s)", error)
            await asyncio.sleep(lag_every)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        metrics.observe_lag(lambda: state.lag)
        tasks = [asyncio.create_task(follow()), asyncio.create_task(measure_lag())]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def page(_: Request) -> HTMLResponse:
        return HTMLResponse(PAGE)

    async def api_overview(_: Request) -> JSONResponse:
        return JSONResponse(overview(state))

    async def api_case(request: Request) -> JSONResponse:
        code, body = await asyncio.to_thread(
            case_view, state, trace_dir, str(request.path_params["v_nummer"])
        )
        return JSONResponse(body, status_code=code)

    return Starlette(
        routes=[
            Route("/", page),
            Route("/api/overview", api_overview),
            Route("/api/case/{v_nummer}", api_case),
        ],
        lifespan=lifespan,
    )


class ConsoleServer:
    """The console in a thread of its own (for `migratieketen run`)."""

    def __init__(self, bootstrap_servers: str, data_dir: Path, host: str, port: int) -> None:
        config = uvicorn.Config(
            create_app(bootstrap_servers, data_dir), host=host, port=port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.url = f"http://{host}:{port}/"
        self._thread = threading.Thread(target=self.server.run, name="console", daemon=True)

    def start(self, timeout: float = 10.0) -> bool:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started and self._thread.is_alive():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return self.server.started

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)


def serve(bootstrap_servers: str, data_dir: Path, host: str, port: int) -> None:
    uvicorn.run(create_app(bootstrap_servers, data_dir), host=host, port=port, log_level="warning")

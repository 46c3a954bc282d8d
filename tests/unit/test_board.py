"""The operations board folds the chain's deadline events into what is at risk and late."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from chainctl.board import Board, left_text
from chainctl.cli import render_deadlines
from chainctl.console import ConsoleState, case_view, overview
from chainkit.clock import timestamp
from migratieketen.v1.arrival_pb2 import ArrivalReport
from migratieketen.v1.deadline_pb2 import DeadlineEvent, DeadlineState
from migratieketen.v1.ind_pb2 import (
    BorderCapacityChanged,
    CapacityState,
    CrisisDeclared,
    CrisisEnded,
)
from migratieketen.v1.reception_pb2 import (
    LadderChanged,
    LadderStep,
    LocationType,
    NoPlace,
    ReceptionEnded,
    ReceptionPlacement,
)

START = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
S = DeadlineState


def _event(v: str, state: DeadlineState.ValueType, at_days: float) -> DeadlineEvent:
    return DeadlineEvent(
        v_nummer=v,
        service="screening",
        stage="screening",
        type="screening.time_limit",
        state=state,
        started_at=timestamp(START),
        due_at=timestamp(START + timedelta(days=3)),
        at=timestamp(START + timedelta(days=at_days)),
        ref=f"s-{v}",
        description="screen within 3 days inland",
    )


def test_the_board_keeps_the_latest_state_per_deadline() -> None:
    board = Board()
    topic = "chain.deadline.v1"
    board.add(topic, _event("2600000001", S.DEADLINE_STATE_STARTED, 0), 0)
    board.add(topic, _event("2600000002", S.DEADLINE_STATE_STARTED, 0), 0)
    board.add(topic, _event("2600000003", S.DEADLINE_STATE_STARTED, 0), 0)
    board.add(topic, _event("2600000001", S.DEADLINE_STATE_AT_RISK, 2.25), 0)
    board.add(topic, _event("2600000002", S.DEADLINE_STATE_AT_RISK, 2.25), 0)
    board.add(topic, _event("2600000002", S.DEADLINE_STATE_BREACHED, 3), 0)
    board.add(topic, _event("2600000003", S.DEADLINE_STATE_MET, 1), 0)
    board.add("arrival.reported.v1", ArrivalReport(), 61_000)

    assert board.totals() == {
        "screening.time_limit": {"at risk": 1, "breached": 1, "met": 1},
    }
    assert board.arrivals == {1: 1}
    assert [r.state for r in board.of_case("2600000002")] == ["breached"]
    text = render_deadlines(board, limit=20)
    assert "Deadlines at chain time 2026-07-04 09:00" in text
    assert "screening.time_limit: 1 at risk, 1 breached, 1 met" in text
    assert "at risk   2600000001  due 2026-07-04 09:00  0h 00m left" in text
    assert "breached  2600000002" in text
    assert "2600000003" not in text  # met in time: not listed


def test_time_left_reads_as_days_and_hours() -> None:
    assert left_text(timedelta(days=2, hours=3)) == "2d 03h left"
    assert left_text(timedelta(hours=-5, minutes=-10)) == "5h 10m over"
    assert render_deadlines(Board(), 5).startswith("No deadline events yet")


def test_console_case_view_explains_bad_and_unknown_v_nummers(tmp_path: Path) -> None:
    state = ConsoleState(Board(), {})
    state.board.add("chain.deadline.v1", _event("2600000005", S.DEADLINE_STATE_AT_RISK, 2.5), 0)
    code, body = case_view(state, tmp_path / "traces", "12AB")
    assert (code, body["error"]) == (
        400,
        "'12AB' is not a V-nummer (a V-nummer is exactly 10 digits)",
    )
    code, body = case_view(state, tmp_path / "traces", "2600000077")
    assert code == 404 and "no case with V-nummer 2600000077" in body["error"]
    code, body = case_view(state, tmp_path / "traces", "2600000005")
    assert code == 200
    assert body["deadlines"][0]["state"] == "at risk"
    assert body["deadlines"][0]["left"] == "12h 00m left"

    view = overview(state)
    [dtype] = view["deadlines"]
    assert [r["v_nummer"] for r in dtype["at_risk"]] == ["2600000005"]
    assert [b["service"] for b in view["backlog"]][:2] == ["bvv", "screening"]
    assert view["capacity"] == []  # no capacity topics in the catalogue yet: nothing shown


def test_the_console_shows_occupancy_the_ladder_border_capacity_and_crisis() -> None:
    board = Board()
    L, step = LocationType, LadderStep
    for n, kind in ((1, L.LOCATION_TYPE_CENTRAL_RECEPTION), (2, L.LOCATION_TYPE_CENTRAL_RECEPTION)):
        board.add(
            "reception.placed.v1",
            ReceptionPlacement(v_nummer=f"260000000{n}", location_type=kind),
            0,
        )
    board.add(
        "reception.placed.v1",
        ReceptionPlacement(
            v_nummer="2600000001",
            location_type=L.LOCATION_TYPE_PROCESS_RECEPTION,
            previous_location_type=L.LOCATION_TYPE_CENTRAL_RECEPTION,
        ),
        0,
    )
    board.add(
        "reception.ladder-changed.v1",
        LadderChanged(
            step=step.LADDER_STEP_RESERVE_CAPACITY, previous_step=step.LADDER_STEP_RAISED_OCCUPANCY
        ),
        0,
    )
    board.add("reception.no-place.v1", NoPlace(v_nummer="2600000003"), 0)
    board.add("reception.no-place.v1", NoPlace(v_nummer="2600000004"), 0)
    board.add(
        "reception.placed.v1",
        ReceptionPlacement(v_nummer="2600000004", location_type=L.LOCATION_TYPE_PROCESS_RECEPTION),
        0,
    )
    board.add(
        "reception.ended.v1",
        ReceptionEnded(v_nummer="2600000002", location_type=L.LOCATION_TYPE_CENTRAL_RECEPTION),
        0,
    )
    board.add(
        "asylum.border-capacity.v1",
        BorderCapacityChanged(state=CapacityState.CAPACITY_STATE_REACHED, in_use=211, capacity=211),
        0,
    )
    board.add(
        "chain.crisis-declared.v1", CrisisDeclared(crisis_id="c1", starts_at=timestamp(START)), 0
    )
    shown = overview(ConsoleState(board, {}))["reception"]
    assert shown["occupancy"] == {"central reception": 0, "process reception": 2}
    assert (shown["step"], shown["highest_step"]) == ("reserve capacity", "reserve capacity")
    assert (shown["without_place"], shown["ever_without_place"]) == (1, 2)
    assert shown["border"] == {"in_use": 211, "capacity": 211, "reached": True}
    assert shown["crisis"]["declared"] and shown["crisis"]["running"][0]["crisis_id"] == "c1"
    board.add("chain.crisis-ended.v1", CrisisEnded(crisis_id="c1"), 0)
    shown = overview(ConsoleState(board, {}))["reception"]
    assert shown["crisis"] == {"declared": False, "ended": 1, "running": []}

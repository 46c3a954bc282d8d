"""Reception rules (COA): location types, the scaling ladder, reporting duty, ends."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from chainkit.runtime import chance
from migratieketen.v1.asylum_pb2 import AsylumProcedure
from migratieketen.v1.outcome_pb2 import Outcome
from migratieketen.v1.reception_pb2 import LadderStep, LocationType, ReceptionEndReason
from reception.domain import (
    Location,
    Occupied,
    TableError,
    after_decision_location,
    can_step_down,
    capacity_at,
    climb,
    end_reason,
    is_mob,
    load_locations,
    load_municipalities,
    municipality,
    procedure_location,
    reporting_interval_days,
    reports,
    reports_due,
    reports_until_miss,
    total_capacity,
)
from reception.fixtures import FixtureError, load_fixtures
from reception.settings import HERE

P = AsylumProcedure
L = LocationType
R = ReceptionEndReason
S = LadderStep
STEPS = list(S.values())[1:]


def loc(name: str, kind: LocationType.ValueType, tier: str, capacity: int, **kw: bool) -> Location:
    return Location(name, kind, tier, capacity, kw.get("raisable", True))


def table(regular: int = 10) -> list[Occupied]:
    azc = L.LOCATION_TYPE_REGULAR_CENTRE
    return [
        Occupied(loc("azc", azc, "REGULAR", regular), 0),
        Occupied(loc("reserve", azc, "RESERVE", 5), 0),
        Occupied(loc("nood", azc, "EMERGENCY", 5), 0),
        Occupied(loc("crisis", azc, "CRISIS", 5), 0),
        Occupied(loc("vbl", L.LOCATION_TYPE_FREEDOM_RESTRICTING, "REGULAR", 1, raisable=False), 0),
    ]


def test_the_seeded_table_holds_about_41000_regular_places() -> None:
    locations = load_locations(HERE / "locations.toml", scale=1.0, col_cap=2000)
    regular = sum(
        x.capacity
        for x in locations
        if x.tier == "REGULAR" and x.type != L.LOCATION_TYPE_BORDER_DETENTION
    )
    assert 40_000 <= regular <= 42_000
    col = next(x for x in locations if x.type == L.LOCATION_TYPE_CENTRAL_RECEPTION)
    assert (col.name, col.capacity, col.raisable) == ("COL Ter Apel", 2000, False)
    assert {x.type for x in locations} == set(L.values()) - {L.LOCATION_TYPE_UNSPECIFIED}


def test_the_scale_shrinks_all_but_fixed_locations() -> None:
    locations = {x.name: x for x in load_locations(HERE / "locations.toml", 0.01, 1500)}
    assert locations["COL Ter Apel"].capacity == 15  # the overnight cap, scaled
    assert locations["grensdetentie Schiphol (DJI)"].capacity == 211  # fixed
    assert locations["azc regio Noord"].capacity == 60


def test_a_bad_location_table_names_the_entry(tmp_path: Path) -> None:
    bad = tmp_path / "l.toml"
    bad.write_text('[[location]]\nname = "x"\ntype = "CASTLE"\ntier = "REGULAR"\ncapacity = 1\n')
    with pytest.raises(TableError, match=r"location\[0\]\.type: unknown type 'CASTLE'"):
        load_locations(bad, 1, 1)
    bad.write_text('[[location]]\nname = "x"\ntype = "REGULAR_CENTRE"\ntier = "X"\ncapacity = 1\n')
    with pytest.raises(TableError, match=r"location\[0\]\.tier"):
        load_locations(bad, 1, 1)


def test_capacity_per_step() -> None:
    azc, reserve, nood, _, vbl = (r.location for r in table())
    assert [capacity_at(azc, step, 0.1) for step in STEPS] == [10, 11, 11, 11, 11]
    assert [capacity_at(reserve, step, 0.1) for step in STEPS] == [0, 0, 5, 5, 5]
    assert [capacity_at(nood, step, 0.1) for step in STEPS] == [0, 0, 0, 5, 5]
    assert capacity_at(vbl, S.LADDER_STEP_CRISIS_EMERGENCY_RECEPTION, 0.1) == 1


def test_the_ladder_is_climbed_step_by_step_only_when_full() -> None:
    rows = table()
    azc = L.LOCATION_TYPE_REGULAR_CENTRE
    place, climbed = climb(azc, rows, S.LADDER_STEP_REGULAR, 0.1)
    assert place is rows[0] and climbed == []
    rows[0].occupancy = 10
    place, climbed = climb(azc, rows, S.LADDER_STEP_REGULAR, 0.1)
    assert place is rows[0] and climbed == [S.LADDER_STEP_RAISED_OCCUPANCY]
    rows[0].occupancy = 11
    place, climbed = climb(azc, rows, S.LADDER_STEP_RAISED_OCCUPANCY, 0.1)
    assert place is rows[1] and climbed == [S.LADDER_STEP_RESERVE_CAPACITY]
    rows[1].occupancy = 5
    place, climbed = climb(azc, rows, S.LADDER_STEP_RESERVE_CAPACITY, 0.1)
    assert place is rows[2] and climbed == [S.LADDER_STEP_EMERGENCY_RECEPTION]
    rows[2].occupancy = 5
    rows[3].occupancy = 5
    place, climbed = climb(azc, rows, S.LADDER_STEP_EMERGENCY_RECEPTION, 0.1)
    assert place is None and climbed == [S.LADDER_STEP_CRISIS_EMERGENCY_RECEPTION]


def test_a_type_without_higher_tiers_does_not_climb_the_ladder() -> None:
    rows = table()
    rows[4].occupancy = 1
    place, climbed = climb(L.LOCATION_TYPE_FREEDOM_RESTRICTING, rows, S.LADDER_STEP_REGULAR, 0.1)
    assert place is None and climbed == []


def test_the_ladder_comes_down_in_reverse_order_when_demand_falls() -> None:
    rows = table()
    rows[0].occupancy, rows[1].occupancy, rows[2].occupancy = 11, 5, 1
    step = S.LADDER_STEP_EMERGENCY_RECEPTION
    assert not can_step_down(rows, step, 0.1, 0.85)  # emergency still occupied
    rows[2].occupancy = 0
    assert not can_step_down(rows, step, 0.1, 0.85)  # 16 of 16 reserve-step places: too full
    rows[0].occupancy = 8
    assert can_step_down(rows, step, 0.1, 0.85)  # 13 <= 0.85 * 16
    assert not can_step_down(rows, S.LADDER_STEP_RESERVE_CAPACITY, 0.1, 0.85)  # reserve occupied
    rows[1].occupancy = 0
    assert can_step_down(rows, S.LADDER_STEP_RESERVE_CAPACITY, 0.1, 0.85)
    assert not can_step_down(rows, S.LADDER_STEP_REGULAR, 0.1, 0.85)  # the bottom


def test_border_detention_is_off_the_ladder() -> None:
    rows = [*table(), Occupied(loc("dji", L.LOCATION_TYPE_BORDER_DETENTION, "REGULAR", 3), 3)]
    assert total_capacity(rows, S.LADDER_STEP_REGULAR, 0.1) == 11
    place, climbed = climb(L.LOCATION_TYPE_BORDER_DETENTION, rows, S.LADDER_STEP_REGULAR, 0.1)
    assert place is None and climbed == []


@pytest.mark.parametrize(
    ("proc", "uam", "family", "expected"),
    [
        (P.ASYLUM_PROCEDURE_BORDER, False, False, L.LOCATION_TYPE_BORDER_DETENTION),
        (P.ASYLUM_PROCEDURE_BORDER, False, True, L.LOCATION_TYPE_CLOSED_FAMILY_FACILITY),
        (P.ASYLUM_PROCEDURE_BORDER, True, False, L.LOCATION_TYPE_CLOSED_FAMILY_FACILITY),
        (P.ASYLUM_PROCEDURE_REGULAR, True, False, L.LOCATION_TYPE_UAM_LOCATION),
        (P.ASYLUM_PROCEDURE_DUBLIN, True, False, L.LOCATION_TYPE_UAM_LOCATION),
        (P.ASYLUM_PROCEDURE_DUBLIN, False, False, L.LOCATION_TYPE_FAST_TRACK),
        (P.ASYLUM_PROCEDURE_ACCELERATED, False, True, L.LOCATION_TYPE_FAST_TRACK),
        (P.ASYLUM_PROCEDURE_REGULAR, False, False, L.LOCATION_TYPE_PROCESS_RECEPTION),
        (P.ASYLUM_PROCEDURE_REGULAR, False, True, L.LOCATION_TYPE_PROCESS_RECEPTION),
    ],
)
def test_procedure_location(
    proc: AsylumProcedure.ValueType, uam: bool, family: bool, expected: LocationType.ValueType
) -> None:
    assert procedure_location(proc, uam, family) == expected


@pytest.mark.parametrize(
    ("current", "granted", "uam", "cooperates", "expected"),
    [
        (L.LOCATION_TYPE_PROCESS_RECEPTION, True, False, False, L.LOCATION_TYPE_REGULAR_CENTRE),
        (L.LOCATION_TYPE_UAM_LOCATION, True, True, False, L.LOCATION_TYPE_UAM_LOCATION),
        (L.LOCATION_TYPE_FAST_TRACK, False, False, True, L.LOCATION_TYPE_FREEDOM_RESTRICTING),
        (L.LOCATION_TYPE_FAST_TRACK, False, False, False, L.LOCATION_TYPE_FAST_TRACK),
        (L.LOCATION_TYPE_BORDER_DETENTION, False, False, True, L.LOCATION_TYPE_BORDER_DETENTION),
        (L.LOCATION_TYPE_BORDER_DETENTION, True, False, False, L.LOCATION_TYPE_BORDER_DETENTION),
    ],
)
def test_after_decision_location(
    current: LocationType.ValueType,
    granted: bool,
    uam: bool,
    cooperates: bool,
    expected: LocationType.ValueType,
) -> None:
    assert after_decision_location(current, granted, uam, cooperates) == expected


@pytest.mark.parametrize(
    ("location", "family", "days"),
    [
        (L.LOCATION_TYPE_REGULAR_CENTRE, False, 7),
        (L.LOCATION_TYPE_REGULAR_CENTRE, True, 1),
        (L.LOCATION_TYPE_FAST_TRACK, False, 7),
        (L.LOCATION_TYPE_FREEDOM_RESTRICTING, False, 7),
        (L.LOCATION_TYPE_CENTRAL_RECEPTION, False, None),
        (L.LOCATION_TYPE_CLOSED_FAMILY_FACILITY, True, None),
        (L.LOCATION_TYPE_BORDER_DETENTION, False, None),
    ],
)
def test_reporting_duty_weekly_daily_for_families_none_when_closed(
    location: LocationType.ValueType, family: bool, days: float | None
) -> None:
    assert reporting_interval_days(location, family, 7, 1) == days


def test_mob_after_the_limit_of_missed_reports() -> None:
    assert [is_mob(n, 3) for n in (0, 1, 2, 3, 4)] == [False, False, False, True, True]


Miss = tuple[int, int, int]  # report number (from 1), missed in a row, reports made by then


def _one_report_at_a_time(
    seed: str, share: float, mob_after: int | None, limit: int, until: int
) -> list[Miss]:
    """The reporting duty drawn report by report, as one stored timer per report did."""
    made = in_a_row = 0
    missed: list[Miss] = []
    for number in range(1, until + 1):
        stopped = mob_after is not None and made >= mob_after
        if not stopped and reports(chance(seed, made + in_a_row), share):
            made, in_a_row = made + 1, 0
            continue
        in_a_row += 1
        missed.append((number, in_a_row, made))
        if is_mob(in_a_row, limit):
            break
    return missed


def _drawn_ahead(
    seed: str, share: float, mob_after: int | None, limit: int, until: int, lookahead: int
) -> list[Miss]:
    """The same duty, one step per miss (or per look-ahead), as the service keeps it."""
    made = in_a_row = number = 0
    missed: list[Miss] = []
    while number < until:
        ahead = reports_until_miss(
            lambda index: chance(seed, index),
            share,
            made,
            in_a_row,
            mob_after,
            lookahead,
        )
        if ahead is None:
            made, in_a_row, number = made + lookahead, 0, number + lookahead
            continue
        number += ahead + 1
        if number > until:
            break
        made, in_a_row = made + ahead, (in_a_row if ahead == 0 else 0) + 1
        missed.append((number, in_a_row, made))
        if is_mob(in_a_row, limit):
            break
    return missed


@pytest.mark.parametrize("share", [0.02, 0.3, 0.6])
@pytest.mark.parametrize("mob_after", [None, 0, 7])
@pytest.mark.parametrize("lookahead", [1, 5, 104])
def test_reports_drawn_ahead_miss_exactly_where_report_by_report_would(
    share: float, mob_after: int | None, lookahead: int
) -> None:
    for person in range(20):
        seed = f"20260612|report|26000{person:05d}"
        for limit in (1, 3):
            expected = _one_report_at_a_time(seed, share, mob_after, limit, 300)
            drawn = _drawn_ahead(seed, share, mob_after, limit, 300, lookahead)
            assert drawn == expected
    # The comparison has misses to compare, and MOB ends some of them.
    assert _one_report_at_a_time("20260612|report|2600000001", 0.6, None, 3, 300)


def test_a_resident_who_never_misses_draws_nothing_ahead() -> None:
    def drawn(index: int) -> float:
        raise AssertionError(f"report {index} drawn")

    assert reports_until_miss(drawn, 0.0, 12, 0, None, 104) is None
    # A planted resident who stops reporting misses the first report after the limit.
    assert reports_until_miss(drawn, 0.0, 12, 0, 12, 104) == 0
    assert reports_until_miss(drawn, 0.0, 10, 0, 12, 104) == 2
    assert reports_until_miss(drawn, 0.0, 0, 0, 200, 104) is None


def test_reports_due_counts_whole_intervals_from_the_spell_start() -> None:
    week = 7 * 86_400.0
    since = 1_782_900_000.0
    assert [reports_due(since, week, since + k * week) for k in (0, 1, 2, 52)] == [0, 1, 2, 52]
    assert reports_due(since, week, since + 2 * week - 1) == 1
    assert reports_due(since, week, since - week) == 0


def test_municipalities_are_drawn_by_their_share() -> None:
    towns = load_municipalities(HERE / "municipalities.toml")
    rng = random.Random(1)
    drawn = [municipality(rng, towns).name for _ in range(2000)]
    assert drawn.count("Amsterdam") > drawn.count("Emmen") * 3
    assert all(t.wait_days > 0 for t in towns)


def test_the_municipality_table_is_read_once_per_version_of_the_file(tmp_path: Path) -> None:
    towns = tmp_path / "m.toml"
    towns.write_text('[[municipality]]\nname = "Assen"\nshare = 1.0\nwait_days = 10\n')
    first = load_municipalities(towns)
    assert load_municipalities(towns) is first  # not parsed again
    towns.write_text('[[municipality]]\nname = "Emmen"\nshare = 1.0\nwait_days = 12.5\n')
    assert [(t.name, t.wait_days) for t in load_municipalities(towns)] == [("Emmen", 12.5)]
    towns.unlink()
    with pytest.raises(TableError, match="cannot be read"):
        load_municipalities(towns)


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        (Outcome.OUTCOME_HOUSED, R.RECEPTION_END_REASON_HOUSED_IN_MUNICIPALITY),
        (Outcome.OUTCOME_DEPARTED_FORCED, R.RECEPTION_END_REASON_DEPARTED),
        (Outcome.OUTCOME_ABSCONDED, R.RECEPTION_END_REASON_ABSCONDED),
        (Outcome.OUTCOME_NOT_REMOVABLE, R.RECEPTION_END_REASON_NOT_REMOVABLE),
    ],
)
def test_end_reason(outcome: Outcome.ValueType, reason: ReceptionEndReason.ValueType) -> None:
    assert end_reason(outcome) == reason


@pytest.mark.parametrize(
    "outcome", [v for v in Outcome.values() if v != Outcome.OUTCOME_UNSPECIFIED]
)
def test_every_final_outcome_has_an_end_reason(outcome: Outcome.ValueType) -> None:
    assert end_reason(outcome) != R.RECEPTION_END_REASON_UNSPECIFIED


def test_fixtures_plant_missed_reports_and_name_bad_fields(tmp_path: Path) -> None:
    good = tmp_path / "p.toml"
    good.write_text('[[person]]\npartner_reference = "T-1"\nmisses_reports = "decision"\n')
    planted = load_fixtures(good).find("2600000001", "T-1")
    assert planted is not None and planted.misses_reports == "decision"
    good.write_text('[[person]]\npartner_reference = "T-1"\nmisses_reports = "sometimes"\n')
    with pytest.raises(FixtureError, match=r"person\.0\.misses_reports"):
        load_fixtures(good)

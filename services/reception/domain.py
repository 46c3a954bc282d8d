"""Pure reception rules (COA): which location, the scaling ladder, the reporting duty,
housing by a municipality and why reception ends."""

from __future__ import annotations

import functools
import math
import random
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from migratieketen.v1.asylum_pb2 import AsylumProcedure
from migratieketen.v1.outcome_pb2 import Outcome
from migratieketen.v1.reception_pb2 import LadderStep, LocationType, ReceptionEndReason

L = LocationType
P = AsylumProcedure
S = LadderStep

Tier = Literal["REGULAR", "RESERVE", "EMERGENCY", "CRISIS"]
TIER_ORDER: dict[str, int] = {"REGULAR": 0, "RESERVE": 1, "EMERGENCY": 2, "CRISIS": 3}
# The step at which a tier's locations open.
OPENS_AT: dict[str, LadderStep.ValueType] = {
    "REGULAR": S.LADDER_STEP_REGULAR,
    "RESERVE": S.LADDER_STEP_RESERVE_CAPACITY,
    "EMERGENCY": S.LADDER_STEP_EMERGENCY_RECEPTION,
    "CRISIS": S.LADDER_STEP_CRISIS_EMERGENCY_RECEPTION,
}
BOTTOM, TOP = S.LADDER_STEP_REGULAR, S.LADDER_STEP_CRISIS_EMERGENCY_RECEPTION
# Border detention is DJI's, held within the 211 places the IND counts: not on COA's ladder.
OFF_LADDER = frozenset({L.LOCATION_TYPE_BORDER_DETENTION})
# Closed or custodial locations: no reporting duty there.
NO_REPORTING = frozenset(
    {
        L.LOCATION_TYPE_CENTRAL_RECEPTION,
        L.LOCATION_TYPE_CLOSED_FAMILY_FACILITY,
        L.LOCATION_TYPE_BORDER_DETENTION,
    }
)


class TableError(ValueError):
    """A location or municipality table that cannot be used; names the file and entry."""


class LocationEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    type: str
    tier: Tier
    capacity: int = Field(ge=0)
    fixed: bool = False  # not scaled by the capacity scale
    raisable: bool = True


class MunicipalityEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    share: float = Field(gt=0)
    wait_days: float = Field(ge=0)


@dataclass(frozen=True)
class Location:
    name: str
    type: LocationType.ValueType
    tier: str
    capacity: int  # places at the regular step, after scaling
    raisable: bool


def _read(path: Path, section: str) -> list[object]:
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise TableError(f"{path}: cannot be read as TOML ({error})") from None
    entries = raw.get(section)
    if not isinstance(entries, list) or not entries:
        raise TableError(f"{path}: no [[{section}]] entries")
    return entries


def load_locations(path: Path, scale: float, col_cap: int) -> list[Location]:
    """The location table with capacities scaled; COL Ter Apel gets the overnight cap."""
    locations = []
    for index, raw in enumerate(_read(path, "location")):
        try:
            entry = LocationEntry.model_validate(raw)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise TableError(f"{path}: location[{index}].{where}: {first['msg']}") from None
        kind = f"LOCATION_TYPE_{entry.type}"
        if kind not in set(L.keys()) - {"LOCATION_TYPE_UNSPECIFIED"}:
            raise TableError(f"{path}: location[{index}].type: unknown type {entry.type!r}")
        capacity = entry.capacity
        if kind == "LOCATION_TYPE_CENTRAL_RECEPTION" and entry.tier == "REGULAR":
            capacity = col_cap
        if not entry.fixed:
            capacity = max(1, round(capacity * scale))
        locations.append(Location(entry.name, L.Value(kind), entry.tier, capacity, entry.raisable))
    return locations


def load_municipalities(path: Path) -> tuple[MunicipalityEntry, ...]:
    """The municipality table, read once per version of the file (COA draws a town for
    every permit holder: parsing the TOML each time was 3% of its samples in a surge)."""
    try:
        stat = path.stat()
    except OSError as error:
        raise TableError(f"{path}: cannot be read as TOML ({error})") from None
    return _municipalities(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _municipalities(path: Path, mtime_ns: int, size: int) -> tuple[MunicipalityEntry, ...]:
    try:
        return tuple(MunicipalityEntry.model_validate(raw) for raw in _read(path, "municipality"))
    except ValidationError as error:
        first = error.errors()[0]
        raise TableError(f"{path}: municipality: {first['loc']}: {first['msg']}") from None


def capacity_at(location: Location, step: LadderStep.ValueType, raise_share: float) -> int:
    """Places a location offers at a ladder step: none before its tier opens; raised
    regular locations take `raise_share` more from the second step on."""
    if step < OPENS_AT[location.tier]:
        return 0
    if location.raisable and location.tier == "REGULAR" and step >= S.LADDER_STEP_RAISED_OCCUPANCY:
        return location.capacity + math.ceil(location.capacity * raise_share)
    return location.capacity


@dataclass
class Occupied:
    location: Location
    occupancy: int


def on_ladder(rows: Sequence[Occupied]) -> list[Occupied]:
    return [r for r in rows if r.location.type not in OFF_LADDER]


def total_capacity(rows: Sequence[Occupied], step: LadderStep.ValueType, raise_share: float) -> int:
    return sum(capacity_at(r.location, step, raise_share) for r in on_ladder(rows))


def total_occupancy(rows: Sequence[Occupied]) -> int:
    return sum(r.occupancy for r in on_ladder(rows))


def find_place(
    needed: LocationType.ValueType,
    rows: Sequence[Occupied],
    step: LadderStep.ValueType,
    raise_share: float,
) -> Occupied | None:
    """A free place of the type needed: regular locations first, then the most room."""
    free = [
        r
        for r in rows
        if r.location.type == needed and r.occupancy < capacity_at(r.location, step, raise_share)
    ]
    free.sort(
        key=lambda r: (
            TIER_ORDER[r.location.tier],
            r.occupancy - capacity_at(r.location, step, raise_share),
            r.location.name,
        )
    )
    return free[0] if free else None


def _type_capacity(
    needed: LocationType.ValueType,
    rows: Sequence[Occupied],
    step: LadderStep.ValueType,
    raise_share: float,
) -> int:
    return sum(
        capacity_at(r.location, step, raise_share) for r in rows if r.location.type == needed
    )


def climb(
    needed: LocationType.ValueType,
    rows: Sequence[Occupied],
    step: LadderStep.ValueType,
    raise_share: float,
) -> tuple[Occupied | None, list[LadderStep.ValueType]]:
    """Find a place, climbing the ladder one step at a time while a higher step still
    adds places of the type needed. Returns the place (None: without a place) and the
    steps climbed, in order."""
    climbed: list[LadderStep.ValueType] = []
    while True:
        found = find_place(needed, rows, step, raise_share)
        if found is not None or needed in OFF_LADDER:
            return found, climbed
        now = _type_capacity(needed, rows, step, raise_share)
        higher = [
            s
            for s in range(step + 1, TOP + 1)
            if _type_capacity(needed, rows, LadderStep.ValueType(s), raise_share) > now
        ]
        if not higher:
            return None, climbed
        step = LadderStep.ValueType(step + 1)
        climbed.append(step)


def can_step_down(
    rows: Sequence[Occupied],
    step: LadderStep.ValueType,
    raise_share: float,
    step_down_share: float,
) -> bool:
    """Down one step when nobody would be above a location's places there and the
    occupancy is at most `step_down_share` of the lower step's places."""
    if step <= BOTTOM:
        return False
    lower = LadderStep.ValueType(step - 1)
    ladder = on_ladder(rows)
    if any(r.occupancy > capacity_at(r.location, lower, raise_share) for r in ladder):
        return False
    return total_occupancy(ladder) <= step_down_share * total_capacity(ladder, lower, raise_share)


def procedure_location(
    procedure: AsylumProcedure.ValueType, unaccompanied: bool, family: bool
) -> LocationType.ValueType:
    """Where the asylum procedure is followed."""
    if procedure == P.ASYLUM_PROCEDURE_BORDER:
        if unaccompanied or family:
            return L.LOCATION_TYPE_CLOSED_FAMILY_FACILITY
        return L.LOCATION_TYPE_BORDER_DETENTION
    if unaccompanied:
        return L.LOCATION_TYPE_UAM_LOCATION
    if procedure in (P.ASYLUM_PROCEDURE_DUBLIN, P.ASYLUM_PROCEDURE_ACCELERATED):
        return L.LOCATION_TYPE_FAST_TRACK
    return L.LOCATION_TYPE_PROCESS_RECEPTION


def after_decision_location(
    current: LocationType.ValueType, granted: bool, unaccompanied: bool, cooperates: bool
) -> LocationType.ValueType:
    """Permit holders wait for a home in an azc (minors stay with Nidos); rejected
    applicants who cooperate with departure move to a VBL; others stay where they are."""
    if current in (L.LOCATION_TYPE_BORDER_DETENTION, L.LOCATION_TYPE_CLOSED_FAMILY_FACILITY):
        return current
    if granted:
        return current if unaccompanied else L.LOCATION_TYPE_REGULAR_CENTRE
    if cooperates and not unaccompanied:
        return L.LOCATION_TYPE_FREEDOM_RESTRICTING
    return current


def reporting_interval_days(
    location: LocationType.ValueType, family: bool, weekly: float, daily: float
) -> float | None:
    """Reporting duty (meldplicht): weekly, daily for families; none in a closed place."""
    if location in NO_REPORTING:
        return None
    return daily if family else weekly


def reports(chance: float, miss_share: float) -> bool:
    """Whether one due report is made (a resident sometimes misses one), from one
    uniform draw in [0, 1)."""
    return chance >= miss_share


# How far ahead the reporting duty is drawn: without a miss in this many reports, a
# re-check is stored at the last of them (so a resident who never misses costs one
# stored timer per this many reports, not one per report).
REPORT_LOOKAHEAD = 104


def reports_until_miss(
    chance_for: Callable[[int], float],
    miss_share: float,
    made: int,
    missed_in_a_row: int,
    mob_after: int | None,
    lookahead: int = REPORT_LOOKAHEAD,
) -> int | None:
    """How many reports in a row the resident makes from here before missing one (None:
    none missed within `lookahead`), as if drawn one report at a time: report i (from 0)
    draws `chance_for(made + i)`, the first `chance_for(made + missed_in_a_row)` (the misses in
    a row so far count); a resident who leaves for good (`mob_after` reports made)
    misses every report from then on."""
    for ahead in range(lookahead):
        if mob_after is not None and made + ahead >= mob_after:
            return ahead
        index = made + ahead + (missed_in_a_row if ahead == 0 else 0)
        if miss_share > 0 and not reports(chance_for(index), miss_share):
            return ahead
    return None


def reports_due(since: float, every: float, at: float) -> int:
    """Reports due from `since` (a spell's start) up to and including `at`, one every
    `every` seconds (the first `every` after the start)."""
    if at < since:
        return 0
    return math.floor((at - since) / every + 1e-6)


def absconds_after(rng: random.Random, mob_share: float) -> int | None:
    """How many reports a resident makes before leaving for good (None: stays)."""
    if rng.random() >= mob_share:
        return None
    return rng.randint(0, 6)


def is_mob(missed_in_a_row: int, limit: int) -> bool:
    return missed_in_a_row >= limit


def municipality(
    rng: random.Random, municipalities: Sequence[MunicipalityEntry]
) -> MunicipalityEntry:
    """The municipality whose target takes this permit holder (weighed by share)."""
    return rng.choices(list(municipalities), [m.share for m in municipalities])[0]


def end_reason(outcome: Outcome.ValueType) -> ReceptionEndReason.ValueType:
    R = ReceptionEndReason
    return {
        Outcome.OUTCOME_HOUSED: R.RECEPTION_END_REASON_HOUSED_IN_MUNICIPALITY,
        Outcome.OUTCOME_DEPARTED_VOLUNTARY: R.RECEPTION_END_REASON_DEPARTED,
        Outcome.OUTCOME_DEPARTED_FORCED: R.RECEPTION_END_REASON_DEPARTED,
        Outcome.OUTCOME_TRANSFERRED: R.RECEPTION_END_REASON_TRANSFERRED,
        Outcome.OUTCOME_ABSCONDED: R.RECEPTION_END_REASON_ABSCONDED,
        Outcome.OUTCOME_RELOCATED: R.RECEPTION_END_REASON_RELOCATED,
        Outcome.OUTCOME_NOT_REMOVABLE: R.RECEPTION_END_REASON_NOT_REMOVABLE,
    }.get(outcome, R.RECEPTION_END_REASON_UNSPECIFIED)

"""Which procedure, and why: responsibility first (AMMR), then the border procedure,
the accelerated procedure or the regular one (APR), under two regimes and a crisis."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from asylum.periods import Period
from chainkit.pact import limits


class Regime(StrEnum):
    PACT = "PACT"
    NATIONAL_PRE_PACT = "NATIONAL_PRE_PACT"


class Route(StrEnum):
    DUBLIN = "DUBLIN"
    BORDER = "BORDER"
    ACCELERATED = "ACCELERATED"
    REGULAR = "REGULAR"


class Ground(StrEnum):
    """The three grounds of the mandatory border procedure (APR Art. 45(1), 42(1))."""

    MISLEADING = "misleading_the_authorities"  # Art. 42(1)(c)
    SECURITY = "danger_to_public_order_or_national_security"  # Art. 42(1)(f)
    LOW_RECOGNITION_RATE = "recognition_rate_at_or_below_threshold"  # Art. 42(1)(j)


# Special needs from the screening's vulnerability check that the border procedure
# cannot meet (APR Art. 53(2)): the border procedure is not applied or stops.
NEEDS_NOT_MET_AT_BORDER = frozenset(
    {"possible_torture", "possible_trafficking", "serious_illness", "mental_health", "disability"}
)


@dataclass(frozen=True)
class Crisis:
    """A crisis declared by the operator (Regulation 2024/1359) and its derogations."""

    crisis_id: str
    starts_at: datetime
    ends_at: datetime | None
    registration: Period
    border_extra: Period
    recognition_rate_threshold: float

    def covers(self, made_at: datetime) -> bool:
        return self.starts_at <= made_at and (self.ends_at is None or made_at < self.ends_at)


def check_crisis_threshold(threshold: float) -> None:
    """A crisis may lower the threshold, never below 5 % (and never raise it above 100 %)."""
    floor = limits().crisis_min_recognition_rate_threshold
    if not floor <= threshold <= 1:
        raise ValueError(f"must be between {floor:.0%} and 100 %")


@dataclass(frozen=True)
class Applicant:
    """What routing needs to know about one applicant (from the screening)."""

    at_border: bool
    made_at: datetime
    recognition_rate: float
    security: bool = False
    misleading: bool = False
    minor: bool = False
    unaccompanied_minor: bool = False
    family_with_children: bool = False
    special_needs: tuple[str, ...] = ()
    medical: bool = False
    subsequent: bool = False


@dataclass(frozen=True)
class Routing:
    route: Route
    reason: str
    grounds: tuple[Ground, ...] = ()
    needs_border_place: bool = False
    priority: int = 0  # 1 minors and families, 2 return perspective or danger, 3 other
    capacity_suspended: bool = False  # Art. 48 applied to this case
    inadmissibility: bool = False  # a subsequent application: admissibility first
    notes: tuple[str, ...] = field(default_factory=tuple)


def regime(made_at: datetime, pact_from: datetime) -> Regime:
    """The date the application was made decides (seed 003: both run side by side)."""
    return Regime.PACT if made_at >= pact_from else Regime.NATIONAL_PRE_PACT


def threshold(applicant: Applicant, crisis: Crisis | None) -> float:
    if crisis is not None and crisis.covers(applicant.made_at):
        return crisis.recognition_rate_threshold
    return limits().recognition_rate_threshold


def grounds(applicant: Applicant, rate_threshold: float) -> tuple[Ground, ...]:
    found = []
    if applicant.misleading:
        found.append(Ground.MISLEADING)
    if applicant.security:
        found.append(Ground.SECURITY)
    if applicant.recognition_rate <= rate_threshold:
        found.append(Ground.LOW_RECOGNITION_RATE)
    return tuple(found)


def allowed_for_unaccompanied_minor(found: tuple[Ground, ...]) -> tuple[Ground, ...]:
    """Unaccompanied minors: border procedure and accelerated procedure only on the
    security ground (APR Art. 42(3), 53(2)(b))."""
    return tuple(g for g in found if g == Ground.SECURITY)


def special_needs_reason(applicant: Applicant) -> str | None:
    """Why the border procedure cannot be applied (APR Art. 53(2)), or None."""
    if applicant.medical:
        return "border procedure not applied: medical grounds (screening health check)"
    unmet = sorted(set(applicant.special_needs) & NEEDS_NOT_MET_AT_BORDER)
    if unmet:
        return "border procedure not applied: special needs not met at the border (" + (
            ", ".join(unmet) + ")"
        )
    return None


def priority(applicant: Applicant, found: tuple[Ground, ...]) -> int:
    """Who gets a border place first (seed 003): minors and their families, then people
    with a return perspective (low recognition rate) and people who are a danger."""
    if applicant.minor or applicant.family_with_children:
        return 1
    if Ground.LOW_RECOGNITION_RATE in found or Ground.SECURITY in found:
        return 2
    return 3


def admit(
    rank: int, in_use: int, capacity: int, family_reserve: int, priority_reserve: int
) -> bool:
    """A border place for a case of this priority with `in_use` places taken: the last
    `family_reserve` places are kept for priority 1, the `priority_reserve` before them
    for priorities 1 and 2."""
    if rank == 1:
        limit = capacity
    elif rank == 2:
        limit = capacity - family_reserve
    else:
        limit = capacity - family_reserve - priority_reserve
    return in_use < limit


def _names(found: tuple[Ground, ...]) -> str:
    return ", ".join(found)


def route(
    applicant: Applicant,
    applied_regime: Regime,
    crisis: Crisis | None,
    border_place: bool,
) -> Routing:
    """The national route, once the Netherlands is responsible. `border_place` says
    whether a border place is free for this case's priority (see `admit`)."""
    found = grounds(applicant, threshold(applicant, crisis))
    if applicant.unaccompanied_minor:
        excluded = tuple(g for g in found if g not in allowed_for_unaccompanied_minor(found))
        found = allowed_for_unaccompanied_minor(found)
        notes = (
            (f"unaccompanied minor: not on {_names(excluded)} (APR Art. 42(3))",)
            if excluded
            else ()
        )
    else:
        notes = ()
    if applicant.subsequent:
        return Routing(
            Route.ACCELERATED,
            "subsequent application: admissibility examined first (APR Art. 55, 42(1)(e))",
            found,
            inadmissibility=True,
            notes=notes,
        )
    rank = priority(applicant, found)
    if applicant.at_border and found:
        needs = special_needs_reason(applicant)
        if needs is not None:
            return Routing(*_inland(applied_regime, found, needs), found, notes=notes)
        if border_place:
            return Routing(
                Route.BORDER,
                f"mandatory border procedure (APR Art. 45(1)): {_names(found)}"
                if applied_regime == Regime.PACT
                else f"national border procedure (old regime, 9 weeks): {_names(found)}",
                found,
                needs_border_place=True,
                priority=rank,
                notes=notes,
            )
        if found == (Ground.LOW_RECOGNITION_RATE,):
            reason = "adequate capacity reached: recognition-rate ground suspended (APR Art. 48)"
            routed = _inland(applied_regime, found, reason)
            return Routing(*routed, found, priority=rank, capacity_suspended=True, notes=notes)
        reason = "adequate capacity reached: no border place for this priority"
        return Routing(*_inland(applied_regime, found, reason), found, priority=rank, notes=notes)
    if found:
        return Routing(*_inland(applied_regime, found, ""), found, notes=notes)
    return Routing(Route.REGULAR, "no ground for the border or accelerated procedure", notes=notes)


def _inland(applied_regime: Regime, found: tuple[Ground, ...], why: str) -> tuple[Route, str]:
    """Inland the same grounds lead to the accelerated procedure (APR Art. 42(1));
    the old regime has no such track: the general procedure."""
    prefix = f"{why}; " if why else ""
    if applied_regime == Regime.NATIONAL_PRE_PACT:
        return Route.REGULAR, f"{prefix}old national regime: general asylum procedure"
    return Route.ACCELERATED, f"{prefix}accelerated procedure (APR Art. 42(1)): {_names(found)}"

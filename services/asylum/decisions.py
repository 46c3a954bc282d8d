"""Decision limits, the decision on the merits, appeals, the IND's daily capacity and
the Awb 4:17 penalty for a late decision."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from asylum import law
from asylum.periods import Period
from asylum.routing import Crisis, Regime, Route
from chainkit.pact import limits
from migratieketen.v1.asylum_pb2 import DecisionOutcome

D = DecisionOutcome


def decision_period(route: Route, applied: Regime, inadmissibility: bool, extension: int) -> Period:
    """The decision limit. The border procedure counts from registration and includes
    the appeal; the others count from lodging (APR Art. 35(3), 51(2))."""
    if applied == Regime.NATIONAL_PRE_PACT:
        if route == Route.BORDER:
            return law.OLD_BORDER
        return law.OLD_REGULAR.plus(Period(extension, "months"))
    if inadmissibility:
        return law.INADMISSIBLE
    return {
        Route.BORDER: law.BORDER,
        Route.ACCELERATED: law.ACCELERATED,
        Route.REGULAR: law.REGULAR,
        Route.DUBLIN: law.REGULAR,
    }[route]


def decision_due(
    route: Route,
    applied: Regime,
    registered_at: datetime,
    lodged_at: datetime,
    *,
    inadmissibility: bool = False,
    crisis: Crisis | None = None,
    made_at: datetime | None = None,
    extension: int = 0,
) -> datetime:
    period = decision_period(route, applied, inadmissibility, extension)
    if route == Route.BORDER:
        if applied == Regime.PACT and crisis is not None and made_at and crisis.covers(made_at):
            period = period.plus(crisis.border_extra)
        return period.after(registered_at)
    return period.after(lodged_at)


def registration_due(made_at: datetime, crisis: Crisis | None) -> datetime:
    """5 days after the application was made; 4 weeks in a crisis."""
    if crisis is not None and crisis.covers(made_at):
        return crisis.registration.after(made_at)
    return law.REGISTRATION.after(made_at)


def lodging_due(registered_at: datetime) -> datetime:
    return law.LODGING.after(registered_at)


@dataclass(frozen=True)
class Decision:
    outcome: DecisionOutcome.ValueType
    return_decision: bool
    departure_period_days: int
    grounds: str


REJECTIONS = frozenset(
    {
        D.DECISION_OUTCOME_REJECTED_UNFOUNDED,
        D.DECISION_OUTCOME_REJECTED_MANIFESTLY_UNFOUNDED,
        D.DECISION_OUTCOME_INADMISSIBLE,
    }
)


def with_return(outcome: DecisionOutcome.ValueType, route: Route) -> Decision:
    """A rejection carries the return decision in the same act (APR Art. 37)."""
    if outcome not in REJECTIONS:
        return Decision(outcome, False, 0, "protection granted (two-status system)")
    pact = limits()
    days = pact.voluntary_departure_days if route == Route.BORDER else pact.departure_period_days
    return Decision(outcome, True, days, "rejected with a return decision (APR Art. 37)")


def merits(
    route: Route, rate: float, inadmissibility: bool, rng: random.Random
) -> DecisionOutcome.ValueType:
    """Simulated from the recognition rate: refugee status or subsidiary protection with
    that probability; otherwise unfounded (manifestly, in the border and accelerated
    procedures). A subsequent application without new elements is inadmissible."""
    draw = rng.random()
    if inadmissibility and draw >= rate:
        return D.DECISION_OUTCOME_INADMISSIBLE
    if draw < rate:
        if draw < rate * 0.7:
            return D.DECISION_OUTCOME_GRANTED_REFUGEE
        return D.DECISION_OUTCOME_GRANTED_SUBSIDIARY
    if route == Route.REGULAR:
        return D.DECISION_OUTCOME_REJECTED_UNFOUNDED
    return D.DECISION_OUTCOME_REJECTED_MANIFESTLY_UNFOUNDED


def appeal_drawn(rng: random.Random, share: float) -> bool:
    return rng.random() < share


def appeal_upheld(rng: random.Random, share: float) -> bool:
    return rng.random() < share


def next_free_day(ready_day: int, used: dict[int, int], per_day: int) -> int:
    """The first simulated day from `ready_day` with a decision slot left."""
    if per_day <= 0:
        raise ValueError("the IND needs at least one decision a day per procedure")
    day = ready_day
    while used.get(day, 0) >= per_day:
        day += 1
    return day


def penalty(days_late: int, per_day: tuple[int, int, int], stretch: int, maximum: int) -> int:
    """Awb 4:17: EUR 23 a day for the first 14 days, 35 for the next 14, 45 after, at
    most 1,442 per decision (defaults; the notice of default is assumed at the due date)."""
    if days_late <= 0:
        return 0
    first = min(days_late, stretch)
    second = min(max(days_late - stretch, 0), stretch)
    rest = max(days_late - 2 * stretch, 0)
    return min(first * per_day[0] + second * per_day[1] + rest * per_day[2], maximum)

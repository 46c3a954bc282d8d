"""Pure return rules (DTenV): how a case will end and when, the entry ban, what goes to
SIS and EES."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from chainkit.clock import timestamp
from migratieketen.v1.common_pb2 import EuSystem, Partner
from migratieketen.v1.europaloket_pb2 import (
    CheckOperation,
    CheckPurpose,
    CheckRequest,
    CheckStatus,
)
from migratieketen.v1.outcome_pb2 import Outcome
from returns.fixtures import PlantedCase
from returns.settings import ReturnsSettings

Oc = Outcome
# A Dublin transfer that did not happen by its deadline: no outcome, back to the IND.
EXPIRED = Oc.OUTCOME_UNSPECIFIED


@dataclass(frozen=True)
class Plan:
    """How and when a return case ends, drawn when it opens (or planted)."""

    outcome: Outcome.ValueType
    after_days: float  # from opening: departure, absconding, or start of removal
    detention: bool = False  # removal from detention (DJI)
    removal_days: float = 0.0  # removal effort after `after_days` (forced, not removable)


def plan_departure(rng: random.Random, cfg: ReturnsSettings, period_days: float) -> Plan:
    """Voluntary departure within the period, or at its end absconded (MOB) or removed."""
    kind = rng.choices(
        [Oc.OUTCOME_DEPARTED_VOLUNTARY, Oc.OUTCOME_DEPARTED_FORCED, Oc.OUTCOME_ABSCONDED],
        [cfg.voluntary_weight, cfg.forced_weight, cfg.absconded_weight],
    )[0]
    if kind == Oc.OUTCOME_DEPARTED_VOLUNTARY and period_days > 0:
        return Plan(kind, rng.uniform(0.5, period_days) * 0.98)
    if kind == Oc.OUTCOME_ABSCONDED:
        return Plan(kind, period_days)
    return _forced(rng, cfg, period_days, rng.random() < cfg.detention_share)


def _forced(rng: random.Random, cfg: ReturnsSettings, after: float, detention: bool) -> Plan:
    if rng.random() < cfg.not_removable_share:
        return Plan(Oc.OUTCOME_NOT_REMOVABLE, after, detention, cfg.removal_max_days)
    return Plan(Oc.OUTCOME_DEPARTED_FORCED, after, detention, rng.uniform(2, cfg.removal_max_days))


def plan_border(
    rng: random.Random, cfg: ReturnsSettings, departure_days: float, max_days: float
) -> Plan:
    """The return border procedure, from border detention: voluntary departure within
    `departure_days`, else removal before `max_days` or release as not removable."""
    kind = rng.choices(
        [Oc.OUTCOME_DEPARTED_VOLUNTARY, Oc.OUTCOME_DEPARTED_FORCED],
        [cfg.voluntary_weight, cfg.forced_weight + cfg.absconded_weight],
    )[0]
    if kind == Oc.OUTCOME_DEPARTED_VOLUNTARY:
        return Plan(kind, rng.uniform(0.5, departure_days) * 0.98)
    left = max_days - departure_days
    if rng.random() < cfg.not_removable_share:
        return Plan(Oc.OUTCOME_NOT_REMOVABLE, departure_days, False, left)
    return Plan(Oc.OUTCOME_DEPARTED_FORCED, departure_days, False, rng.uniform(1, left * 0.95))


def plan_transfer(rng: random.Random, cfg: ReturnsSettings, days_left: float) -> Plan:
    """A Dublin transfer: carried out, absconded before it, or not by the deadline."""
    draw = rng.random()
    soon = max(min(60.0, days_left * 0.9), 1.0)
    if draw < cfg.transfer_share:
        return Plan(Oc.OUTCOME_TRANSFERRED, rng.uniform(min(7.0, soon), soon))
    if draw < cfg.transfer_share + cfg.transfer_absconded_share:
        return Plan(Oc.OUTCOME_ABSCONDED, rng.uniform(1.0, soon))
    return Plan(EXPIRED, days_left)


def planted(plan: Plan, case: PlantedCase | None, cfg: ReturnsSettings) -> Plan:
    """A test team's planted outcome replaces the draw (keeping its timing if none given)."""
    if case is None:
        return plan
    outcome = EXPIRED if case.outcome == "TRANSFER_EXPIRED" else Oc.Value(f"OUTCOME_{case.outcome}")
    removal = plan.removal_days or cfg.removal_max_days / 2
    return replace(
        plan,
        outcome=outcome,
        after_days=plan.after_days if case.after_days is None else case.after_days,
        detention=plan.detention if case.detention is None else case.detention,
        removal_days=removal if outcome in REMOVALS else 0.0,
    )


REMOVALS = frozenset({Oc.OUTCOME_DEPARTED_FORCED, Oc.OUTCOME_NOT_REMOVABLE})


def entry_ban(outcome: Outcome.ValueType, period_days: float) -> bool:
    """Return Directive Art. 11(1): an entry ban when no period for voluntary departure
    was granted, or the obligation to return was not complied with."""
    not_complied = outcome in (Oc.OUTCOME_DEPARTED_FORCED, Oc.OUTCOME_ABSCONDED)
    return period_days <= 0 or not_complied


def detention_free(occupancy: int, capacity: int) -> bool:
    """A detention place can be taken: never above capacity."""
    return occupancy < capacity


# What DTenV records in the eu-LISA systems through the Europaloket, and where.
EU_SYSTEM_OF: dict[CheckOperation.ValueType, EuSystem.ValueType] = {
    CheckOperation.CHECK_OPERATION_CREATE_RETURN_ALERT: EuSystem.EU_SYSTEM_SIS,
    CheckOperation.CHECK_OPERATION_RECORD_DEPARTURE_PERIOD_END: EuSystem.EU_SYSTEM_SIS,
    CheckOperation.CHECK_OPERATION_RECORD_EXIT: EuSystem.EU_SYSTEM_EES,
    CheckOperation.CHECK_OPERATION_DELETE_RETURN_ALERT: EuSystem.EU_SYSTEM_SIS,
}
# A write the gateway answered UNAVAILABLE is asked again, at most this many times.
EU_ATTEMPTS = 5
# The partner DTenV's requests to the Europaloket are made as, and its answers are for.
PARTNER = Partner.PARTNER_DTENV
PERIOD_END = CheckOperation.CHECK_OPERATION_RECORD_DEPARTURE_PERIOD_END
EXIT = CheckOperation.CHECK_OPERATION_RECORD_EXIT
DELETE_ALERT = CheckOperation.CHECK_OPERATION_DELETE_RETURN_ALERT


def period_end_records(outcome: Outcome.ValueType) -> list[CheckOperation.ValueType]:
    """The period ended without a voluntary departure: SIS says so (the alert stays,
    now to be enforced)."""
    return [] if outcome == Oc.OUTCOME_DEPARTED_VOLUNTARY else [PERIOD_END]


def departure_records(outcome: Outcome.ValueType) -> list[CheckOperation.ValueType]:
    """A departure from the Schengen area is an EES exit, and the SIS return alert is
    deleted; someone who absconded or cannot be removed stays under the alert."""
    if outcome in (Oc.OUTCOME_DEPARTED_VOLUNTARY, Oc.OUTCOME_DEPARTED_FORCED):
        return [EXIT, DELETE_ALERT]
    return []


def eu_request(
    operation: CheckOperation.ValueType,
    v_nummer: str,
    request_id: str,
    occurred_at: datetime,
    requested_at: datetime,
) -> CheckRequest:
    return CheckRequest(
        request_id=request_id,
        v_nummer=v_nummer,
        partner=PARTNER,
        purpose=CheckPurpose.CHECK_PURPOSE_RETURN,
        systems=[EU_SYSTEM_OF[operation]],
        operation=operation,
        occurred_at=timestamp(occurred_at),
        requested_at=timestamp(requested_at),
    )


def retry_eu_request(status: CheckStatus.ValueType, attempt: int) -> timedelta | None:
    """When to ask again after this answer: only an unavailable system is worth another
    try, after 1, 2, 4, ... simulated days; None when done or out of attempts."""
    if status != CheckStatus.CHECK_STATUS_UNAVAILABLE or attempt >= EU_ATTEMPTS:
        return None
    return timedelta(days=2 ** (attempt - 1))


# Member states with relocation pledges in the solidarity pool (simulation parameter).
PLEDGING_STATES = ("DE", "FR", "PT", "IE", "LU", "BE")


def relocation_destination(rng: random.Random) -> str:
    return rng.choice(PLEDGING_STATES)

"""What the IND reads from a screening: the applicant as routing and Dublin see them.
The rules themselves live in `routing`, `dublin`, `decisions`, `periods` and `law`."""

from __future__ import annotations

from datetime import datetime

from asylum.dublin import Evidence
from asylum.rates import rate_table
from asylum.routing import Applicant
from chainkit.clock import from_timestamp
from chainkit.people import is_minor_age
from migratieketen.v1.common_pb2 import ArrivalSetting
from migratieketen.v1.screening_pb2 import HealthResult, ScreeningCompleted

# Needs that say who the person is, not what they need: not special needs for routing.
_STATUS_NEEDS = frozenset({"minor", "unaccompanied_minor", "family_with_children"})


def made_at(screened: ScreeningCompleted) -> datetime:
    """When the application was made: as reported, else when screening started."""
    if screened.indicators.HasField("application_made_at"):
        return from_timestamp(screened.indicators.application_made_at)
    return from_timestamp(screened.started_at)


def applicant(screened: ScreeningCompleted, *, subsequent: bool = False) -> Applicant:
    ind = screened.indicators
    return Applicant(
        at_border=screened.setting == ArrivalSetting.ARRIVAL_SETTING_EXTERNAL_BORDER,
        made_at=made_at(screened),
        recognition_rate=rate_table().rate(list(screened.form.nationalities)),
        security=ind.security_flag,
        misleading=ind.misleading_identity,
        minor=is_minor_age(screened.claimed_age),
        unaccompanied_minor=ind.unaccompanied_minor,
        family_with_children=ind.family_with_children,
        special_needs=tuple(n for n in screened.form.special_needs if n not in _STATUS_NEEDS),
        medical=screened.form.health == HealthResult.HEALTH_RESULT_NEEDS_CARE,
        subsequent=subsequent,
    )


def evidence(screened: ScreeningCompleted) -> Evidence:
    ind = screened.indicators
    return Evidence(
        eurodac_member_state=ind.eurodac_member_state if ind.eurodac_hit else "",
        eurodac_category=ind.eurodac_category,
        vis_member_state=ind.vis_member_state if ind.vis_hit else "",
        family_member_states=tuple(screened.form.family_member_states),
        security=ind.security_flag,
    )

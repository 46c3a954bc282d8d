"""Time limits and thresholds of the EU Pact and the Dutch chain, as configuration.

Defaults follow ../shared/domain.md §10; every value can be overridden with an
environment variable MK_PACT_<NAME> (values marked [M] there are beliefs, not law).
The IND's periods are calendar periods (Regulation 1182/71) in `asylum.law`; the
recognition rates are a dated data file (`asylum.rates`).
"""

from __future__ import annotations

from functools import cache
from typing import Literal

import pycountry
from pydantic_settings import BaseSettings, SettingsConfigDict

from migratieketen.v1.asylum_pb2 import DecisionOutcome


class PactLimits(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MK_PACT_", extra="ignore")

    screening_border_days: float = 7
    screening_border_held_days: float = 4  # when already held > 72 h at the border
    screening_inland_days: float = 3
    held_hours_threshold: int = 72
    eurodac_min_age: int = 6
    dublin_transfer_days: float = 183  # 6 months
    recognition_rate_threshold: float = 0.20
    # In a crisis the threshold may be lowered, never below this (Reg. 2024/1359).
    crisis_min_recognition_rate_threshold: float = 0.05
    departure_period_days: int = 28  # reception ends 4 weeks after rejection
    voluntary_departure_days: int = 15  # return border procedure
    # The Netherlands in the solidarity pool (Regulation 2024/1351 Part IV): as a
    # "contributing" state it relocates nobody out, so a candidate stays in the national
    # procedure; as a "benefiting" state screening refers candidates to relocation.
    relocation_direction: Literal["contributing", "benefiting"] = "contributing"
    # Return border procedure at most 12 weeks (Regulation 2024/1349 Art. 4(2)).
    return_border_procedure_days: float = 84


@cache
def limits() -> PactLimits:
    return PactLimits()


GRANTED = frozenset(
    {
        DecisionOutcome.DECISION_OUTCOME_GRANTED_REFUGEE,
        DecisionOutcome.DECISION_OUTCOME_GRANTED_SUBSIDIARY,
    }
)


def is_granted(outcome: DecisionOutcome.ValueType) -> bool:
    """Protection granted: refugee status or subsidiary protection (two-status system)."""
    return outcome in GRANTED


def relocates(direction: str | None = None) -> bool:
    """Relocation out of the Netherlands only when the Netherlands is a benefiting state."""
    return (direction or limits().relocation_direction) == "benefiting"


def is_nationality(code: str) -> bool:
    """An ISO 3166-1 alpha-3 country code (the maintained list of pycountry)."""
    return len(code) == 3 and code.isupper() and pycountry.countries.get(alpha_3=code) is not None

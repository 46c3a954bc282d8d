"""Time limits and thresholds of the EU Pact and the Dutch chain, as configuration.

Defaults follow ../shared/domain.md §10; every value can be overridden with an
environment variable MK_PACT_<NAME> (values marked [M] there are beliefs, not law).
"""

from __future__ import annotations

from functools import cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from migratieketen.v1.asylum_pb2 import DecisionOutcome


class PactLimits(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MK_PACT_", extra="ignore")

    screening_border_days: float = 7
    screening_border_held_days: float = 4  # when already held > 72 h at the border
    screening_inland_days: float = 3
    held_hours_threshold: int = 72
    eurodac_min_age: int = 6
    registration_days: float = 5
    decision_inadmissible_days: float = 61  # 2 months
    decision_accelerated_days: float = 92  # 3 months
    decision_regular_days: float = 183  # 6 months
    border_procedure_days: float = 84  # 12 weeks
    dublin_transfer_decision_days: float = 14
    dublin_transfer_days: float = 183  # 6 months
    recognition_rate_threshold: float = 0.20
    departure_period_days: int = 28  # reception ends 4 weeks after rejection
    voluntary_departure_days: int = 15  # return border procedure
    # EU-wide recognition rates per nationality (ISO alpha-3): illustrative defaults.
    recognition_rates: dict[str, float] = Field(
        default_factory=lambda: {
            "SYR": 0.90,
            "ERI": 0.85,
            "YEM": 0.70,
            "AFG": 0.60,
            "SOM": 0.60,
            "IRQ": 0.30,
            "TUR": 0.25,
            "NGA": 0.12,
            "COL": 0.10,
            "GEO": 0.05,
            "MAR": 0.05,
            "DZA": 0.04,
            "TUN": 0.03,
        }
    )
    default_recognition_rate: float = 0.40

    def recognition_rate(self, nationalities: list[str]) -> float:
        """The highest rate among the person's nationalities (the most protective)."""
        rates = [
            self.recognition_rates.get(n, self.default_recognition_rate) for n in nationalities
        ]
        return max(rates, default=self.default_recognition_rate)


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

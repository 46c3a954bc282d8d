"""The IND's settings (prefix MK_ASYLUM_): capacity, handling speed, penalties, data files."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AsylumSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MK_ASYLUM_", extra="ignore")

    # Applications made from this instant follow the Pact; earlier ones the old regime.
    pact_applies_from: datetime = datetime(2026, 6, 12, tzinfo=UTC)
    # Border procedures at once (shared with DTenV's return border procedure, seed 003).
    border_capacity: int = Field(default=211, ge=0)
    # Places below the capacity kept for the priority groups (see routing.admit):
    # the last `family_reserve` places only for minors and their families, the
    # `priority_reserve` before those also for a return perspective or a danger.
    family_reserve: int = Field(default=10, ge=0)
    priority_reserve: int = Field(default=20, ge=0)
    # Decisions the IND takes per simulated day, per procedure (BORDER, ACCELERATED,
    # REGULAR, DUBLIN); beyond it a backlog forms.
    decisions_per_day: dict[str, int] = Field(
        default_factory=lambda: {"BORDER": 40, "ACCELERATED": 40, "REGULAR": 40, "DUBLIN": 40}
    )
    # Simulated working time of one step (days), before capacity.
    registration_days: float = Field(default=1, ge=0)
    lodging_days: float = Field(default=5, ge=0)
    handling_days: dict[str, float] = Field(
        default_factory=lambda: {
            "BORDER": 21.0,
            "ACCELERATED": 35.0,
            "REGULAR": 60.0,
            "DUBLIN": 3.0,
        }
    )
    dublin_step_days: float = Field(default=3, ge=0)  # hearing, request, transfer decision
    member_state_reply_days: float = Field(default=5, ge=0)  # when another state answers
    # Shares of the seeded simulation (a planted fixture wins).
    dublin_accept_share: float = Field(default=0.7, ge=0, le=1)
    dublin_reject_share: float = Field(default=0.15, ge=0, le=1)  # the rest is silence
    appeal_share: float = Field(default=0.5, ge=0, le=1)
    appeal_upheld_share: float = Field(default=0.15, ge=0, le=1)
    appeal_days: float = Field(default=14, ge=0)  # court time to the ruling
    # Old regime: the decision limit can be extended (months; 0 = no extension).
    old_regime_extension_months: int = Field(default=0, ge=0, le=9)
    # Awb 4:17 penalty for a late decision (EUR per day, by stretch of 14 days; maximum).
    penalty_per_day: tuple[int, int, int] = (23, 35, 45)
    penalty_stretch_days: int = 14
    penalty_max: int = 1442
    # Data files operators and test teams replace.
    recognition_rates_file: Path | None = None
    fixtures: Path | None = None


@cache
def asylum_settings() -> AsylumSettings:
    return AsylumSettings()

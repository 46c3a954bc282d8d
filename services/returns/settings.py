"""Settings of DTenV's return work, from MK_RETURNS_* variables."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ReturnsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MK_RETURNS_", extra="ignore")

    # How departures end, as weights: DTenV's 2024 figures (domain.md §7): 3,240
    # independent departures, 2,750 forced, 5,740 left for an unknown destination.
    voluntary_weight: float = Field(default=3240, ge=0)
    forced_weight: float = Field(default=2750, ge=0)
    absconded_weight: float = Field(default=5740, ge=0)
    # Of the forced returns: the share that proves not removable (released), and the
    # share that needs detention (DJI) as the last resort.
    not_removable_share: float = Field(default=0.10, ge=0, le=1)
    detention_share: float = Field(default=0.50, ge=0, le=1)
    # Detention places (DJI) DTenV may use at once: never exceeded.
    detention_capacity: int = Field(default=20, ge=0)
    # Longest removal effort in simulated days (in detention or under escort).
    removal_max_days: float = Field(default=28, gt=2)
    # Dublin transfers: the share carried out and the share absconding before; the
    # rest do not happen by the deadline (the Netherlands becomes responsible; the IND
    # continues the case). Default: none expire, so a demo needs no 6-month wait.
    transfer_share: float = Field(default=0.85, ge=0, le=1)
    transfer_absconded_share: float = Field(default=0.15, ge=0, le=1)
    # AMMR: the transfer deadline runs to 18 months when the person absconds.
    absconded_transfer_days: float = Field(default=548, gt=0)
    # Planted outcomes for test teams (see README: [[case]] entries).
    fixtures: Path | None = None


@cache
def returns_settings() -> ReturnsSettings:
    return ReturnsSettings()

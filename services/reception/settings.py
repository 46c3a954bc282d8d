"""Settings of COA's reception, from MK_RECEPTION_* variables."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

HERE = Path(__file__).parent


class ReceptionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MK_RECEPTION_", extra="ignore")

    # The location table and the municipality targets (see the files for the format).
    locations_file: Path = HERE / "locations.toml"
    municipalities_file: Path = HERE / "municipalities.toml"
    # Places per location = table capacity x scale (at least 1), except `fixed` ones.
    capacity_scale: float = Field(default=0.01, gt=0)
    # COL Ter Apel's overnight cap (before the scale); never raised.
    col_overnight_cap: int = Field(default=2000, ge=1)
    # First ladder step: raise occupancy of raisable regular locations by this share.
    raise_share: float = Field(default=0.10, ge=0)
    # Down one step when occupancy is at most this share of the lower step's places
    # (and nobody would be above a location's capacity there).
    step_down_share: float = Field(default=0.85, gt=0, le=1)
    # Reporting duty (meldplicht), in simulated days: weekly; daily in family locations.
    reporting_days: float = Field(default=7, gt=0)
    family_reporting_days: float = Field(default=1, gt=0)
    # Missed reports in a row that mean the person left for an unknown destination (MOB).
    missed_reports_limit: int = Field(default=3, ge=1)
    # Simulation: chance to miss one report; share of residents who abscond (MOB).
    miss_share: float = Field(default=0.02, ge=0, le=1)
    mob_share: float = Field(default=0.03, ge=0, le=1)
    # Days in process reception (rest and preparation, general procedure) before a
    # regular-procedure applicant moves to an azc.
    process_reception_days: float = Field(default=14, ge=0)
    # Rejected applicants who cooperate with departure move to a VBL.
    vbl_share: float = Field(default=0.10, ge=0, le=1)
    # Planted behaviour for test teams (see README: [[person]] entries).
    fixtures: Path | None = None


@cache
def reception_settings() -> ReceptionSettings:
    return ReceptionSettings()

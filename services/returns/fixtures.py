"""Outcomes a test team plants in DTenV's cases (MK_RETURNS_FIXTURES=plants.toml)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chainkit.fixtures import FixtureError as FixtureError
from chainkit.fixtures import load_model

PlantedOutcome = Literal[
    "DEPARTED_VOLUNTARY",
    "DEPARTED_FORCED",
    "ABSCONDED",
    "NOT_REMOVABLE",
    "TRANSFERRED",
    "TRANSFER_EXPIRED",
]


class PlantedCase(BaseModel):
    """Found by partner reference (the arrival report's) or V-nummer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    partner_reference: str | None = None
    v_nummer: str | None = None
    outcome: PlantedOutcome
    # When it happens, in simulated days after the case opens (default: drawn).
    after_days: float | None = Field(default=None, ge=0)
    detention: bool | None = None  # a forced return from detention

    @model_validator(mode="after")
    def _has_a_key(self) -> PlantedCase:
        if not (self.partner_reference or self.v_nummer):
            raise ValueError("give partner_reference or v_nummer")
        return self


class ReturnsFixtures(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    case: list[PlantedCase] = []

    def find(self, v_nummer: str, partner_reference: str) -> PlantedCase | None:
        for c in self.case:
            if (c.v_nummer and c.v_nummer == v_nummer) or (
                c.partner_reference and c.partner_reference == partner_reference
            ):
                return c
        return None


def load_fixtures(path: Path | None) -> ReturnsFixtures:
    return ReturnsFixtures() if path is None else load_model(path, ReturnsFixtures)

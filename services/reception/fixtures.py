"""What a test team plants in reception (MK_RECEPTION_FIXTURES=plants.toml)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from chainkit.fixtures import FixtureError as FixtureError
from chainkit.fixtures import load_model


class PlantedPerson(BaseModel):
    """Found by partner reference (the arrival report's) or V-nummer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    partner_reference: str | None = None
    v_nummer: str | None = None
    # Misses every report from then on, so reception ends in MOB.
    misses_reports: Literal["arrival", "decision"] | None = None
    # After a rejection: cooperates with departure (moves to a VBL) or not.
    cooperates: bool | None = None

    @model_validator(mode="after")
    def _has_a_key(self) -> PlantedPerson:
        if not (self.partner_reference or self.v_nummer):
            raise ValueError("give partner_reference or v_nummer")
        return self


class ReceptionFixtures(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    person: list[PlantedPerson] = []

    def find(self, v_nummer: str, partner_reference: str) -> PlantedPerson | None:
        for p in self.person:
            if (p.v_nummer and p.v_nummer == v_nummer) or (
                p.partner_reference and p.partner_reference == partner_reference
            ):
                return p
        return None


def load_fixtures(path: Path | None) -> ReceptionFixtures:
    return ReceptionFixtures() if path is None else load_model(path, ReceptionFixtures)

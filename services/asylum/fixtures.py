"""Answers and decisions that test teams plant for the IND, read from TOML or JSON
(MK_ASYLUM_FIXTURES; the same style as the Europaloket's MK_EUROPALOKET_FIXTURES)."""

from __future__ import annotations

import json
import tomllib
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from asylum.settings import asylum_settings
from chainkit.people import is_v_nummer

AnswerName = Literal["ACCEPT", "REJECT", "SILENCE"]
OutcomeName = Literal[
    "GRANTED_REFUGEE",
    "GRANTED_SUBSIDIARY",
    "REJECTED_UNFOUNDED",
    "REJECTED_MANIFESTLY_UNFOUNDED",
    "INADMISSIBLE",
]
AppealName = Literal["NONE", "DISMISSED", "UPHELD"]


class FixtureError(ValueError):
    """A fixture file that cannot be used; the message names the file, entry and field."""


class Planted(BaseModel):
    """Found by the V-nummer or by the partner's reference of the arrival report."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v_nummer: str | None = None
    partner_reference: str | None = None

    @field_validator("v_nummer")
    @classmethod
    def _ten_digits(cls, value: str | None) -> str | None:
        if value is not None and not is_v_nummer(value):
            raise ValueError("a V-nummer is exactly 10 digits")
        return value

    @model_validator(mode="after")
    def _has_a_key(self) -> Planted:
        if not (self.v_nummer or self.partner_reference):
            raise ValueError("give v_nummer or partner_reference")
        return self

    def matches(self, v_nummer: str, partner_reference: str) -> bool:
        return bool(
            (self.v_nummer and self.v_nummer == v_nummer)
            or (self.partner_reference and self.partner_reference == partner_reference)
        )


class PlantedDublin(Planted):
    """The other member state's answer; `ind_late` makes the IND miss its own deadline."""

    answer: AnswerName = "ACCEPT"
    ind_late: bool = False


class PlantedDecision(Planted):
    """The decision on the merits and the appeal; `late_days` past the limit."""

    outcome: OutcomeName
    appeal: AppealName | None = None  # None: seeded
    late_days: int = 0

    @field_validator("late_days")
    @classmethod
    def _not_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError("late_days cannot be negative")
        return value


class Fixtures(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    dublin: list[PlantedDublin] = []
    decision: list[PlantedDecision] = []

    def dublin_for(self, v_nummer: str, partner_reference: str) -> PlantedDublin | None:
        return next((d for d in self.dublin if d.matches(v_nummer, partner_reference)), None)

    def decision_for(self, v_nummer: str, partner_reference: str) -> PlantedDecision | None:
        return next((d for d in self.decision if d.matches(v_nummer, partner_reference)), None)


_ENTRIES: dict[str, type[Planted]] = {"dublin": PlantedDublin, "decision": PlantedDecision}


def parse_fixtures(text: str, kind: Literal["toml", "json"], name: str = "fixtures") -> Fixtures:
    try:
        raw: Any = tomllib.loads(text) if kind == "toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        raise FixtureError(f"{name}: not valid {kind.upper()}: {error}") from None
    try:
        return Fixtures.model_validate(raw)
    except ValidationError as error:
        raise FixtureError(f"{name}: " + "; ".join(_describe(e) for e in error.errors())) from None


def load_fixtures(path: Path) -> Fixtures:
    if path.suffix not in (".toml", ".json"):
        raise FixtureError(f"{path}: a fixture file ends in .toml or .json")
    try:
        text = path.read_text("utf-8")
    except OSError as error:
        raise FixtureError(f"{path}: cannot be read ({error.strerror})") from None
    return parse_fixtures(text, "toml" if path.suffix == ".toml" else "json", str(path))


@cache
def fixtures() -> Fixtures:
    path = asylum_settings().fixtures
    return load_fixtures(path) if path is not None else Fixtures()


def _describe(error: Any) -> str:
    loc = error["loc"]
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    where = where.lstrip(".") or "file"
    if error["type"] == "extra_forbidden":
        if len(loc) == 1:
            return f"{where}: unknown section (known: {', '.join(Fixtures.model_fields)})"
        entry = _ENTRIES.get(str(loc[0]))
        known = ", ".join(entry.model_fields) if entry else ""
        return f"{where}: unknown field (known: {known})"
    return f"{where}: {str(error['msg']).removeprefix('Value error, ')}"

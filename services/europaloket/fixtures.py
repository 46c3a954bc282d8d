"""Reference records that test teams plant in the simulated systems, read from TOML or JSON."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from chainkit.people import is_v_nummer

# Member states and Schengen associated countries taking part in the eu-LISA systems.
MEMBER_STATES = frozenset(
    {
        "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
        "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
        "CH", "IS", "LI", "NO",
    }
)  # fmt: skip

EurodacCategoryName = Literal[
    "APPLICANT",
    "IRREGULAR_BORDER_CROSSER",
    "ILLEGALLY_STAYING",
    "SEARCH_AND_RESCUE",
    "RESETTLEMENT",
    "TEMPORARY_PROTECTION",
]
SisCategory = Literal["RETURN", "REFUSAL_OF_ENTRY", "ARREST", "MISSING_PERSON", "DISCREET_CHECK"]
MidColour = Literal["YELLOW", "WHITE", "GREEN", "RED"]


class FixtureError(ValueError):
    """A fixture file that cannot be used; the message names the file, entry and field."""


def _member_state(value: str) -> str:
    if value not in MEMBER_STATES:
        raise ValueError(f"{value!r} is not a member state code (ISO 3166-1 alpha-2, e.g. 'IT')")
    return value


MemberState = Annotated[str, AfterValidator(_member_state)]


class Planted(BaseModel):
    """A planted record is found by any of the keys it gives."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    biometric_hash: str | None = None
    v_nummer: str | None = None
    document_number: str | None = None

    @field_validator("v_nummer")
    @classmethod
    def _ten_digits(cls, value: str | None) -> str | None:
        if value is not None and not is_v_nummer(value):
            raise ValueError("a V-nummer is exactly 10 digits")
        return value

    @model_validator(mode="after")
    def _has_a_key(self) -> Planted:
        if not (self.biometric_hash or self.v_nummer or self.document_number):
            raise ValueError("give biometric_hash, v_nummer or document_number")
        return self

    def matches(self, v_nummer: str, biometric_hash: str, documents: tuple[str, ...]) -> bool:
        return bool(
            (self.biometric_hash and self.biometric_hash == biometric_hash)
            or (self.v_nummer and self.v_nummer == v_nummer)
            or (self.document_number and self.document_number in documents)
        )


class EurodacRecord(Planted):
    member_state: MemberState
    category: EurodacCategoryName
    reference: str | None = None  # generated when absent
    verification: Literal["CONFIRMED", "REJECTED"] = "CONFIRMED"

    @field_validator("member_state")
    @classmethod
    def _other_state(cls, value: str) -> str:
        if value == "NL":
            raise ValueError("a Eurodac hit is a record of another member state, not NL")
        return value

    @model_validator(mode="after")
    def _found_by_fingerprints(self) -> EurodacRecord:
        if not self.biometric_hash or self.v_nummer or self.document_number:
            raise ValueError("Eurodac finds records by fingerprints only: give biometric_hash")
        if self.reference is not None and not self.reference.startswith(self.member_state):
            raise ValueError(f"the reference must start with {self.member_state}")
        return self


class SisAlert(Planted):
    member_state: MemberState
    category: SisCategory
    action: str | None = None  # the category's usual action when absent
    reference: str | None = None


class VisRecord(Planted):
    member_state: MemberState
    record: Literal["ISSUED", "REFUSED", "REVOKED"]
    security_ground: bool = False


class EesRecord(Planted):
    member_state: MemberState
    record: Literal["ENTRY", "EXIT", "REFUSED_ENTRY"]
    security_ground: bool = False


class EtiasRecord(Planted):
    member_state: MemberState
    record: Literal["AUTHORISED", "REFUSED", "REVOKED", "WATCHLIST"]
    security_ground: bool = False


class EcrisRecord(Planted):
    member_states: list[MemberState] = Field(min_length=1)
    # Terrorism or serious crime: the only convictions screening gets to see.
    serious: bool = True


class MidLink(Planted):
    colour: MidColour
    reference: str | None = None


class Fixtures(BaseModel):
    """Everything one fixture file plants, per system."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    eurodac: list[EurodacRecord] = []
    sis: list[SisAlert] = []
    vis: list[VisRecord] = []
    ees: list[EesRecord] = []
    etias: list[EtiasRecord] = []
    ecris_tcn: list[EcrisRecord] = []
    mid: list[MidLink] = []


_ENTRIES: dict[str, type[Planted]] = {
    "eurodac": EurodacRecord,
    "sis": SisAlert,
    "vis": VisRecord,
    "ees": EesRecord,
    "etias": EtiasRecord,
    "ecris_tcn": EcrisRecord,
    "mid": MidLink,
}


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
    kind: Literal["toml", "json"]
    if path.suffix == ".toml":
        kind = "toml"
    elif path.suffix == ".json":
        kind = "json"
    else:
        raise FixtureError(f"{path}: a fixture file ends in .toml or .json")
    try:
        text = path.read_text("utf-8")
    except OSError as error:
        raise FixtureError(f"{path}: cannot be read ({error.strerror})") from None
    return parse_fixtures(text, kind, str(path))


def _describe(error: Any) -> str:
    loc = error["loc"]
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    where = where.lstrip(".") or "file"
    if error["type"] == "extra_forbidden":
        if len(loc) == 1:
            known = ", ".join(Fixtures.model_fields)
            return f"{where}: unknown section (known: {known})"
        entry = _ENTRIES.get(str(loc[0]))
        known = ", ".join(entry.model_fields) if entry else ""
        return f"{where}: unknown field (known: {known})"
    return f"{where}: {str(error['msg']).removeprefix('Value error, ')}"

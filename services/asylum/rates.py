"""The EU-wide recognition rates: a dated, sourced table read from a data file."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from asylum.settings import asylum_settings
from chainkit.pact import is_nationality


class RateTableError(ValueError):
    """A rate table that cannot be used; the message names the file and the field."""


class _RateFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: date
    source: str = Field(min_length=1)
    default_rate: float = Field(ge=0, le=1)
    rates: dict[str, float]

    @field_validator("rates")
    @classmethod
    def _codes_and_shares(cls, value: dict[str, float]) -> dict[str, float]:
        for code, rate in value.items():
            if not is_nationality(code):
                raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-3 code")
            if not 0 <= rate <= 1:
                raise ValueError(f"{code}: a rate is a share between 0 and 1")
        return value


@dataclass(frozen=True)
class RateTable:
    as_of: date
    source: str
    default_rate: float
    rates: dict[str, float]

    def rate(self, nationalities: list[str]) -> float:
        """The highest rate among the person's nationalities (the most protective)."""
        found = [self.rates.get(n, self.default_rate) for n in nationalities]
        return max(found, default=self.default_rate)


def parse_rates(text: str, name: str) -> RateTable:
    try:
        raw = _RateFile.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as error:
        raise RateTableError(f"{name}: not valid TOML: {error}") from None
    except ValidationError as error:
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'file'}: "
            f"{str(e['msg']).removeprefix('Value error, ')}"
            for e in error.errors()
        )
        raise RateTableError(f"{name}: {detail}") from None
    return RateTable(raw.as_of, raw.source, raw.default_rate, raw.rates)


@cache
def rate_table() -> RateTable:
    """The operator's file (MK_ASYLUM_RECOGNITION_RATES_FILE) or the packaged one."""
    path: Path | None = asylum_settings().recognition_rates_file
    if path is None:
        text = resources.files("asylum").joinpath("recognition_rates.toml").read_text("utf-8")
        return parse_rates(text, "recognition_rates.toml")
    try:
        return parse_rates(path.read_text("utf-8"), str(path))
    except OSError as error:
        raise RateTableError(f"{path}: cannot be read ({error.strerror})") from None

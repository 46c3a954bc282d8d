"""Fixture files a test team plants (TOML or JSON), read into a service's pydantic model;
an unusable file is refused with a message naming the file, the entry and the field."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class FixtureError(ValueError):
    """A fixture file that cannot be used; the message names the file, entry and field."""


def load_model(path: Path, model: type[M]) -> M:
    if path.suffix not in (".toml", ".json"):
        raise FixtureError(f"{path}: a fixture file ends in .toml or .json")
    try:
        text = path.read_text("utf-8")
        raw: Any = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        raise FixtureError(
            f"{path}: cannot be read as {path.suffix[1:].upper()} ({error})"
        ) from None
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise FixtureError(f"{path}: {where}: {first['msg']}") from None

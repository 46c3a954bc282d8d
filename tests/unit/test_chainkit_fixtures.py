"""The kit's fixture loader: TOML or JSON into a model; errors name the file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from chainkit.fixtures import FixtureError, load_model


class Plants(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case: list[dict[str, int]] = []


def test_toml_and_json_give_the_same_model(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text("[[case]]\ndays = 3\n")
    (tmp_path / "p.json").write_text('{"case": [{"days": 3}]}')
    assert load_model(tmp_path / "p.toml", Plants) == load_model(tmp_path / "p.json", Plants)


def test_a_bad_file_names_the_file_and_field(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text('[[case]]\ndays = "three"\n')
    with pytest.raises(FixtureError, match=r"p\.toml: case\.0\.days"):
        load_model(tmp_path / "p.toml", Plants)
    (tmp_path / "p.yaml").write_text("case: []")
    with pytest.raises(FixtureError, match=r"ends in \.toml or \.json"):
        load_model(tmp_path / "p.yaml", Plants)
    with pytest.raises(FixtureError, match="cannot be read as TOML"):
        load_model(tmp_path / "missing.toml", Plants)

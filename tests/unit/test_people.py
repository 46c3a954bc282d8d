"""The shared rules about a person: the V-nummer format and minority, written once."""

from __future__ import annotations

import pytest

from chainkit.people import ADULT_AGE, is_minor_age, is_v_nummer


@pytest.mark.parametrize("value", ["2600000001", "0000000000"])
def test_ten_digits_are_a_v_nummer(value: str) -> None:
    assert is_v_nummer(value)


@pytest.mark.parametrize("value", ["", "260000000", "26000000011", "26000000A1", " 2600000001"])
def test_anything_else_is_not(value: str) -> None:
    assert not is_v_nummer(value)


def test_a_minor_is_under_18() -> None:
    assert ADULT_AGE == 18
    assert is_minor_age(17) and not is_minor_age(18)

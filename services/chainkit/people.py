"""The rules about a person that every service shares: the V-nummer handle and minority."""

from __future__ import annotations

import re

# The vreemdelingennummer is issued only by the BVV: exactly 10 digits. No public check-digit
# rule exists, so it is treated as opaque digits and checked at every boundary.
V_NUMMER_PATTERN = r"\d{10}"
_V_NUMMER = re.compile(V_NUMMER_PATTERN)
# A minor is a person under 18 (Regulations 2024/1348 and 2024/1356, Art. 2 definitions).
ADULT_AGE = 18


def is_v_nummer(value: str) -> bool:
    return _V_NUMMER.fullmatch(value) is not None


def is_minor_age(age: int) -> bool:
    return age < ADULT_AGE

"""CloudEvents ids and the kit's other ids: fresh time-ordered (version 7) UUIDs."""

from __future__ import annotations

import time
import uuid

import pytest

from chainkit.codec import new_event_id, new_uuid


def test_an_event_id_is_a_version_7_uuid_in_canonical_text() -> None:
    before = time.time_ns() // 1_000_000
    ids = [new_event_id() for _ in range(5_000)] + [new_uuid() for _ in range(5_000)]
    after = time.time_ns() // 1_000_000
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text  # lower case, hyphens where uuid puts them
        assert before <= parsed.int >> 80 <= after  # Unix time in milliseconds


def test_ids_made_later_sort_later(monkeypatch: pytest.MonkeyPatch) -> None:
    """What keeps the inbox's and the requests' indexes appending at their end."""
    now = [1_780_000_000_000_000_000]  # ns
    monkeypatch.setattr(time, "time_ns", lambda: now[0])
    first = [new_uuid() for _ in range(100)]
    now[0] += 1_000_000  # a millisecond later
    second = [new_uuid() for _ in range(100)]
    assert max(first) < min(second)
    assert {uuid.UUID(t).int >> 80 for t in first} == {1_780_000_000_000}
    # Within a millisecond the rest is random: 74 bits, never the same twice here.
    assert len({text[14:] for text in first + second}) == 200

"""CloudEvents ids: every event published carries a fresh random UUID."""

from __future__ import annotations

import uuid

from chainkit.codec import new_event_id


def test_an_event_id_is_a_random_uuid_in_canonical_text() -> None:
    ids = [new_event_id() for _ in range(5_000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text  # lower case, hyphens where uuid puts them

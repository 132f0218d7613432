"""Request and event ids: random version-4 UUIDs in their canonical text form, as uuid4() writes them."""

from __future__ import annotations

import uuid

from trailkeeper.capture.gateway import _new_id


def test_new_id_is_a_canonical_random_uuid() -> None:
    ids = {_new_id() for _ in range(2000)}
    assert len(ids) == 2000
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text  # lower-case hex, dashes at 8-4-4-4-12
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122

"""contracts.ids.uuid5 is uuid.uuid5, bit for bit."""

from __future__ import annotations

import uuid

import pytest

from contracts.ids import uuid5


@pytest.mark.parametrize("name", ["", "a", "vote-123", "é🎉", "x" * 300])
def test_equals_the_standard_library(name: str) -> None:
    for namespace in (uuid.NAMESPACE_URL, uuid.uuid4(), uuid.UUID(int=0)):
        made = uuid5(namespace.bytes, name)
        expected = uuid.uuid5(namespace, name)
        assert made == expected
        assert str(made) == str(expected) and made.version == 5 and hash(made) == hash(expected)
        assert uuid.UUID(str(made)) == made

"""Room codes: random, retried on a collision, matched case-insensitively."""

from __future__ import annotations

import re

import httpx
import pytest

from contracts.polls import ROOM_CODE_PATTERN
from poll_api import crud
from poll_api.errors import PollNotFound
from tests.poll_api.utils import create_poll


async def test_room_code_collision_is_retried(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await create_poll(client)
    while True:  # a code nobody has used in this session
        fresh = crud.new_room_code()
        if (await client.get(f"/api/polls/{fresh}")).status_code == 404:
            break
    codes = iter([first["room_code"], fresh])
    monkeypatch.setattr(crud, "new_room_code", lambda: next(codes))
    second = await create_poll(client)
    assert second["room_code"] == fresh
    assert second["id"] != first["id"]


def test_new_room_codes_are_room_codes() -> None:
    codes = {crud.new_room_code() for _ in range(200)}
    assert all(re.fullmatch(ROOM_CODE_PATTERN, code) for code in codes)
    assert len(codes) > 190  # random, not a sequence


@pytest.mark.parametrize(("raw", "code"), [("abcdef", "ABCDEF"), (" ABCDEF ", "ABCDEF")])
def test_room_codes_are_matched_case_insensitively(raw: str, code: str) -> None:
    assert crud.normalize_room_code(raw) == code


@pytest.mark.parametrize("raw", ["abc", "ABCDE0", "ABCDEFG", "!!!!!!", ""])
def test_anything_else_is_an_unknown_poll(raw: str) -> None:
    with pytest.raises(PollNotFound):
        crud.normalize_room_code(raw)

"""Attacks on the Q&A board (issue 13): markup, control characters, right-to-left overrides,
zero-width characters, 10 MB texts, floods of asks and of upvotes. Each gets a clear error,
nothing of it is stored, and another participant on the same board is unaffected."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from websockets.exceptions import ConnectionClosed

from tests.security.helpers import Client, create_poll, from_ip
from tests.support.isolation import Resources
from tests.support.procs import Stack
from tests.support.qa import ask, latest_board, qa_frames, upvote

pytestmark = pytest.mark.e2e

PAYLOADS = [
    ("<script>alert(1)</script>", "markup"),
    ('<img src=x onerror="alert(1)">', "markup"),
    ("nice <!-- hidden --> question", "markup"),
    ("null \x00 byte", "control"),
    ("two\nlines", "control"),
    ("escape \x1b[31m red", "control"),
    ("rtl \u202egnp.exe", "control"),
    ("isolate \u2066text\u2069", "control"),
    ("zero\u200bwidth", "control"),
    ("zero\u200dwidth joiner", "control"),
    ("word\u2060joiner", "control"),
    ("?", "2 to 300"),
    ("x" * 301, "2 to 300"),
]


async def _client(url: str, name: str, ip: str) -> Client:
    client = Client(url, name, from_ip(ip))
    await client.connect()
    await client.join()
    return client


async def _stored_texts(database_url: str, poll_id: str) -> list[str]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT text FROM qa_items WHERE poll_id = $1", UUID(poll_id))
    finally:
        await conn.close()
    return sorted(r["text"] for r in rows)


async def _score(database_url: str, item: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval("SELECT score FROM qa_items WHERE item_id = $1", UUID(item)))
    finally:
        await conn.close()


async def _replies(client: Client, start: int, count: int) -> list[dict[str, Any]]:
    while True:
        replies = [f for f in client.frames[start:] if f["type"] in {"asked", "upvoted", "error"}]
        if len(replies) >= count:
            return replies
        assert client.connected, f"closed ({client.close_code})"
        await asyncio.sleep(0.02)


async def test_bad_text_floods_and_huge_frames_are_refused(
    sec_stack: Stack, sec_resources: Resources
) -> None:
    poll = await create_poll(sec_stack["poll_api"].url, settings={"qa_enabled": True})
    url = f"ws://127.0.0.1:{sec_stack['ws_gateway'].port}/ws/{poll['room_code']}"
    db = sec_resources.database_url
    bystander = await _client(url, "bystander", "198.51.100.1")
    attacker = await _client(url, "attacker", "198.51.100.2")
    try:
        # Every bad text: a clear `invalid_frame` naming the rule, and the socket stays usable.
        for text, word in PAYLOADS:
            reply = await ask(attacker, text)
            assert reply["type"] == "error" and reply["code"] == "invalid_frame", (text, reply)
            assert word in reply["message"], (text, reply)
            assert text not in reply["message"]  # the input is never echoed
        assert attacker.connected

        # The bystander asks; it is on the board (not moderated) for everyone.
        mine = await ask(bystander, "Is the bystander heard?")
        assert mine["type"] == "asked" and mine["status"] == "approved", mine

        def board_has(client: Client, count: int) -> bool:
            board = latest_board(client)
            return board is not None and len(board["items"]) == count

        while not board_has(attacker, 1):
            await asyncio.sleep(0.05)

        # A flood of asks: the participant's rule (5 per minute) answers the rest rate_limited.
        start = len(attacker.frames)
        for n in range(8):
            await attacker.send({"type": "ask", "text": f"flood question {n}"})
        replies = await _replies(attacker, start, 8)
        accepted = [r for r in replies if r["type"] == "asked"]
        limited = [r for r in replies if r.get("code") == "rate_limited"]
        assert len(accepted) + len(limited) == 8, replies
        assert 1 <= len(accepted) <= 5 and limited, replies
        assert all(r["retry_after"] > 0 for r in limited)

        # A flood of upvotes on the bystander's item: the rule (30 per 10 s) holds the rest.
        # (another connection: the frames of one are limited to 50 a minute as well)
        item = mine["item"]
        voter = await _client(url, "voter", "198.51.100.4")
        start = len(voter.frames)
        for n in range(45):  # the join and these: under the connection's 50 frames a minute
            await voter.send({"type": "upvote", "item": item, "up": n % 2 == 0})
        replies = await _replies(voter, start, 45)
        upvoted = [r for r in replies if r["type"] == "upvoted"]
        assert upvoted and any(r.get("code") == "rate_limited" for r in replies), replies
        assert len(upvoted) < 45
        # What counts is the last acknowledged upvote; a refused one changed nothing.
        last_up = upvoted[-1]["up"]
        while await _score(db, item) != int(last_up):
            await asyncio.sleep(0.1)
        await voter.close()

        # One's own item, an unknown item: refused.
        own = await upvote(bystander, item)
        assert own["code"] == "own_item"
        unknown = await upvote(bystander, "00000000-0000-4000-8000-000000000000")
        assert unknown["code"] == "unknown_item"

        # A 10 MB text never reaches the parser: the socket is closed as too big (1009).
        huge = Client(url, "huge", from_ip("198.51.100.3"))
        await huge.connect()
        await huge.join()
        with contextlib.suppress(ConnectionClosed):  # the send may race the close
            await huge.send({"type": "ask", "text": "a" * 10_000_000})
        await huge.wait_closed(30)
        assert huge.close_code == 1009, huge.close_code

        # Nothing of the attacks is stored: the bystander's question and the accepted flood.
        expected = sorted(
            ["Is the bystander heard?", *(f"flood question {n}" for n in range(len(accepted)))]
        )
        while await _stored_texts(db, poll["id"]) != expected:
            await asyncio.sleep(0.1)

        # The bystander is unaffected: it still asks and sees the board change.
        later = await ask(bystander, "Still fine after all that?")
        assert later["type"] == "asked"
        total = 2 + len(accepted)
        while not board_has(bystander, total):
            await asyncio.sleep(0.05)
        seen = {i["text"] for f in qa_frames(bystander) for i in f["items"]}
        assert not seen & {text for text, _ in PAYLOADS}
    finally:
        await asyncio.gather(attacker.close(), bystander.close())


async def test_a_poll_without_a_board_refuses_asks(sec_stack: Stack) -> None:
    poll = await create_poll(sec_stack["poll_api"].url)
    url = f"ws://127.0.0.1:{sec_stack['ws_gateway'].port}/ws/{poll['room_code']}"
    person = await _client(url, "nobody", "198.51.100.9")
    try:
        reply = await ask(person, "Is anyone there?")
        assert reply["code"] == "qa_disabled", reply
        assert not qa_frames(person)
    finally:
        await person.close()

"""The Q&A board in tests: a participant's ask and upvote, the frames they saw, the stored truth."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from tests.support.participant import Participant

QA_REPLIES = {"asked", "upvoted", "error"}


async def qa_request(p: Participant, frame: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
    """Send an `ask` or `upvote` and wait for its reply (`asked`, `upvoted` or `error`).

    One request at a time per participant: the reply is the first such frame after the send
    that answers this request. A late reply to an earlier request that timed out (an `upvoted`
    for another item or direction, an `asked` for another `client_ask_id`) is passed over.
    """
    start = len(p.frames)
    await p.send(frame)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        for seen in p.frames[start:]:
            if seen.get("type") in QA_REPLIES and _answers(frame, seen):
                return seen
        if not p.connected:
            raise ConnectionError(f"closed ({p.close_code}) before the reply")
        if loop.time() > deadline:
            raise TimeoutError(f"no reply to {frame.get('type')}")
        await asyncio.sleep(0.01)


async def ask(p: Participant, text: str, **extra: Any) -> dict[str, Any]:
    return await qa_request(p, {"type": "ask", "text": text, **extra})


async def upvote(p: Participant, item: str, up: bool = True) -> dict[str, Any]:
    return await qa_request(p, {"type": "upvote", "item": item, "up": up})


def qa_frames(p: Participant) -> list[dict[str, Any]]:
    return [f for f in p.frames if f.get("type") == "qa"]


def latest_board(p: Participant) -> dict[str, Any] | None:
    frames = qa_frames(p)
    return max(frames, key=lambda f: f["version"]) if frames else None


def item_ids_seen(p: Participant) -> set[str]:
    """Every item id in any frame this participant received (whatever its type)."""
    found: set[str] = set()
    for frame in qa_frames(p):
        found |= {item["id"] for item in frame["items"]}
    return found


@dataclass
class QaTruth:
    items: dict[str, dict[str, Any]]  # item id -> {text, score, status, pinned, author}
    recount: dict[str, int]  # item id -> upvotes counted from qa_votes
    votes: dict[tuple[str, str], bool]  # (participant, item) -> up
    version: int


async def read_qa_truth(database_url: str, poll_id: str) -> QaTruth:
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        pid = UUID(poll_id)
        # One snapshot: items, votes and the version read together.
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            items = await conn.fetch(
                "SELECT item_id, text, score, status, pinned, participant_id FROM qa_items"
                " WHERE poll_id = $1",
                pid,
            )
            votes = await conn.fetch(
                "SELECT item_id, participant_id, up FROM qa_votes WHERE poll_id = $1", pid
            )
            version = await conn.fetchval("SELECT version FROM qa_boards WHERE poll_id = $1", pid)
    finally:
        await conn.close()
    recount: dict[str, int] = {str(r["item_id"]): 0 for r in items}
    for v in votes:
        if v["up"]:
            recount[str(v["item_id"])] = recount.get(str(v["item_id"]), 0) + 1
    return QaTruth(
        items={
            str(r["item_id"]): {
                "text": r["text"],
                "score": r["score"],
                "status": r["status"],
                "pinned": r["pinned"],
                "author": str(r["participant_id"]),
            }
            for r in items
        },
        recount=recount,
        votes={(str(v["participant_id"]), str(v["item_id"])): v["up"] for v in votes},
        version=int(version or 0),
    )


def expected_frame_items(truth: QaTruth) -> list[tuple[str, int, str, bool]]:
    """The visible items as a participant's board should list them (without the order's time
    component, which the stored rows give: compare as a set plus the pinned/score order)."""
    return sorted(
        (item_id, i["score"], i["status"], i["pinned"])
        for item_id, i in truth.items.items()
        if i["status"] in {"approved", "answered"}
    )


def _answers(request: dict[str, Any], reply: dict[str, Any]) -> bool:
    if reply.get("type") == "upvoted":
        return reply.get("item") == request.get("item") and reply.get("up") == request.get("up")
    if reply.get("type") == "asked" and "client_ask_id" in request:
        return reply.get("client_ask_id") in (None, request["client_ask_id"])
    return True
